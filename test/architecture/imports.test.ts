/**
 * The layers import one way (docs/architecture.md): no module of src/ may reach
 * itself again through its imports. Type-only imports count too: a loop of
 * types still ties two modules into one.
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
