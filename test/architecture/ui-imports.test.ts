/**
 * The web UI takes the API's types from the server's schemas (ui/src/api.ts), but
 * only as types: a value import from src/ would bundle server code (TypeBox,
 * Node modules) into the browser's first load.
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

test('ui/src imports from src/ only with `import type`', () => {
  const IMPORT = /^\s*(import|export)\s+(type\s+)?[^'";]*?from\s*['"]([^'"]+)['"]/gm;
  let typeOnly = 0;
  const values: string[] = [];
  for (const f of files(join(root, 'ui', 'src'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) {
      if (!/(^|\/)src\//.test(m[3]!) || !m[3]!.startsWith('..')) continue;
      if (m[2]) typeOnly++;
      else values.push(`${relative(root, f)}: ${m[0].trim()}`);
    }
  }
  assert.deepEqual(values, []);
  assert.ok(typeOnly > 0, 'the API types come from the server schemas');
});
