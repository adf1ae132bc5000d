#!/usr/bin/env node
// Runs every test/**/*.test.ts file with Node's own test runner through tsx.
// Node 20's --test does not expand globs, so the files are listed here.
// Usage: node scripts/test.mjs [filter-substring ...]
// The whole suite (no filter) is type-checked first (tsconfig.json covers src/, test/ and
// bench/): tsx only strips types, so a fake that drifted from its interface would still run.
// HUBMILL_TYPECHECK=1 type-checks a filtered run too, HUBMILL_TYPECHECK=0 skips it.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'fixtures' ? [] : walk(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const files = walk(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const typecheck = process.env.HUBMILL_TYPECHECK === undefined ? filters.length === 0 : process.env.HUBMILL_TYPECHECK === '1';
if (typecheck) {
  process.stderr.write('type-checking src/, test/ and bench/ (tsc -p tsconfig.json)\n');
  const tc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (tc.status !== 0) {
    process.stderr.write('type errors: fix them before the tests run\n');
    process.exit(tc.status ?? 1);
  }
}
const concurrency = process.env.HUBMILL_TEST_CONCURRENCY ?? '2';
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, HUBMILL_TEST: '1' } },
);
process.exit(r.status ?? 1);
