/**
 * What `npm pack` ships: the Python helper's source, never its bytecode
 * (python/__pycache__ appears whenever the forkserver has run from the checkout),
 * and git tracks no bytecode either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('the package ships python/*.py and no __pycache__ or .pyc', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  assert.ok(files.includes('python/hubmill_forkserver.py'), files.join('\n'));
  assert.deepEqual(files.filter((f) => /__pycache__|\.py[co]$/.test(f)), []);
});

test('git tracks no Python bytecode', () => {
  const tracked = execFileSync('git', ['ls-files', '--', '*.pyc', '*.pyo', '**/__pycache__/**'], { cwd: root, encoding: 'utf8' });
  assert.equal(tracked.trim(), '');
});
