/**
 * The web UI takes the API's types from the server's schemas (ui/src/api.ts), but
 * only as types: a value import from src/ would bundle server code (TypeBox,
 * Node modules) into the browser's first load. The one exception is the list of
 * job states (src/job-states.ts), which imports nothing: one spelling of
 * the states for the server and the page.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : []));
}

/** src/ modules the page may import as values: they import nothing themselves. */
const VALUE_IMPORTS_ALLOWED = new Set(['src/job-states.js']);

test('ui/src imports from src/ only with `import type` (but the dependency-free job states)', () => {
  const IMPORT = /^\s*(import|export)\s+(type\s+)?[^'";]*?from\s*['"]([^'"]+)['"]/gm;
  let typeOnly = 0;
  const values: string[] = [];
  for (const f of files(join(root, 'ui', 'src'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) {
      if (!/(^|\/)src\//.test(m[3]!) || !m[3]!.startsWith('..')) continue;
      if (m[2]) typeOnly++;
      else if (VALUE_IMPORTS_ALLOWED.has(relative(root, join(dirname(f), m[3]!)))) {
        const target = readFileSync(join(dirname(f), m[3]!).replace(/\.js$/, '.ts'), 'utf8');
        assert.doesNotMatch(target, /^\s*import\s/m, `${m[3]} must import nothing to be bundled into the page`);
      } else values.push(`${relative(root, f)}: ${m[0].trim()}`);
    }
  }
  assert.deepEqual(values, []);
  assert.ok(typeOnly > 0, 'the API types come from the server schemas');
});
