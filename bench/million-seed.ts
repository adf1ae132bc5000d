/**
 * Seeds a job store with a long history for bench/million.ts: N jobs (default
 * 1,000,000) over 200 users and 2,000 schedules, in every state, written with
 * one INSERT … SELECT into the real schema the store's migrations made
 * (PostgreSQL: generate_series; SQLite: a recursive CTE). Row i (0 = oldest) is
 * created at t0 + i × STEP_MS, so the newest job is about an hour old.
 *
 *  - user `user{i % 200}`; 70% of the jobs (blocks of 2,000 in 10) come from
 *    schedule `S{i % 2000}` (owned by user `user{i % 200}`, notebook
 *    `reports/r{s % 500}.ipynb`), the rest are ad hoc runs of `adhoc/a{i % 97}.ipynb`;
 *    10 jobs (one per 100,000) ran the rare notebook `rare/once.ipynb`.
 *  - the 30 newest are queued, the 20 before them running; the rest finished:
 *    85% succeeded, 8% failed, 4% cancelled, 3% timed_out (by (i / 200) % 100).
 *  - ids are the store's format (10 base32 digits of the creation time, 16 of
 *    "randomness", here i), so they sort as the real ones do.
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';

export const USERS = 200;
export const SCHEDULES = 2000;
export const STEP_MS = 15_000;
export const QUEUED = 30;
export const RUNNING = 20;
export const RARE_NOTEBOOK = 'rare/once.ipynb';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

type Dialect = 'sqlite' | 'pg';

/** SQL for the base32 digits of a non-negative integer expression, most significant first. */
function base32(expr: string, digits: number, d: Dialect): string {
  const parts: string[] = [];
  for (let k = digits - 1; k >= 0; k--) {
    const div = 32 ** k;
    const digit = `((${expr}) / ${div}) % 32`;
    parts.push(`substr('${ALPHABET}', ${d === 'pg' ? `(${digit})::int` : digit} + 1, 1)`);
  }
  return parts.join(' || ');
}

/** The SELECT list of the jobs insert, as a function of the series variable `i`. */
function jobColumns(n: number, t0: number, d: Dialect): { cols: string; select: string } {
  const created = `(${t0} + i * ${STEP_MS})`;
  const sched = `((i / 2000) % 10 < 7)`;
  const finishedState = `CASE WHEN (i / 200) % 100 < 85 THEN 'succeeded' WHEN (i / 200) % 100 < 93 THEN 'failed' WHEN (i / 200) % 100 < 97 THEN 'cancelled' ELSE 'timed_out' END`;
  const status = `CASE WHEN i >= ${n - QUEUED} THEN 'queued' WHEN i >= ${n - QUEUED - RUNNING} THEN 'running' ELSE ${finishedState} END`;
  const id = `(${base32(created, 10, d)} || ${base32('i', 16, d)})`;
  const bool = (cond: string) => (d === 'pg' ? `(${cond})` : `CASE WHEN ${cond} THEN 1 ELSE 0 END`);
  const notebook = `CASE WHEN i % 100000 = 12345 THEN '${RARE_NOTEBOOK}' WHEN ${sched} THEN 'reports/r' || ((i % 2000) % 500) || '.ipynb' ELSE 'adhoc/a' || (i % 97) || '.ipynb' END`;
  const started = `i < ${n - QUEUED}`;
  const finished = `i < ${n - QUEUED - RUNNING}`;
  const cols = [
    ['id', id],
    ['status', status],
    ['username', `'user' || (i % ${USERS})`],
    ['notebook', notebook],
    ['parameters', `'{"day":' || (i % 28) || ',"region":"eu"}'`],
    ['kernel', `'python3'`],
    ['timeout_s', 'NULL'],
    ['cell_timeout_s', 'NULL'],
    ['idempotency_key', 'NULL'],
    ['submitted_by', `CASE WHEN ${sched} THEN 'scheduler' ELSE 'user' || (i % ${USERS}) END`],
    ['source', `CASE WHEN ${sched} THEN 'schedule' ELSE 'api' END`],
    ['created_at_ms', created],
    ['started_at_ms', `CASE WHEN ${started} THEN ${created} + 1000 END`],
    ['finished_at_ms', `CASE WHEN ${finished} THEN ${created} + 1000 + i % 5000 END`],
    ['updated_at_ms', `CASE WHEN ${finished} THEN ${created} + 1000 + i % 5000 ELSE ${created} END`],
    ['output_path', `CASE WHEN ${started} THEN 'runs/' || ${id} || '.ipynb' END`],
    ['progress', `CASE WHEN ${finished} THEN '{"cells_total":12,"cells_done":12}' ELSE '{"cells_total":0,"cells_done":0}' END`],
    ['error', `CASE WHEN ${finished} AND ${finishedState} = 'failed' THEN '{"ename":"ValueError","evalue":"bad input","traceback":[],"cell_index":3}' END`],
    ['result', `CASE WHEN ${finished} AND ${finishedState} = 'succeeded' THEN '{"rows":' || (i % 1000) || '}' END`],
    ['cancel_requested', bool(`${finished} AND ${finishedState} = 'cancelled'`)],
    ['worker_id', `CASE WHEN ${started} THEN 'worker-' || (i % 3) END`],
    ['attempts', `CASE WHEN ${started} THEN 1 ELSE 0 END`],
    ['target', `'local'`],
    ['schedule_id', `CASE WHEN ${sched} THEN 'S' || (i % ${SCHEDULES}) END`],
    ['scheduled_for_ms', `CASE WHEN ${sched} THEN ${created} END`],
    ['attempt', '1'],
    ['schedule_settled', bool(finished)],
    ['server_name', 'NULL'],
  ];
  return { cols: cols.map((c) => c[0]).join(', '), select: cols.map((c) => c[1]).join(',\n  ') };
}

/** 2,000 paused schedules (they never fire during the bench), so the UI's schedule list has them. */
function scheduleInsert(t0: number, d: Dialect): string {
  const bool = (v: boolean) => (d === 'pg' ? String(v) : v ? '1' : '0');
  return `INSERT INTO schedules (id, owner, created_by, name, notebook, parameters, kernel, cron, timezone, overlap, max_concurrent,
      max_retries, retry_backoff_s, catchup, max_catchup, paused, next_run_at_ms, fires, created_at_ms, updated_at_ms)
    SELECT 'S' || s, 'user' || (s % ${USERS}), 'user' || (s % ${USERS}), 'report ' || s, 'reports/r' || (s % 500) || '.ipynb',
      '{}', 'python3', '0 * * * *', 'UTC', 'skip', 1, 0, 60, 'latest', 1, ${bool(true)}, NULL, 0, ${t0} + s, ${t0} + s
    FROM ${d === 'pg' ? `generate_series(0, ${SCHEDULES - 1}) AS g(s)` : 'gs'}`;
}

export function seedT0(n: number, nowMs: number): number {
  return nowMs - 3_600_000 - n * STEP_MS;
}

/** Seeds an SQLite store file whose migrations have run; one transaction. */
export function seedSqlite(db: Database.Database, n: number, t0: number): void {
  const { cols, select } = jobColumns(n, t0, 'sqlite');
  // The indexes of a million rows fit in memory: the insert does not spill half-built pages to the WAL.
  db.pragma('cache_size = -1048576');
  db.transaction(() => {
    db.prepare(`INSERT INTO jobs (${cols}) WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < ${n - 1}) SELECT ${select} FROM g`).run();
    db.prepare(scheduleInsert(t0, 'sqlite').replace('FROM gs', `FROM (WITH RECURSIVE gs(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM gs WHERE s < ${SCHEDULES - 1}) SELECT s FROM gs)`)).run();
  })();
}

/** Seeds a PostgreSQL schema whose migrations have run (the client's search_path is that schema), then ANALYZEs it. */
export async function seedPg(c: pg.ClientBase, n: number, t0: number): Promise<void> {
  const { cols, select } = jobColumns(n, t0, 'pg');
  await c.query('BEGIN');
  await c.query(`INSERT INTO jobs (${cols}) SELECT ${select} FROM generate_series(0::bigint, ${n - 1}) AS g(i)`);
  await c.query(scheduleInsert(t0, 'pg'));
  await c.query('COMMIT');
  await c.query('VACUUM ANALYZE jobs');
  await c.query('VACUUM ANALYZE schedules');
}
