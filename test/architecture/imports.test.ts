/**
 * The layers import one way (docs/architecture.md): no module of src/ may reach
 * itself again through its imports, and no module imports a module of a higher
 * layer (or of a sibling layer at the same height). Type-only imports count
 * too: a loop of types still ties two modules into one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const src = join(root, 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

// `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')`, relative ones only.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

/** Relative imports of one file, resolved to .ts paths (the `.js` specifiers of NodeNext). */
export function importsOf(file: string, text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(SPECIFIER)) out.add(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  return [...out];
}

/** Strongly connected components with more than one module (or a module importing itself): the loops. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return cycles;
}

/**
 * The layers of src/, lowest first; a module may import its own layer and the
 * layers below it, nothing else. Layers on one line are siblings: neither imports
 * the other, except the files at the top of src/: those of one line are one layer.
 * A module is placed by its first folder under src/, or by its name for the
 * files at the top of src/.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts', 'version.ts', 'ttl-cache.ts', 'job-states.ts'],
  // The notebook format and its exact JSON values; the kernel protocol decodes messages with them.
  ['notebook'],
  ['kernel'],
  // Secrets' pure parts (key, cipher, redaction): the engine redacts, the settings read the key.
  ['secrets'],
  ['engine'],
  // Pipelines' pure core (checking, references, the advance state machine): the stores apply it.
  ['pipelines'],
  ['users'],
  ['settings'],
  ['config.ts', 'logger.ts'],
  ['store'],
  ['homes'],
  ['runner', 'schedules'],
  ['http'],
  // Notifications of run ends: what they say is rendered as the API renders runs.
  ['notify'],
  ['server.ts', 'server-roles.ts', 'server-schedules.ts'],
  ['cli'],
];

/** The layer of a path relative to src/ (its first folder, or the file's name at the top). */
export function layerOf(path: string, layers: readonly (readonly string[])[] = LAYERS): { rank: number; name: string } | null {
  const first = path.split('/')[0]!;
  const rank = layers.findIndex((l) => l.includes(first));
  if (rank < 0) return null;
  return { rank, name: first === path ? `top-level files of layer ${rank}` : first };
}

/** Imports that go up (or sideways, to a sibling layer), as `from → to` paths relative to the source root. */
export function findUpwardImports(graph: Map<string, string[]>, layers: readonly (readonly string[])[] = LAYERS): string[] {
  const bad: string[] = [];
  for (const [from, tos] of graph) {
    const a = layerOf(from, layers);
    for (const to of tos) {
      const b = layerOf(to, layers);
      if (!a || !b || a.name === b.name) continue;
      if (b.rank >= a.rank) bad.push(`${from} → ${to}`);
    }
  }
  return bad.sort();
}

test('the layer check reports an upward and a sideways import, and accepts downward ones', () => {
  const g = new Map<string, string[]>([
    ['store/pg/pg-event-bus.ts', ['runner/in-process-event-bus.ts', 'store/job-store.ts', 'notebook/notebook-types.ts']],
    ['runner/runner.ts', ['store/job-store.ts', 'schedules/scheduler.ts', 'engine/execute.ts']],
    ['engine/execute.ts', ['kernel/client.ts', 'errors.ts']],
    ['kernel/client.ts', ['notebook/notebook-types.ts']],
    ['notebook/read.ts', ['kernel/wire.ts']],
  ]);
  assert.deepEqual(findUpwardImports(g), [
    'notebook/read.ts → kernel/wire.ts',
    'runner/runner.ts → schedules/scheduler.ts',
    'store/pg/pg-event-bus.ts → runner/in-process-event-bus.ts',
  ]);
  assert.deepEqual(findUpwardImports(new Map([['http/app.ts', ['runner/runner.ts', 'store/job-store.ts', 'errors.ts']]])), []);
});

test('every module of src/ belongs to a layer', () => {
  const unplaced = [...new Set(tsFiles(src).map((f) => relative(src, f)).filter((p) => !layerOf(p)).map((p) => p.split('/')[0]!))];
  assert.deepEqual(unplaced, [], `add these to LAYERS: ${unplaced.join(', ')}`);
});

test('no module in src/ imports a higher (or sibling) layer', () => {
  const files = tsFiles(src);
  const graph = new Map(files.map((f) => [relative(src, f), importsOf(f, readFileSync(f, 'utf8')).map((t) => relative(src, t))]));
  const bad = findUpwardImports(graph);
  assert.deepEqual(bad, [], `imports against the layers (docs/architecture.md):\n${bad.join('\n')}`);
});

/** What the layers above the store may import from it: its interfaces. The composition (server*.ts, cli/) picks a backend. */
const STORE_INTERFACES = [
  'store/job-store.ts',
  'store/schedule-store.ts',
  'store/pipeline-store.ts',
  'store/outbox-store.ts',
  'store/sharing-store.ts',
  'store/session-store.ts',
  'store/secret-store.ts',
  'store/job-event-types.ts',
];
const COMPOSITION = new Set(['server.ts', 'server-roles.ts', 'server-schedules.ts', 'cli']);

/** Imports of store modules other than its interfaces from outside the store and the composition. */
export function findStoreBypasses(graph: Map<string, string[]>): string[] {
  const bad: string[] = [];
  for (const [from, tos] of graph) {
    const first = from.split('/')[0]!;
    if (first === 'store' || COMPOSITION.has(first)) continue;
    for (const to of tos) if (to.startsWith('store/') && !STORE_INTERFACES.includes(to)) bad.push(`${from} → ${to}`);
  }
  return bad.sort();
}

test('the store bypass check reports a backend imported by a layer above the store', () => {
  const g = new Map([
    ['runner/runner.ts', ['store/job-store.ts', 'store/pg/pg-job-store.ts']],
    ['server.ts', ['store/open.ts']],
    ['store/open.ts', ['store/sqlite-job-store.ts']],
  ]);
  assert.deepEqual(findStoreBypasses(g), ['runner/runner.ts → store/pg/pg-job-store.ts']);
});

test('the layers above the store reach it only through its interfaces', () => {
  const files = tsFiles(src);
  const graph = new Map(files.map((f) => [relative(src, f), importsOf(f, readFileSync(f, 'utf8')).map((t) => relative(src, t))]));
  const bad = findStoreBypasses(graph);
  assert.deepEqual(bad, [], `imports of store internals (use its interfaces):\n${bad.join('\n')}`);
});

test('the cycle finder finds a loop of two and a self-import, and nothing in a tree', () => {
  const g = new Map<string, string[]>([
    ['a', ['b']],
    ['b', ['a', 'c']],
    ['c', []],
    ['d', ['d']],
  ]);
  assert.deepEqual(findCycles(g), [['a', 'b'], ['d']]);
  assert.deepEqual(findCycles(new Map([['a', ['b']], ['b', ['c']], ['c', []]])), []);
});

test('the import parser sees static, type-only, re-export and dynamic imports', () => {
  const text = [
    "import { x } from './a.js';",
    "import type { Y } from '../b.js';",
    "export { z } from './c.js';",
    "export type * from './d.js';",
    "const m = await import('./e.js');",
    "import './f.js';",
    "import fastify from 'fastify';",
  ].join('\n');
  const got = importsOf('/p/q/file.ts', text).sort();
  assert.deepEqual(got, ['/p/b.ts', '/p/q/a.ts', '/p/q/c.ts', '/p/q/d.ts', '/p/q/e.ts', '/p/q/f.ts']);
});

test('no module in src/ imports itself through a loop', () => {
  const files = tsFiles(src);
  const graph = new Map(files.map((f) => [f, importsOf(f, readFileSync(f, 'utf8'))]));
  const cycles = findCycles(graph).map((c) => c.map((f) => relative(root, f)).join(' ↔ '));
  assert.deepEqual(cycles, [], `import loops in src/:\n${cycles.join('\n')}`);
});
