/**
 * Scale-out (issue 10): throughput of one worker node against two, on
 * PostgreSQL, in the same run. One `--role api` node takes the submissions;
 * `--role worker` nodes (each its own process and data dir, HUBMILL_CONCURRENCY
 * runs each) claim and run them. For each round, N trivial notebooks are
 * submitted at once through the API node and the clock runs until the store
 * has none queued or running (/health's active counts); first with one worker, then with two (the second
 * started, its pool warm, before the round), alternating when there are more
 * rounds. All nodes share this machine's cores.
 *
 * Environment: BENCH_WORKERS_N (default 60), BENCH_WORKERS_ROUNDS (default 1),
 * BENCH_WORKERS_CONCURRENCY (runs per worker, default 1), BENCH_WORKERS_BACKEND=sqlite
 * (checks the harness without roles: worker 1 is an `all` node that takes the submissions).
 * Alone: node --import tsx bench/workers.ts  (after npx tsc -p tsconfig.build.json)
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { poolsFull } from './lib/serve-child.js';
import { nodeEnv, openCluster, pgAvailable, type Cluster, type NodeSpec, type ScratchDatabase } from './lib/cluster.js';
import { request } from './lib/http.js';
import { median, sleep } from './lib/stats.js';
import { writeNotebooks } from './lib/notebooks.js';

export interface WorkersRound {
  workers: number;
  n: number;
  ok: number;
  elapsedMs: number;
  perSecond: number;
}

export interface WorkersBenchResults {
  measured: boolean;
  reason?: string;
  backend: 'pg' | 'sqlite';
  n: number;
  rounds: number;
  concurrencyPerWorker: number;
  results: WorkersRound[];
  /** Median notebooks/s over the rounds, by number of workers. */
  oneWorkerPerSecond?: number;
  twoWorkersPerSecond?: number;
}

const TOKEN = 'bench-workers-token-0123456789';
const USER = 'bench';
const auth = { authorization: `token ${TOKEN}` };

interface Health {
  running: number;
  pool: Record<string, { idle: number; starting: number; target: number }>;
  /** The store's queued and running jobs (every node's); /health counts no more (cheap at any size). */
  store: { jobs?: { queued: number; running: number } };
}

async function health(base: string): Promise<Health> {
  const r = await request(`${base}/health`, { timeoutMs: 10_000 });
  if (r.status !== 200) throw new Error(`${base}/health answered ${r.status}`);
  return r.json as Health;
}

async function until(what: string, ms: number, cond: () => Promise<boolean>, stepMs = 50): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

const active = async (api: string): Promise<number> => {
  const k = (await health(api)).store.jobs;
  return (k?.queued ?? 0) + (k?.running ?? 0);
};

/**
 * Submits n jobs at once through `api` (no job is active before: the previous round ended) and waits until
 * the store has none queued or running; answers the round's figures (`ok`: its jobs that succeeded, read after the clock stops).
 */
async function round(api: string, workers: number, n: number): Promise<WorkersRound> {
  await until('the previous round to end', 600_000, async () => (await active(api)) === 0, 25);
  const ids = new Set<string>();
  const t0 = performance.now();
  const lanes = 8;
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < n) {
        next++;
        const r = await request(`${api}/api/v1/jobs`, { method: 'POST', headers: auth, body: { username: USER, notebook: 'trivial.ipynb' } });
        if (r.status !== 202) throw new Error(`submission answered ${r.status}: ${r.body.slice(0, 200)}`);
        ids.add((r.json as { id: string }).id);
      }
    }),
  );
  await until(`${n} jobs to finish`, 600_000, async () => (await active(api)) === 0, 25);
  const elapsedMs = performance.now() - t0;
  return { workers, n, ok: await succeeded(api, ids), elapsedMs, perSecond: n / (elapsedMs / 1000) };
}

/** How many of `ids` succeeded: the user's newest jobs, page by page, until every id was seen. */
async function succeeded(api: string, ids: Set<string>): Promise<number> {
  let ok = 0;
  let seen = 0;
  let cursor: string | null = null;
  do {
    const q: string = `username=${USER}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await request(`${api}/api/v1/jobs?${q}`, { headers: auth, timeoutMs: 30_000 });
    if (r.status !== 200) throw new Error(`GET /api/v1/jobs answered ${r.status}`);
    const page = r.json as { jobs: { id: string; status: string }[]; next_cursor: string | null };
    for (const j of page.jobs) {
      if (!ids.has(j.id)) continue;
      seen++;
      if (j.status === 'succeeded') ok++;
    }
    cursor = page.next_cursor;
  } while (cursor && seen < ids.size);
  return ok;
}

export async function benchWorkers(opts: {
  root: string;
  workDir: string;
  trivialNotebook: string;
  log: (s: string) => void;
  n?: number;
  rounds?: number;
  concurrency?: number;
  /** 'sqlite' (for developing the harness): no roles, so worker 1 is an `all` node that also takes the submissions. */
  backend?: 'pg' | 'sqlite';
}): Promise<WorkersBenchResults> {
  const backend = opts.backend ?? 'pg';
  const n = opts.n ?? 60;
  const rounds = opts.rounds ?? 1;
  const concurrency = opts.concurrency ?? 1;
  const out: WorkersBenchResults = { measured: false, backend, n, rounds, concurrencyPerWorker: concurrency, results: [] };
  const cli = join(opts.root, 'dist', 'cli', 'index.js');
  if (!existsSync(cli)) return { ...out, reason: 'dist/cli/index.js missing (build first)' };
  if (backend === 'pg' && !pgAvailable()) return { ...out, reason: 'PostgreSQL does not answer at 127.0.0.1:5432' };
  const root = join(opts.workDir, 'workers');
  mkdirSync(join(root, 'homes', USER), { recursive: true });
  copyFileSync(opts.trivialNotebook, join(root, 'homes', USER, 'trivial.ipynb'));
  let db: ScratchDatabase | null = null;
  let cluster: Cluster | null = null;
  try {
    ({ cluster, db } = openCluster(backend, 'hubmill_bench_workers', {
      cli,
      root,
      stopGraceMs: 15_000,
      env: nodeEnv(root, TOKEN, {
        HUBMILL_CONCURRENCY: String(concurrency),
        HUBMILL_POOL: `python3:${Math.max(1, concurrency)}`,
        HUBMILL_SHUTDOWN_GRACE_S: '5',
      }),
    }));
    const c = cluster;
    const role = db ? 'worker' : 'all';
    const w1: NodeSpec = { name: 'w1', role };
    const w2: NodeSpec = { name: 'w2', role };
    const api = db ? (await c.start({ name: 'api', role: 'api' })).base : (await c.start(w1)).base;
    if (db) await c.start(w1);
    await until('the pool of w1', 60_000, () => poolsFull(c.node('w1').base));
    opts.log(`  workers: warm-up (${Math.min(n, 10)} jobs on one worker)`);
    await round(api, 1, Math.min(n, 10));
    for (let r = 0; r < rounds; r++) {
      for (const workers of r % 2 === 0 ? [1, 2] : [2, 1]) {
        const running = c.list().some((x) => x.spec.name === 'w2' && x.child.exitCode === null && x.child.signalCode === null);
        if (workers === 2 && !running) await c.start(w2);
        if (workers === 1 && running) await c.stop('w2');
        for (const w of workers === 2 ? ['w1', 'w2'] : ['w1']) await until(`the pool of ${w}`, 60_000, () => poolsFull(c.node(w).base));
        const res = await round(api, workers, n);
        opts.log(`  workers: ${workers} worker(s): ${res.ok}/${res.n} in ${res.elapsedMs.toFixed(0)} ms = ${res.perSecond.toFixed(2)} notebooks/s`);
        out.results.push(res);
      }
    }
    const med = (w: number) => median(out.results.filter((x) => x.workers === w).map((x) => x.perSecond));
    out.oneWorkerPerSecond = med(1);
    out.twoWorkersPerSecond = med(2);
    out.measured = true;
    return out;
  } catch (e) {
    return { ...out, reason: (e as Error).message };
  } finally {
    await cluster?.stopAll();
    try {
      db?.drop();
    } catch (e) {
      opts.log(`  workers: could not drop ${db?.name}: ${(e as Error).message}`);
    }
  }
}

export function renderWorkersBench(r: WorkersBenchResults): string {
  if (!r.measured) return `Workers: not measured (${r.reason}).`;
  const rows = r.results.map((x) => `| ${x.workers} | ${x.ok}/${x.n} | ${x.elapsedMs.toFixed(0)} ms | ${x.perSecond.toFixed(2)} |`);
  const ratio = r.twoWorkersPerSecond! / r.oneWorkerPerSecond!;
  return [
    `${r.backend === 'pg' ? 'PostgreSQL store; one `--role api` node takes the submissions, `--role worker` nodes run them' : 'SQLite store (harness check, no roles): worker 1 also takes the submissions; `--role all` nodes run them'} with ${r.concurrencyPerWorker} run(s) each and a warm pool; ` +
      `${r.n} trivial notebooks submitted at once per round, timed until the store has none of them queued or running; ${r.rounds} round(s) of each, alternating. ` +
      'All nodes share this machine\'s cores.',
    '',
    '| workers | succeeded | elapsed | notebooks/s |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    `Median: one worker **${r.oneWorkerPerSecond!.toFixed(2)}** notebooks/s, two workers **${r.twoWorkersPerSecond!.toFixed(2)}** notebooks/s = **${ratio.toFixed(2)}×**.`,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const workDir = mkdtempSync(join(os.tmpdir(), 'hubmill-bench-workers-'));
  const env = (k: string, d: number) => (Number.isInteger(Number(process.env[k])) && Number(process.env[k]) > 0 ? Number(process.env[k]) : d);
  try {
    const nbDir = join(workDir, 'notebooks');
    mkdirSync(nbDir);
    const r = await benchWorkers({
      root,
      workDir,
      trivialNotebook: writeNotebooks(nbDir).trivial,
      log: (s) => console.error(s),
      n: env('BENCH_WORKERS_N', 60),
      rounds: env('BENCH_WORKERS_ROUNDS', 1),
      concurrency: env('BENCH_WORKERS_CONCURRENCY', 1),
      backend: process.env.BENCH_WORKERS_BACKEND === 'sqlite' ? 'sqlite' : 'pg',
    });
    console.log(JSON.stringify(r, null, 2));
    console.log(renderWorkersBench(r));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
