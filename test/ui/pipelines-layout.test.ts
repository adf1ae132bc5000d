/**
 * The pipeline pages' pure parts: the layered layout of a graph
 * (ui/src/graph-layout.ts) and the YAML text of a pipeline (ui/src/yaml-text.ts):
 * numbers kept as written, a problem's path mapped to its line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crossings, layout, NODE_H, type GraphNode } from '../../ui/src/graph-layout.js';
import { jsonText, RawJson } from '../../ui/src/json-text.js';
import { parsePath, parsePipelineText, tasksOf, textAt, toYamlText } from '../../ui/src/yaml-text.js';

const overlaps = (l: ReturnType<typeof layout>) => {
  const seen = new Map<number, number[]>();
  for (const n of l.nodes) seen.set(n.x, [...(seen.get(n.x) ?? []), n.y]);
  for (const ys of seen.values()) {
    ys.sort((a, b) => a - b);
    for (let i = 1; i < ys.length; i++) if (ys[i]! - ys[i - 1]! < NODE_H) return true;
  }
  return false;
};

describe('graph layout', () => {
  it('puts each task in the column of its longest path from a root, every edge pointing right', () => {
    const l = layout([
      { key: 'a', deps: [] },
      { key: 'b', deps: ['a'] },
      { key: 'c', deps: ['b'] },
      { key: 'd', deps: ['a', 'c'] },
    ]);
    assert.deepEqual(l.nodes.map((n) => n.layer), [0, 1, 2, 3]);
    for (const e of l.edges) assert.ok(l.byKey.get(e.to)!.x > l.byKey.get(e.from)!.x);
    assert.equal(l.edges.length, 4);
  });

  it("keeps each column in its upstream tasks' order: two parallel chains do not cross", () => {
    // Listed in an order that would cross: b's child before a's.
    const nodes: GraphNode[] = [
      { key: 'a', deps: [] },
      { key: 'b', deps: [] },
      { key: 'c', deps: ['b'] },
      { key: 'd', deps: ['a'] },
      { key: 'e', deps: ['c'] },
      { key: 'f', deps: ['d'] },
    ];
    const l = layout(nodes);
    assert.equal(crossings(l), 0);
    assert.ok(l.byKey.get('d')!.y < l.byKey.get('c')!.y);
    assert.equal(overlaps(l), false);
    // A chain is drawn straight.
    const chain = layout([{ key: 'x', deps: [] }, { key: 'y', deps: ['x'] }, { key: 'z', deps: ['y'] }]);
    assert.deepEqual(new Set(chain.nodes.map((n) => n.y)).size, 1);
  });

  it('tolerates what an editor holds mid-typing: cycles, unknown and duplicate keys', () => {
    const l = layout([
      { key: 'a', deps: ['c'] },
      { key: 'b', deps: ['a', 'nope'] },
      { key: 'c', deps: ['b'] },
      { key: 'a', deps: [] },
    ]);
    assert.equal(l.nodes.length, 4);
    assert.ok(l.nodes.every((n) => Number.isFinite(n.x) && Number.isFinite(n.y)));
    assert.ok(!l.edges.some((e) => e.from === 'nope'));
  });

  it('lays out 1,000 tasks without overlaps', () => {
    const nodes = Array.from({ length: 1000 }, (_, i) => ({ key: `t${i}`, deps: i < 50 ? [] : [`t${i - 50}`, `t${i - 50 - (i % 7)}`].filter((k) => Number(k.slice(1)) >= 0) }));
    const t0 = performance.now();
    const l = layout(nodes);
    const ms = performance.now() - t0;
    assert.equal(l.nodes.length, 1000);
    assert.equal(overlaps(l), false);
    assert.ok(l.width > 0 && l.height > 0);
    assert.ok(ms < 2000, `${ms} ms`);
  });
});

const YAML = `name: ui flow
parameters:
  seed: 7
  rate: 2.0
  big: 12345678901234567890
tasks:
  - key: prep
    notebook: work/prep.ipynb
  - key: sweep
    notebook: work/sweep.ipynb
    depends_on: [prepp]
    for_each:
      grid:
        lr: [0.1, 0.01]
`;

describe('pipeline YAML', () => {
  it('maps a JSON path to the line it is about, or the nearest part that exists', () => {
    const p = parsePipelineText(YAML);
    assert.deepEqual(p.errors, []);
    assert.equal(p.lineOf('tasks[1].depends_on[0]'), 11);
    assert.equal(p.lineOf('tasks[1].for_each.grid.lr'), 14);
    assert.equal(p.lineOf('tasks[1].for_each.grid.lr[1]'), 14);
    assert.equal(p.lineOf('tasks[1].kernel'), 9, 'a missing field: its task');
    assert.equal(p.lineOf('tasks[0]'), 7);
    assert.equal(p.lineOf('parameters.rate'), 4);
    assert.equal(p.lineOf(''), 1);
    assert.deepEqual(parsePath('tasks[2].depends_on[0]'), ['tasks', 2, 'depends_on', 0]);
    assert.deepEqual(tasksOf(p.value).map((t) => [t.key, t.deps]), [['prep', []], ['sweep', ['prepp']]]);
    assert.equal(textAt(p.value, 'tasks[1].depends_on[0]'), '"prepp"');
    assert.equal(textAt(p.value, 'tasks[1].kernel'), '');
    assert.equal(textAt(p.value, 'parameters.rate'), '2.0');
  });

  it('keeps numbers as written, both ways', () => {
    const p = parsePipelineText(YAML);
    const body = jsonText(p.value);
    assert.match(body, /"rate":2\.0/);
    assert.match(body, /"big":12345678901234567890/);
    assert.match(body, /"lr":\[0\.1,0\.01\]/);
    const text = toYamlText({ parameters: { rate: new RawJson('2.0'), big: new RawJson('12345678901234567890'), xs: [1, 2] } });
    assert.match(text, /rate: 2\.0\n/);
    assert.match(text, /big: 12345678901234567890\n/);
    assert.match(text, /xs: \[1, 2\]\n/);
    assert.equal(jsonText(parsePipelineText(text).value), '{"parameters":{"rate":2.0,"big":12345678901234567890,"xs":[1,2]}}');
  });

  it('reports a syntax error at its line', () => {
    const p = parsePipelineText('name: x\ntasks:\n  - key: [a\n');
    assert.equal(p.value, undefined);
    assert.ok(p.errors.length > 0);
    assert.ok(p.errors.every((e) => e.line >= 3), JSON.stringify(p.errors));
  });
});
