/** Re-renders bench/RESULTS.md from bench/results.json (after editing report.ts), without measuring again. */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderReport, type BenchResults } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const results = JSON.parse(readFileSync(join(here, 'results.json'), 'utf8')) as BenchResults;
writeFileSync(join(here, 'RESULTS.md'), renderReport(results));
process.stderr.write('re-rendered bench/RESULTS.md from bench/results.json\n');
