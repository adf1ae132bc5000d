/**
 * A second process that claims jobs while bench/million.ts prunes (the
 * retention measurement): it opens the same store (SQLite: the same file;
 * PostgreSQL: its own pool), and loops enqueue (untimed) → claimNext (timed) →
 * markFinished (timed) until its stdin says `stop`. It prints `ready` once warm,
 * then at the end one JSON line: every claim's start (epoch ms) and latencies.
 *
 *   node --import tsx bench/million-claimer.ts sqlite FILE
 *   node --import tsx bench/million-claimer.ts pg URL SCHEMA
 */
import { performance } from 'node:perf_hooks';
import type { JobStore } from '../src/store/job-store.js';
import { PgJobStore } from '../src/store/pg/pg-job-store.js';
import { SqliteJobStore } from '../src/store/sqlite-job-store.js';

export interface ClaimSample {
  /** Epoch ms when the claim started. */
  at: number;
  claimMs: number;
  finishMs: number;
}

const [kind, where, schema] = process.argv.slice(2);
const store: JobStore =
  kind === 'sqlite' ? new SqliteJobStore({ path: where! }) : await PgJobStore.open({ url: where!, schema: schema!, poolMax: 2 });

let stop = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d: string) => {
  if (d.includes('stop')) stop = true;
});

const samples: ClaimSample[] = [];
let i = 0;
const deadline = Date.now() + 15 * 60_000;
try {
  while (!stop && Date.now() < deadline) {
    await store.enqueue({ username: 'claimer', notebook: `c${i}.ipynb`, parameters: {}, submitted_by: 'claimer' });
    const at = Date.now();
    const t0 = performance.now();
    const job = await store.claimNext('claimer');
    const t1 = performance.now();
    if (!job) throw new Error('claimNext found no job');
    await store.markFinished(job.id, 'succeeded', { worker_id: 'claimer', attempt: job.attempts, result: {} });
    const t2 = performance.now();
    if (i >= 20) samples.push({ at, claimMs: t1 - t0, finishMs: t2 - t1 });
    if (++i === 20) process.stdout.write('ready\n');
    // A worker does not claim in a tight loop: about 100 claims a second at most.
    await new Promise((r) => setTimeout(r, 10));
  }
} finally {
  await store.close();
}
// Exit once the line is written: a pipe is asynchronous, and exiting at once would cut it.
process.stdout.write(`${JSON.stringify(samples)}\n`, () => process.exit(0));
