/**
 * Store overhead (issue 10): the cost one job adds in the store, no kernel:
 * enqueue → claimNext → heartbeat → markFinished, on PostgreSQL (local server,
 * a fresh schema, dropped after) and on SQLite (a WAL file in a temp dir), in
 * the same run, in alternating blocks of 50 jobs so both see the same machine
 * load. Also: the LISTEN/NOTIFY wake-up, from an enqueue committed through one
 * pool to the listener of another pool being called.
 *
 * Alone: node --import tsx bench/store.ts   (BENCH_STORE_N, BENCH_DATABASE_URL)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { JobStore } from '../src/store/job-store.js';
import { PgJobStore } from '../src/store/pg/pg-job-store.js';
import { SqliteJobStore } from '../src/store/sqlite-job-store.js';
import { median, percentile } from './lib/stats.js';

export interface PerJob {
  /** Median of enqueue+claim+heartbeat+finish per job, microseconds. */
  medianUs: number;
  p90Us: number;
  ops: { enqueueUs: number; claimUs: number; heartbeatUs: number; finishUs: number };
}

export interface StoreBenchResults {
  measured: boolean;
  reason?: string;
  n: number;
  sqlite?: PerJob;
  postgres?: PerJob;
  /** The same with commits that do not wait for the WAL flush (what SQLite's WAL + synchronous=NORMAL does): for comparison only. */
  postgresAsync?: PerJob;
  /** Enqueue through one pool to the other pool's onJobQueued listener being called. */
  notify?: { n: number; medianUs: number; p90Us: number };
}

const BLOCK = 50;

async function oneJob(store: JobStore, i: number, samples: number[][]): Promise<void> {
  const t0 = performance.now();
  await store.enqueue({ username: 'bench', notebook: `n${i}.ipynb`, parameters: { i, x: 1.5 }, submitted_by: 'bench' });
  const t1 = performance.now();
  const job = await store.claimNext('bench-worker');
  const t2 = performance.now();
  if (!job) throw new Error('claimNext found no job');
  const lost = await store.heartbeat('bench-worker', [job.id]);
  const t3 = performance.now();
  if (lost.length) throw new Error('heartbeat lost the job');
  await store.markFinished(job.id, 'succeeded', { worker_id: 'bench-worker', attempt: job.attempts, result: {}, progress: { cells_total: 1, cells_done: 1 } });
  const t4 = performance.now();
  samples.push([t4 - t0, t1 - t0, t2 - t1, t3 - t2, t4 - t3].map((ms) => ms * 1000));
}

function summarize(samples: number[][]): PerJob {
  const col = (k: number) => samples.map((s) => s[k]!);
  return {
    medianUs: median(col(0)),
    p90Us: percentile(col(0), 90),
    ops: { enqueueUs: median(col(1)), claimUs: median(col(2)), heartbeatUs: median(col(3)), finishUs: median(col(4)) },
  };
}

export async function benchStore(o: { n?: number; url?: string; log: (s: string) => void }): Promise<StoreBenchResults> {
  const n = Math.max(BLOCK, Math.floor((o.n ?? 500) / BLOCK) * BLOCK);
  const url = o.url ?? 'postgresql://postgres@127.0.0.1:5432/test';
  const schema = `hubmill_bench_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(os.tmpdir(), 'hubmill-bench-store-'));
  const out: StoreBenchResults = { measured: false, n };
  let sqlite: SqliteJobStore | null = null;
  let pgA: PgJobStore | null = null;
  let pgB: PgJobStore | null = null;
  let pgAsync: PgJobStore | null = null;
  try {
    sqlite = new SqliteJobStore({ path: join(dir, 'jobs.sqlite') });
    pgA = await PgJobStore.open({ url, schema, poolMax: 4 });
    pgB = await PgJobStore.open({ url, schema, poolMax: 4 });
    pgAsync = await PgJobStore.open({ url, schema, poolMax: 4, asyncCommit: true });
    const warm: number[][] = [];
    for (let i = 0; i < 20; i++) {
      await oneJob(sqlite, i, warm);
      await oneJob(pgA, i, warm);
      await oneJob(pgAsync, i, warm);
    }
    const s: number[][] = [];
    const p: number[][] = [];
    const pa: number[][] = [];
    for (let done = 0; done < n; done += BLOCK) {
      for (let i = 0; i < BLOCK; i++) await oneJob(sqlite, done + i, s);
      for (let i = 0; i < BLOCK; i++) await oneJob(pgA, done + i, p);
      for (let i = 0; i < BLOCK; i++) await oneJob(pgAsync, done + i, pa);
    }
    out.sqlite = summarize(s);
    out.postgres = summarize(p);
    out.postgresAsync = summarize(pa);
    o.log(`  store: per job ${(out.sqlite.medianUs / 1000).toFixed(2)} ms SQLite, ${(out.postgres.medianUs / 1000).toFixed(2)} ms PostgreSQL (median of ${n})`);

    // Wake-up: B listens; each enqueue through A is timed until B's listener runs.
    let wake: (() => void) | null = null;
    pgB.onJobQueued(() => wake?.());
    await pgB.listening();
    const w: number[] = [];
    for (let i = 0; i < 100; i++) {
      const woke = new Promise<void>((r) => (wake = r));
      const t0 = performance.now();
      await pgA.enqueue({ username: 'bench', notebook: 'w.ipynb', parameters: {}, submitted_by: 'bench' });
      await Promise.race([woke, new Promise((_, rej) => setTimeout(() => rej(new Error('no wake-up within 5 s')), 5000).unref())]);
      w.push((performance.now() - t0) * 1000);
      wake = null;
    }
    out.notify = { n: w.length, medianUs: median(w), p90Us: percentile(w, 90) };
    out.measured = true;
  } catch (e) {
    out.reason = (e as Error).message;
  } finally {
    await sqlite?.close();
    await pgA?.close();
    await pgB?.close();
    await pgAsync?.close();
    rmSync(dir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: url });
    await admin
      .connect()
      .then(() => admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
      .catch(() => undefined)
      .finally(() => admin.end().catch(() => undefined));
  }
  return out;
}

export function renderStoreBench(r: StoreBenchResults): string {
  if (!r.measured || !r.sqlite || !r.postgres) return `Store overhead: not measured (${r.reason}).`;
  const us = (x: number) => `${Math.round(x)} µs`;
  const row = (name: string, x: PerJob) =>
    `| ${name} | ${us(x.medianUs)} | ${us(x.p90Us)} | ${us(x.ops.enqueueUs)} | ${us(x.ops.claimUs)} | ${us(x.ops.heartbeatUs)} | ${us(x.ops.finishUs)} |`;
  return [
    `Per-job store overhead, no kernel: enqueue → claimNext → heartbeat → markFinished, one job at a time, ${r.n} jobs per store in alternating blocks of ${BLOCK} (same run).`,
    '',
    '| store | median per job | p90 | enqueue | claim | heartbeat | finish |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row('SQLite (WAL file)', r.sqlite),
    row('PostgreSQL (127.0.0.1, node-postgres pool)', r.postgres),
    ...(r.postgresAsync ? [row('PostgreSQL, commits not waiting for the WAL flush (comparison only)', r.postgresAsync)] : []),
    '',
    'SQLite runs WAL with synchronous=NORMAL: a commit does not wait for the disk. PostgreSQL waits for the WAL flush of each state change (enqueue, claim, finish); lease renewals and progress are written with synchronous_commit=off. The third row shows what the flushes cost on this disk.',
    '',
    r.notify
      ? `LISTEN/NOTIFY wake-up (enqueue committed through one pool → the other pool's listener called): median ${us(r.notify.medianUs)}, p90 ${us(r.notify.p90Us)} over ${r.notify.n}; the queue's poll fallback runs every 500 ms.`
      : '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await benchStore({ n: Number(process.env.BENCH_STORE_N ?? 500), url: process.env.BENCH_DATABASE_URL, log: (s) => console.error(s) });
  console.log(renderStoreBench(r));
  console.log(JSON.stringify(r));
}
