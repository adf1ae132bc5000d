/**
 * Rewrites the configuration tables of README.md and docs/admin.md from
 * src/settings/table.ts: `npm run docs:settings` (`-- --check` only reports drift).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withSettingsTable } from '../src/settings/docs.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
let stale = 0;
for (const file of ['README.md', join('docs', 'admin.md')]) {
  const path = join(root, file);
  const before = readFileSync(path, 'utf8');
  const after = withSettingsTable(before, file);
  if (after === before) continue;
  stale++;
  if (check) process.stderr.write(`${file}: the settings table differs from src/settings/table.ts\n`);
  else {
    writeFileSync(path, after);
    process.stdout.write(`${file}: settings table rewritten\n`);
  }
}
process.exitCode = check && stale > 0 ? 1 : 0;
