/**
 * A store with a long history (issue 16, section 7): 1,000,000 jobs over 200
 * users and 2,000 schedules, in every state (bench/million-seed.ts), on SQLite
 * and on PostgreSQL in the same run:
 *
 *  - listing: `GET /api/v1/jobs` of a `hubmill serve` on the store,
 *    newest first (page 1, and page 500 reached once by following next_cursor),
 *    and filtered by status, notebook, schedule and user; p99 per case;
 *  - the UI's jobs page (all users) in Debian Chromium: first page, then "Older";
 *  - claiming: enqueue (untimed) → claimNext + markFinished (timed), against an
 *    empty store of the same kind, in alternating blocks;
 *  - retention: Retention.prune deleting the oldest 100,000 jobs while another
 *    process claims (bench/million-claimer.ts); the longest claim while it runs.
 *
 * EXPLAIN of each listing query is kept in the results (the PostgreSQL ones with
 * ANALYZE). The PostgreSQL schemas are made fresh and dropped at the end.
 *
 * Alone: BENCH_ONLY=million npm run bench (keeps the other sections of
 * bench/results.json), or node --import tsx bench/million.ts (prints only);
 * BENCH_MILLION_N (default 1,000,000), BENCH_DATABASE_URL.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pino } from 'pino';
import { Retention } from '../src/runner/retention.js';
import { decodeCursor } from '../src/store/cursor.js';
import type { JobStore } from '../src/store/job-store.js';
import { PgJobStore } from '../src/store/pg/pg-job-store.js';
import { SqliteJobStore } from '../src/store/sqlite-job-store.js';
import type { ClaimSample } from './million-claimer.js';
import { startServe, summarize, timeListing, timeUi, walkToPage, type Latency, type ListingCase, type UiTiming } from './million-http.js';
import { RARE_NOTEBOOK, SCHEDULES, seedPg, seedSqlite, seedT0, STEP_MS, USERS } from './million-seed.js';
import { median, sleep } from './lib/stats.js';
export { renderMillionBench } from './million-report.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
type Kind = 'sqlite' | 'postgres';

export interface PruneResult {
  deleted: number;
  durationMs: number;
  /** Claims by the other process in the 2 s before pruning started. */
  before: Latency;
  /** Claims that started while pruning ran. */
  during: Latency;
  /** markFinished of the same claims. */
  finishDuring: Latency;
}

export interface BackendResult {
  kind: Kind;
  seedMs: number;
  listing: ListingCase[];
  /** Following next_cursor from page 1 to page 500 once (499 requests). */
  walkTo500Ms: number;
  ui?: UiTiming;
  uiError?: string;
  /** claimNext + markFinished, ms: in the seeded store and in an empty one, same run. */
  claims: { million: Latency; empty: Latency; ratio: number };
  prune?: PruneResult;
  pruneError?: string;
  /** Each listing's SQL, its plan, and its time run straight on the store (no HTTP), ms. */
  explain: { name: string; sql: string; plan: string; query: Latency }[];
}

export interface MillionBenchResults {
  measured: boolean;
  reason?: string;
  date: string;
  n: number;
  users: number;
  schedules: number;
  pageLimit: number;
  backends: BackendResult[];
  durationS?: number;
  /** 1-minute load average when the section started and ended (the machine is shared). */
  loadAvg?: [number, number];
}

const PAGE_LIMIT = 50;
/** Whether PgJobStore.list writes one status as `status = $n` (since the long-history change) rather than `= ANY(…)`: EXPLAIN what it runs. */
const STATUS_EQ = true;
const PRUNE = 100_000;
const CLAIM_BLOCK = 20;
const CLAIM_N = 400;
/** Claims before timing: a store just opened has an empty page cache, a serving node's is warm. */
const CLAIM_WARMUP = 100;

interface Filters {
  username?: string;
  status?: string;
  notebook?: string;
  schedule_id?: string;
  cursor?: string;
}

function cases(cursor500: string): { name: string; f: Filters; targetMs: number }[] {
  return [
    { name: 'newest first, page 1', f: {}, targetMs: 20 },
    { name: 'newest first, page 500', f: { cursor: cursor500 }, targetMs: 20 },
    { name: 'status=failed (8%)', f: { status: 'failed' }, targetMs: 50 },
    { name: 'status=running (20 jobs)', f: { status: 'running' }, targetMs: 50 },
    { name: 'notebook, 1,400 jobs', f: { notebook: 'reports/r7.ipynb' }, targetMs: 50 },
    { name: 'notebook, 10 jobs', f: { notebook: RARE_NOTEBOOK }, targetMs: 50 },
    { name: 'schedule_id (350 jobs)', f: { schedule_id: 'S7' }, targetMs: 50 },
    { name: 'username (5,000 jobs)', f: { username: 'user7' }, targetMs: 50 },
    { name: 'username + status=failed', f: { username: 'user7', status: 'failed' }, targetMs: 50 },
    { name: 'username + notebook', f: { username: 'user7', notebook: 'reports/r7.ipynb' }, targetMs: 50 },
  ];
}

const queryString = (f: Filters) => new URLSearchParams({ ...f, limit: String(PAGE_LIMIT) } as Record<string, string>).toString();

/** The SQL the stores run for a listing (their list()), with literals, for EXPLAIN. */
function listingSql(f: Filters, kind: Kind): string {
  const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const w: string[] = [];
  if (f.username) w.push(`username = ${lit(f.username)}`);
  if (f.status) w.push(kind === 'sqlite' ? `status IN (${lit(f.status)})` : STATUS_EQ ? `status = ${lit(f.status)}` : `status = ANY(ARRAY[${lit(f.status)}]::text[])`);
  if (f.notebook) w.push(`notebook = ${lit(f.notebook)}`);
  if (f.schedule_id) w.push(`schedule_id = ${lit(f.schedule_id)}`);
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    w.push(kind === 'sqlite' ? `(created_at_ms < ${c.createdAtMs} OR (created_at_ms = ${c.createdAtMs} AND id < ${lit(c.id)}))` : `(created_at_ms, id) < (${c.createdAtMs}, ${lit(c.id)})`);
  }
  return `SELECT * FROM jobs ${w.length ? `WHERE ${w.join(' AND ')}` : ''} ORDER BY created_at_ms DESC, id DESC LIMIT ${PAGE_LIMIT + 1}`;
}

async function claimOnce(store: JobStore, i: number): Promise<number> {
  await store.enqueue({ username: 'bench', notebook: `c${i}.ipynb`, parameters: { i }, submitted_by: 'bench' });
  const t = performance.now();
  const job = await store.claimNext('bench-worker');
  if (!job) throw new Error('claimNext found no job');
  await store.markFinished(job.id, 'succeeded', { worker_id: 'bench-worker', attempt: job.attempts, result: {} });
  return performance.now() - t;
}

/** Prunes the oldest PRUNE jobs through Retention while bench/million-claimer.ts claims from another process. */
async function pruneWhileClaiming(store: JobStore, claimerArgs: string[], t0: number, work: string, log: (s: string) => void): Promise<PruneResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'million-claimer.ts'), ...claimerArgs], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  // 'close': the process has exited and its stdout is read to the end.
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  try {
    const deadline = Date.now() + 60_000;
    while (!out.includes('ready')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`claimer did not start: ${err.slice(-300)}`);
      await sleep(50);
    }
    await sleep(2000);
    const retention = new Retention(store, (u) => join(work, 'homes', u), { days: 1 }, pino({ level: 'silent' }));
    const start = Date.now();
    // The cutoff falls between job PRUNE − 1 and job PRUNE, so exactly the oldest PRUNE jobs are expired.
    const deleted = await retention.prune(t0 + PRUNE * STEP_MS + 86_400_000);
    const end = Date.now();
    log(`    pruned ${deleted} in ${end - start} ms`);
    await sleep(500);
    child.stdin.end('stop\n');
    const code = await Promise.race([exited, sleep(30_000).then(() => 'timeout' as const)]);
    if (code !== 0) throw new Error(`claimer exited with ${code}: ${err.slice(-300)}`);
    const samples = JSON.parse(out.trim().split('\n').pop()!) as ClaimSample[];
    const win = (a: number, b: number) => samples.filter((s) => s.at >= a && s.at < b);
    return {
      deleted,
      durationMs: end - start,
      before: summarize(win(start - 2000, start).map((s) => s.claimMs)),
      during: summarize(win(start, end).map((s) => s.claimMs)),
      finishDuring: summarize(win(start, end).map((s) => s.finishMs)),
    };
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}

export async function benchMillion(o: { n?: number; url?: string; log: (s: string) => void }): Promise<MillionBenchResults> {
  const started = performance.now();
  const loadStart = Math.round(os.loadavg()[0]! * 100) / 100;
  const n = o.n ?? 1_000_000;
  const url = o.url ?? 'postgresql://postgres@127.0.0.1:5432/test';
  const tag = randomBytes(4).toString('hex');
  const schema = `hubmill_million_${tag}`;
  const emptySchema = `hubmill_million_empty_${tag}`;
  const work = mkdtempSync(join(os.tmpdir(), 'hubmill-bench-million-'));
  const out: MillionBenchResults = { measured: false, date: new Date().toISOString(), n, users: USERS, schedules: SCHEDULES, pageLimit: PAGE_LIMIT, backends: [] };
  const t0 = seedT0(n, Date.now());
  const sqlitePath = join(work, 'data', 'jobs.sqlite');
  const admin = new pg.Client({ connectionString: url });
  const open: JobStore[] = [];
  let adminUp = false;
  try {
    mkdirSync(join(work, 'homes'), { recursive: true });
    await admin.connect();
    adminUp = true;
    // Seed: the stores' migrations make the schema, then one INSERT … SELECT each.
    await new SqliteJobStore({ path: sqlitePath }).close();
    await (await PgJobStore.open({ url, schema, poolMax: 1 })).close();
    const res: Record<Kind, BackendResult> = {} as Record<Kind, BackendResult>;
    for (const kind of ['sqlite', 'postgres'] as const) {
      o.log(`  million: seeding ${n} jobs into ${kind}`);
      const t = performance.now();
      if (kind === 'sqlite') {
        const db = new Database(sqlitePath);
        db.pragma('journal_mode = WAL');
        seedSqlite(db, n, t0);
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
      } else {
        await admin.query(`SET search_path TO ${schema}`);
        await seedPg(admin, n, t0);
      }
      res[kind] = { kind, seedMs: performance.now() - t, listing: [], walkTo500Ms: NaN, claims: null!, explain: [] };
      o.log(`    ${(res[kind].seedMs / 1000).toFixed(1)} s`);
    }

    // Listing and the UI, through a hubmill serve on each store.
    for (const kind of ['sqlite', 'postgres'] as const) {
      const r = res[kind];
      const s = await startServe(root, work, kind === 'sqlite' ? { HUBMILL_DATA_DIR: join(work, 'data') } : { HUBMILL_DATA_DIR: join(work, 'pgdata'), HUBMILL_DATABASE_URL: `${url}?schema=${schema}` });
      let cursor500 = '';
      try {
        o.log(`  million: ${kind}: walking to page 500`);
        const walk = await walkToPage(s, 500, PAGE_LIMIT);
        r.walkTo500Ms = walk.walkMs;
        cursor500 = walk.cursor;
        for (const c of cases(cursor500)) {
          const q = queryString(c.f);
          const t = await timeListing(s, q, { maxN: 200, minN: 5, budgetMs: 15_000 });
          r.listing.push({ name: c.name, query: q, targetMs: c.targetMs, latency: t.latency, rows: t.rows });
          o.log(`    ${c.name}: p99 ${t.latency.p99Ms.toFixed(1)} ms, median ${t.latency.medianMs.toFixed(1)} ms (n ${t.latency.n})`);
        }
        o.log(`  million: ${kind}: the UI's jobs page in Chromium`);
        try {
          r.ui = await timeUi(s, 5);
          o.log(`    first page median ${median(r.ui.firstPageMs).toFixed(0)} ms, Older median ${median(r.ui.olderMs).toFixed(0)} ms`);
        } catch (e) {
          r.uiError = (e as Error).message.split('\n')[0];
          o.log(`    UI not measured: ${r.uiError}`);
        }
      } finally {
        await s.stop();
      }
      // The same queries straight on the store, no HTTP: their plans, and their own time (less at the mercy of the machine's load).
      const db = kind === 'sqlite' ? new Database(sqlitePath, { readonly: true }) : null;
      if (kind === 'postgres') await admin.query(`SET search_path TO ${schema}`);
      try {
        for (const c of cases(cursor500)) {
          const sql = listingSql(c.f, kind);
          const run = db ? async () => void db.prepare(sql).all() : async () => void (await admin.query(sql));
          const xs: number[] = [];
          const end = performance.now() + 5000;
          await run();
          while (xs.length < 50 && (xs.length < 3 || performance.now() < end)) {
            const t = performance.now();
            await run();
            xs.push(performance.now() - t);
          }
          const plan = db
            ? (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((x) => x.detail).join('\n')
            : (await admin.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`)).rows.map((x) => x['QUERY PLAN']).join('\n');
          r.explain.push({ name: c.name, sql, plan, query: summarize(xs) });
        }
      } finally {
        db?.close();
      }
    }

    // Claims: the seeded stores against empty ones, alternating blocks.
    o.log(`  million: claim + finish, ${CLAIM_N} per store, seeded vs empty, alternating blocks of ${CLAIM_BLOCK}`);
    const stores: Record<string, JobStore> = {
      'sqlite-million': new SqliteJobStore({ path: sqlitePath }),
      'sqlite-empty': new SqliteJobStore({ path: join(work, 'empty', 'jobs.sqlite') }),
      'postgres-million': await PgJobStore.open({ url, schema, poolMax: 2 }),
      'postgres-empty': await PgJobStore.open({ url, schema: emptySchema, poolMax: 2 }),
    };
    open.push(...Object.values(stores));
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(stores).map((k) => [k, []]));
    for (const st of Object.values(stores)) for (let i = 0; i < CLAIM_WARMUP; i++) await claimOnce(st, i);
    // The timed awaits also run whatever I/O the previous block left pending (a PostgreSQL store's
    // notifications, its pool's replies): each block starts after the process settles, and the order of the
    // stores turns every round, so no store always follows the same one.
    const entries = Object.entries(stores);
    for (let done = 0, round = 0; done < CLAIM_N; done += CLAIM_BLOCK, round++) {
      for (let j = 0; j < entries.length; j++) {
        const [k, st] = entries[(j + round) % entries.length]!;
        await sleep(20);
        for (let i = 0; i < CLAIM_BLOCK; i++) samples[k]!.push(await claimOnce(st, done + i));
      }
    }
    for (const kind of ['sqlite', 'postgres'] as const) {
      const m = summarize(samples[`${kind}-million`]!);
      const e = summarize(samples[`${kind}-empty`]!);
      res[kind].claims = { million: m, empty: e, ratio: m.medianMs / e.medianMs };
      o.log(`    ${kind}: ${m.medianMs.toFixed(2)} ms seeded vs ${e.medianMs.toFixed(2)} ms empty (median)`);
    }
    for (const st of open.splice(0)) await st.close();

    // Retention: prune the oldest 100,000 while another process claims.
    for (const kind of ['sqlite', 'postgres'] as const) {
      o.log(`  million: ${kind}: pruning ${PRUNE} expired jobs while another process claims`);
      const store = kind === 'sqlite' ? new SqliteJobStore({ path: sqlitePath }) : await PgJobStore.open({ url, schema, poolMax: 2 });
      open.push(store);
      try {
        res[kind].prune = await pruneWhileClaiming(store, kind === 'sqlite' ? ['sqlite', sqlitePath] : ['pg', url, schema], t0, work, o.log);
        const p = res[kind].prune!;
        o.log(`    claims during: max ${p.during.maxMs.toFixed(1)} ms, p99 ${p.during.p99Ms.toFixed(1)} ms (n ${p.during.n}); before: max ${p.before.maxMs.toFixed(1)} ms`);
      } catch (e) {
        res[kind].pruneError = (e as Error).message;
        o.log(`    not measured: ${res[kind].pruneError}`);
      }
      await open.pop()!.close();
    }
    out.backends = [res.sqlite, res.postgres];
    out.measured = true;
  } catch (e) {
    out.reason = (e as Error).message;
  } finally {
    for (const st of open) await st.close().catch(() => undefined);
    if (adminUp) {
      for (const s of [schema, emptySchema]) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch(() => undefined);
    }
    await admin.end().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
  out.durationS = (performance.now() - started) / 1000;
  out.loadAvg = [loadStart, Math.round(os.loadavg()[0]! * 100) / 100];
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { renderMillionBench } = await import('./million-report.js');
  const r = await benchMillion({ n: Number(process.env.BENCH_MILLION_N ?? 1_000_000), url: process.env.BENCH_DATABASE_URL, log: (s) => console.error(s) });
  console.log(renderMillionBench(r));
  console.log(JSON.stringify(r));
  process.exit(0);
}
