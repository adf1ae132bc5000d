/**
 * The PostgreSQL job store: the same contract as SqliteJobStore for nodes on
 * many machines. Claims take the oldest queued job with
 * `FOR UPDATE SKIP LOCKED` (claimers never wait on each other and never share a
 * job); decisions that read then write lock their rows first, and a user's
 * enqueues take a per-user advisory lock so a run quota holds across nodes.
 * Enqueues NOTIFY `hubmill_job_queued` in their transaction; `onJobQueued`
 * (and the schedule store's `onSchedulesChanged`) LISTEN on one dedicated
 * connection (listener.ts).
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { HubmillError, InvalidTransitionError, NotFoundError, RunQuotaError } from '../../errors.js';
import type { RunError } from '../../engine/types.js';
import { encodeJsonValue } from '../../notebook/parameters-json.js';
import {
  JOB_STATUSES,
  JOB_TRANSITIONS,
  type FinalStatus,
  type Job,
  type JobPage,
  type JobProgress,
  type JobStatus,
  type JobStore,
  type ListJobsQuery,
  type NewJob,
} from '../job-store.js';
import { newestFirstPage } from './page.js';
import { PG_MIGRATIONS, type PgMigration } from '../migrations/postgres.js';
import { applyPgMigrations } from '../migrations/apply-postgres.js';
import { createPool, parseDatabaseUrl, query, translatePgError, withTx, type PgTarget } from './connect.js';
import { rowToJob, type JobRow } from '../job-row.js';
import { byCreation, byFinish, insertQueuedJob, JOB_QUEUED_CHANNEL, TERMINAL_SQL } from './job-rows.js';
import { StoreListener, type StoreChannel } from './listener.js';
import { DbClock } from './clock.js';

export interface PgJobStoreOptions {
  /** postgresql://…, optionally with `?schema=name` (default `public`). */
  url: string;
  /** Overrides the URL's schema (tests use a fresh one per run). */
  schema?: string;
  /** Connections in the pool (default 10), besides the LISTEN connection. */
  poolMax?: number;
  logger?: Logger;
  /** For tests: the clock (default: the database's, see clock.ts). */
  now?: () => number;
  /** For tests: replace the migration list. */
  migrations?: readonly PgMigration[];
  /**
   * For the bench only: every commit skips the WAL flush wait, as SQLite's WAL
   * with synchronous=NORMAL does; a server crash may then lose acknowledged jobs.
   */
  asyncCommit?: boolean;
}

/** The advisory lock class of per-user enqueues ('hubq'); the second key is the user name's hash. */
const ENQUEUE_LOCK_CLASS = 0x68756271;

export class PgJobStore implements JobStore {
  readonly schema: string;
  private readonly listener: StoreListener;
  /** Lease renewals and progress: frequent, and harmless to lose in a server crash, so they skip the WAL flush wait. */
  private readonly renewals: pg.Pool;
  private closed = false;

  private constructor(
    readonly pool: pg.Pool,
    readonly target: PgTarget,
    readonly now: () => number,
    private readonly applied: number[],
    logger?: Logger,
    private readonly clock: DbClock | null = null,
  ) {
    this.schema = target.schema;
    this.listener = new StoreListener(target, logger);
    this.renewals = createPool(target, { max: 2, logger, asyncCommit: true });
  }

  /** Connects, applies pending migrations (under an advisory lock) and returns the store. */
  static async open(opts: PgJobStoreOptions): Promise<PgJobStore> {
    const target = parseDatabaseUrl(opts.url, opts.schema);
    const pool = createPool(target, { max: opts.poolMax, logger: opts.logger, asyncCommit: opts.asyncCommit });
    const clock = opts.now ? null : new DbClock(pool, opts.logger);
    const now = opts.now ?? clock!.now;
    try {
      await clock?.sync();
      const c = await pool.connect();
      let applied: number[];
      try {
        applied = await applyPgMigrations(c, opts.migrations ?? PG_MIGRATIONS, {
          schema: target.schema,
          where: `schema ${target.schema} of ${redactUrl(target.connectionString)}`,
          now,
        });
      } finally {
        c.release();
      }
      clock?.start();
      return new PgJobStore(pool, target, now, applied, opts.logger, clock);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
  }

  /** Versions of the applied migrations, for /health and tests. */
  appliedMigrations(): number[] {
    return [...this.applied];
  }

  private check(): void {
    if (this.closed) throw new HubmillError('the job store is closed');
  }

  private async row(id: string): Promise<JobRow | undefined> {
    return (await query<JobRow>(this.pool, 'SELECT * FROM jobs WHERE id = $1', [id])).rows[0];
  }

  async enqueue(job: NewJob): Promise<{ job: Job; created: boolean }> {
    this.check();
    const key = job.idempotency_key ?? null;
    if (key === null && job.max_active == null) {
      // Nothing to check first: one statement, the insert and its NOTIFY commit together.
      try {
        return { job: (await insertQueuedJob(this.pool, this.schema, job, this.now()))!, created: true };
      } catch (err) {
        throw translatePgError(err);
      }
    }
    return withTx(this.pool, async (c) => {
      // One such enqueue per user at a time: the key lookup, the quota count and the insert see the same jobs.
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ENQUEUE_LOCK_CLASS, job.username]);
      if (key !== null) {
        const existing = await c.query<JobRow>('SELECT * FROM jobs WHERE username = $1 AND idempotency_key = $2', [job.username, key]);
        if (existing.rows[0]) return { job: rowToJob(existing.rows[0]), created: false };
      }
      if (job.max_active != null) await this.checkQuota(c, job.username, job.max_active);
      const created = await insertQueuedJob(c, this.schema, { ...job, idempotency_key: key }, this.now());
      return { job: created!, created: true };
    });
  }

  private async checkQuota(c: pg.ClientBase, username: string, maxActive: number): Promise<void> {
    const res = await c.query<{ status: JobStatus; n: number }>(
      `SELECT status, COUNT(*)::int AS n FROM jobs WHERE username = $1 AND status IN ('queued','running') GROUP BY status`,
      [username],
    );
    const running = res.rows.find((r) => r.status === 'running')?.n ?? 0;
    const queued = res.rows.find((r) => r.status === 'queued')?.n ?? 0;
    if (running + queued >= maxActive) throw new RunQuotaError(username, { running, queued, maxActive });
  }

  async get(id: string): Promise<Job | null> {
    this.check();
    const r = await this.row(id);
    return r ? rowToJob(r) : null;
  }

  async list(q: ListJobsQuery): Promise<JobPage> {
    this.check();
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => `$${args.push(v)}`;
    if (q.username !== undefined) where.push(`username = ${arg(q.username)}`);
    if (q.status !== undefined && q.status.length > 0) {
      const statuses = q.status.filter((s) => (JOB_STATUSES as readonly string[]).includes(s));
      if (statuses.length === 0) return { jobs: [], next_cursor: null };
      // One status as an equality: an index scan in (status, created_at_ms, id) order, which = ANY cannot give on PostgreSQL < 17.
      where.push(statuses.length === 1 ? `status = ${arg(statuses[0])}` : `status = ANY(${arg(statuses)}::text[])`);
    }
    if (q.notebook !== undefined) where.push(`notebook = ${arg(q.notebook)}`);
    if (q.schedule_id !== undefined) where.push(`schedule_id = ${arg(q.schedule_id)}`);
    const page = await newestFirstPage<JobRow>(this.pool, 'jobs', where, args, q.cursor, q.limit);
    return { jobs: page.rows.map(rowToJob), next_cursor: page.next_cursor };
  }

  async claimNext(workerId: string): Promise<Job | null> {
    this.check();
    const now = this.now();
    // One statement: the oldest queued job no other claimer holds, locked and taken; claimers skip each other's rows.
    const r = (
      await query<JobRow>(
        this.pool,
        `UPDATE jobs SET status = 'running', worker_id = $1, started_at_ms = $2, updated_at_ms = $2, attempts = attempts + 1
         WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at_ms, id LIMIT 1 FOR UPDATE SKIP LOCKED)
           AND status = 'queued'
         RETURNING *`,
        [workerId, now],
      )
    ).rows[0];
    return r ? rowToJob(r) : null;
  }

  async updateProgress(id: string, progress: JobProgress, outputPath?: string | null): Promise<void> {
    this.check();
    // Only a running job has progress; a late update after markFinished is dropped.
    if (outputPath === undefined) {
      await query(this.renewals, `UPDATE jobs SET progress = $1, updated_at_ms = $2 WHERE id = $3 AND status = 'running'`, [
        encodeJsonValue(progress),
        this.now(),
        id,
      ]);
    } else {
      await query(this.renewals, `UPDATE jobs SET progress = $1, output_path = $2, updated_at_ms = $3 WHERE id = $4 AND status = 'running'`, [
        encodeJsonValue(progress),
        outputPath,
        this.now(),
        id,
      ]);
    }
  }

  async markFinished(
    id: string,
    status: FinalStatus,
    fields: { error?: RunError | null; result?: Record<string, unknown> | null; progress?: JobProgress; output_path?: string | null; worker_id?: string; attempt?: number },
  ): Promise<Job> {
    this.check();
    // One conditional UPDATE (the row is locked and the conditions re-checked): the transition is allowed
    // and, for a worker's record, its claim still holds. Only a refusal reads the row, to say why.
    const from = JOB_STATUSES.filter((s) => JOB_TRANSITIONS[s].includes(status));
    const now = this.now();
    const args: unknown[] = [status, now, id, from];
    const sets = ['status = $1', 'finished_at_ms = $2', 'updated_at_ms = $2'];
    const set = (col: string, v: unknown) => sets.push(`${col} = $${args.push(v)}`);
    if (fields.error !== undefined) set('error', fields.error === null ? null : encodeJsonValue(fields.error));
    if (fields.result !== undefined) set('result', fields.result === null ? null : encodeJsonValue(fields.result));
    if (fields.progress !== undefined) set('progress', encodeJsonValue(fields.progress));
    if (fields.output_path !== undefined) set('output_path', fields.output_path);
    const conds = ['id = $3', 'status = ANY($4::text[])'];
    if (fields.worker_id !== undefined) {
      conds.push(`status = 'running'`, `worker_id = $${args.push(fields.worker_id)}`);
      if (fields.attempt !== undefined) conds.push(`attempts = $${args.push(fields.attempt)}`);
    }
    const res = await query<JobRow>(this.pool, `UPDATE jobs SET ${sets.join(', ')} WHERE ${conds.join(' AND ')} RETURNING *`, args);
    if (res.rows[0]) return rowToJob(res.rows[0]);
    const r = await this.row(id);
    if (!r) throw new NotFoundError(`job ${id} not found`);
    if (fields.worker_id !== undefined) {
      const err = new InvalidTransitionError(`job ${id} is no longer held by worker ${fields.worker_id} (its lease was reclaimed)`);
      Object.assign(err.extra, { job_id: id, from: r.status, to: status });
      throw err;
    }
    assertTransition(r, status);
    // Allowed now but refused a moment ago: its state changed in between; the caller sees the current one refused.
    const err = new InvalidTransitionError(`job ${id} changed state while it was being finished (now ${r.status})`);
    Object.assign(err.extra, { job_id: id, from: r.status, to: status });
    throw err;
  }

  async requestCancel(id: string): Promise<Job | null> {
    this.check();
    const now = this.now();
    const r = (
      await query<JobRow>(
        this.pool,
        `UPDATE jobs SET
           cancel_requested = CASE WHEN status IN ('queued','running') THEN true ELSE cancel_requested END,
           status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
           finished_at_ms = CASE WHEN status = 'queued' THEN $2 ELSE finished_at_ms END,
           updated_at_ms = CASE WHEN status = 'queued' THEN $2 ELSE updated_at_ms END
         WHERE id = $1 RETURNING *`,
        [id, now],
      )
    ).rows[0];
    return r ? rowToJob(r) : null;
  }

  async heartbeat(workerId: string, ids: string[]): Promise<string[]> {
    this.check();
    if (ids.length === 0) return [];
    const res = await query<{ id: string }>(
      this.renewals,
      `UPDATE jobs SET updated_at_ms = $1 WHERE id = ANY($2::text[]) AND status = 'running' AND worker_id = $3 RETURNING id`,
      [this.now(), ids, workerId],
    );
    const held = new Set(res.rows.map((r) => r.id));
    return ids.filter((id) => !held.has(id));
  }

  async recoverInterrupted(opts: { staleBeforeMs: number; exceptWorkerId?: string; requeue: boolean; reason: string }): Promise<Job[]> {
    this.check();
    const error: RunError = { ename: 'JobInterrupted', evalue: opts.reason, traceback: [], cell_index: null };
    // Rows are locked and re-checked: a lease renewed meanwhile is no longer stale, and is left alone.
    const res = await query<JobRow>(
      this.pool,
      `WITH stale AS (
         SELECT id FROM jobs WHERE status = 'running' AND updated_at_ms < $1 AND worker_id IS DISTINCT FROM $2
         FOR UPDATE SKIP LOCKED)
       UPDATE jobs j SET
         status = CASE WHEN $3 AND NOT j.cancel_requested THEN 'queued' WHEN j.cancel_requested THEN 'cancelled' ELSE 'failed' END,
         worker_id = CASE WHEN $3 AND NOT j.cancel_requested THEN NULL ELSE j.worker_id END,
         started_at_ms = CASE WHEN $3 AND NOT j.cancel_requested THEN NULL ELSE j.started_at_ms END,
         progress = CASE WHEN $3 AND NOT j.cancel_requested THEN '{"cells_total":0,"cells_done":0}' ELSE j.progress END,
         error = CASE WHEN $3 AND NOT j.cancel_requested THEN j.error ELSE $4 END,
         finished_at_ms = CASE WHEN $3 AND NOT j.cancel_requested THEN j.finished_at_ms ELSE $5 END,
         updated_at_ms = $5
       FROM stale WHERE j.id = stale.id
       RETURNING j.*`,
      // The caller's cutoff is on its own clock; the heartbeats are on the database's.
      [opts.staleBeforeMs + (this.clock?.offsetMs ?? 0), opts.exceptWorkerId ?? null, opts.requeue, encodeJsonValue(error), this.now()],
    );
    if (res.rows.some((r) => r.status === 'queued')) await query(this.pool, 'SELECT pg_notify($1, $2)', [JOB_QUEUED_CHANNEL, this.schema]);
    return res.rows.sort(byCreation).map(rowToJob);
  }

  async countByStatus(): Promise<Record<JobStatus, number>> {
    this.check();
    const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    const res = await query<{ status: JobStatus; n: number }>(this.pool, 'SELECT status, COUNT(*)::int AS n FROM jobs GROUP BY status');
    for (const r of res.rows) counts[r.status] = r.n;
    return counts;
  }

  async pruneFinishedBefore(cutoffMs: number, limit: number): Promise<Job[]> {
    this.check();
    const rows = await this.deleteChosen(
      `SELECT id FROM jobs WHERE status IN (${TERMINAL_SQL}) AND finished_at_ms < $1 ORDER BY finished_at_ms, id LIMIT $2`,
      [cutoffMs, Math.max(0, Math.floor(limit))],
    );
    return rows.sort(byFinish).map(rowToJob);
  }

  async pruneFinishedBeyond(keep: number, limit: number): Promise<Job[]> {
    this.check();
    const rows = await this.deleteChosen(
      `SELECT id FROM jobs WHERE status IN (${TERMINAL_SQL}) ORDER BY finished_at_ms DESC, id DESC LIMIT $1 OFFSET $2`,
      [Math.max(0, Math.floor(limit)), Math.max(0, Math.floor(keep))],
    );
    return rows.sort((a, b) => byFinish(b, a)).map(rowToJob);
  }

  private async deleteChosen(selectIds: string, args: unknown[]): Promise<JobRow[]> {
    return (await query<JobRow>(this.pool, `DELETE FROM jobs WHERE id IN (${selectIds}) RETURNING *`, args)).rows;
  }

  /** Calls `listener` whenever a job is queued in this store, by any node (LISTEN/NOTIFY); returns the unsubscribe. */
  onJobQueued(listener: () => void): () => void {
    return this.onNotification(JOB_QUEUED_CHANNEL, listener);
  }

  /** Calls `listener` on each notice on `channel` for this store's schema, from any node; shares the one LISTEN connection. */
  onNotification(channel: StoreChannel, listener: () => void): () => void {
    this.check();
    return this.listener.add(channel, listener);
  }

  /** Resolves once the LISTEN connection is in force (after the first `onJobQueued` or `onNotification`). */
  listening(): Promise<void> {
    return this.listener.ready();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock?.stop();
    await this.listener.close();
    await this.renewals.end();
    await this.pool.end();
  }
}

function assertTransition(r: JobRow, to: JobStatus): void {
  if (!JOB_TRANSITIONS[r.status].includes(to)) {
    const err = new InvalidTransitionError(`job ${r.id} cannot go from ${r.status} to ${to}`);
    Object.assign(err.extra, { job_id: r.id, from: r.status, to });
    throw err;
  }
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<database URL>';
  }
}
