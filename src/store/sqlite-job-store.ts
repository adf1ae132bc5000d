/**
 * The embedded job store: one SQLite file (better-sqlite3, WAL), safe to share
 * between processes on one machine. Every state change runs in a
 * `BEGIN IMMEDIATE` transaction, so `claimNext` can never hand one job to two
 * workers: the write lock is taken before the oldest queued job is read.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { HubmillError, InvalidTransitionError, NotFoundError, RunQuotaError } from '../errors.js';
import type { RunError } from '../engine/types.js';
import { encodeJsonValue } from '../notebook/parameters-json.js';
import {
  JOB_STATUSES,
  JOB_TRANSITIONS,
  TERMINAL_STATUSES,
  type FinalStatus,
  type Job,
  type JobPage,
  type JobProgress,
  type JobStatus,
  type JobStore,
  type ListJobsQuery,
  type NewJob,
} from './job-store.js';
import { rowToJob, type JobRow } from './job-row.js';
import { insertQueuedJob } from './sqlite-job-rows.js';
import { SQLITE_MIGRATIONS, type Migration } from './migrations/sqlite.js';
import { applyMigrations, StoreSchemaError } from './migrations/apply-sqlite.js';
import { decodeCursor, encodeCursor } from './cursor.js';

export { StoreSchemaError, decodeCursor, encodeCursor };

export interface SqliteJobStoreOptions {
  /** Path of the database file; its folder is created. `:memory:` works for throwaway stores. */
  path: string;
  /** How long a writer waits for another process's lock before SQLITE_BUSY (default 10 s). */
  busyTimeoutMs?: number;
  /** For tests: the clock. */
  now?: () => number;
  /** For tests: replace the migration list. */
  migrations?: readonly Migration[];
}


const TERMINAL_SQL = TERMINAL_STATUSES.map((s) => `'${s}'`).join(',');

export class SqliteJobStore implements JobStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly now: () => number;
  private closed = false;

  constructor(opts: SqliteJobStoreOptions) {
    this.path = opts.path;
    this.now = opts.now ?? Date.now;
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
    const busyTimeoutMs = opts.busyTimeoutMs ?? 10_000;
    this.db = new Database(opts.path, { timeout: busyTimeoutMs });
    this.db.pragma(`busy_timeout = ${Math.floor(busyTimeoutMs)}`);
    if (opts.path !== ':memory:') this.db.pragma('journal_mode = WAL');
    // WAL + NORMAL: durable across process crashes; only an OS crash may lose the last commits.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    applyMigrations(this.db, opts.migrations ?? SQLITE_MIGRATIONS, { path: this.path, now: this.now });
  }

  /** The connection, for the other SQLite stores on the same file (see SqliteScheduleStore): one file, one writer lock. */
  connection(): Database.Database {
    this.check();
    return this.db;
  }

  /** Ids of the applied migrations, for /health and tests. */
  appliedMigrations(): number[] {
    return (this.stmt('SELECT id FROM schema_migrations ORDER BY id').all() as { id: number }[]).map((r) => r.id);
  }

  /** Prepared once per SQL text (preparing costs more than running these small statements). */
  private readonly statements = new Map<string, Database.Statement>();

  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      if (this.statements.size < 500) this.statements.set(sql, st);
    }
    return st;
  }

  private row(id: string): JobRow | undefined {
    return this.stmt('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
  }

  private check(): void {
    if (this.closed) throw new HubmillError('the job store is closed');
  }

  async enqueue(job: NewJob): Promise<{ job: Job; created: boolean }> {
    this.check();
    const key = job.idempotency_key ?? null;
    const tx = this.db.transaction((): { job: Job; created: boolean } => {
      if (key !== null) {
        const existing = this
          .stmt('SELECT * FROM jobs WHERE username = ? AND idempotency_key = ?')
          .get(job.username, key) as JobRow | undefined;
        if (existing) return { job: rowToJob(existing), created: false };
      }
      if (job.max_active != null) this.checkQuota(job.username, job.max_active);
      return { job: insertQueuedJob(this.db, { ...job, idempotency_key: key }, this.now()), created: true };
    });
    return tx.immediate();
  }

  /** Inside enqueue's immediate transaction: no other writer can add a job between this count and the insert. */
  private checkQuota(username: string, maxActive: number): void {
    const rows = this
      .stmt(`SELECT status, COUNT(*) AS n FROM jobs WHERE username = ? AND status IN ('queued','running') GROUP BY status`)
      .all(username) as { status: JobStatus; n: number }[];
    const running = rows.find((r) => r.status === 'running')?.n ?? 0;
    const queued = rows.find((r) => r.status === 'queued')?.n ?? 0;
    if (running + queued >= maxActive) throw new RunQuotaError(username, { running, queued, maxActive });
  }

  async get(id: string): Promise<Job | null> {
    this.check();
    const r = this.row(id);
    return r ? rowToJob(r) : null;
  }

  async list(query: ListJobsQuery): Promise<JobPage> {
    this.check();
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.username !== undefined) {
      where.push('username = ?');
      args.push(query.username);
    }
    if (query.status !== undefined && query.status.length > 0) {
      const statuses = query.status.filter((s) => (JOB_STATUSES as readonly string[]).includes(s));
      if (statuses.length === 0) return { jobs: [], next_cursor: null };
      where.push(`status IN (${statuses.map(() => '?').join(',')})`);
      args.push(...statuses);
    }
    if (query.notebook !== undefined) {
      where.push('notebook = ?');
      args.push(query.notebook);
    }
    if (query.schedule_id !== undefined) {
      where.push('schedule_id = ?');
      args.push(query.schedule_id);
    }
    if (query.cursor !== undefined && query.cursor !== '') {
      const c = decodeCursor(query.cursor);
      where.push('(created_at_ms < ? OR (created_at_ms = ? AND id < ?))');
      args.push(c.createdAtMs, c.createdAtMs, c.id);
    }
    const limit = Math.max(1, Math.min(1000, Math.floor(query.limit) || 1));
    const sql = `SELECT * FROM jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
                 ORDER BY created_at_ms DESC, id DESC LIMIT ?`;
    const rows = this.stmt(sql).all(...args, limit + 1) as JobRow[];
    const page = rows.slice(0, limit).map(rowToJob);
    const last = page[page.length - 1];
    return { jobs: page, next_cursor: rows.length > limit && last ? encodeCursor(last.created_at_ms, last.id) : null };
  }

  async claimNext(workerId: string): Promise<Job | null> {
    this.check();
    const tx = this.db.transaction((): Job | null => {
      const now = this.now();
      const r = this
        .stmt(
          `UPDATE jobs SET status = 'running', worker_id = ?, started_at_ms = ?, updated_at_ms = ?, attempts = attempts + 1
           WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at_ms, id LIMIT 1) AND status = 'queued'
           RETURNING *`,
        )
        .get(workerId, now, now) as JobRow | undefined;
      return r ? rowToJob(r) : null;
    });
    return tx.immediate();
  }

  async updateProgress(id: string, progress: JobProgress, outputPath?: string | null): Promise<void> {
    this.check();
    const now = this.now();
    // Only a running job has progress; a late update after markFinished is dropped.
    if (outputPath === undefined) {
      this
        .stmt(`UPDATE jobs SET progress = ?, updated_at_ms = ? WHERE id = ? AND status = 'running'`)
        .run(encodeJsonValue(progress), now, id);
    } else {
      this
        .stmt(`UPDATE jobs SET progress = ?, output_path = ?, updated_at_ms = ? WHERE id = ? AND status = 'running'`)
        .run(encodeJsonValue(progress), outputPath, now, id);
    }
  }

  async markFinished(
    id: string,
    status: FinalStatus,
    fields: { error?: RunError | null; result?: Record<string, unknown> | null; progress?: JobProgress; output_path?: string | null; worker_id?: string; attempt?: number },
  ): Promise<Job> {
    this.check();
    const tx = this.db.transaction((): Job => {
      const r = this.row(id);
      if (!r) throw new NotFoundError(`job ${id} not found`);
      const claimLost =
        r.status !== 'running' || r.worker_id !== fields.worker_id || (fields.attempt !== undefined && r.attempts !== fields.attempt);
      if (fields.worker_id !== undefined && claimLost) {
        const err = new InvalidTransitionError(`job ${id} is no longer held by worker ${fields.worker_id} (its lease was reclaimed)`);
        Object.assign(err.extra, { job_id: id, from: r.status, to: status });
        throw err;
      }
      this.assertTransition(r, status);
      const now = this.now();
      const sets = ['status = ?', 'finished_at_ms = ?', 'updated_at_ms = ?'];
      const args: unknown[] = [status, now, now];
      if (fields.error !== undefined) {
        sets.push('error = ?');
        args.push(fields.error === null ? null : encodeJsonValue(fields.error));
      }
      if (fields.result !== undefined) {
        sets.push('result = ?');
        args.push(fields.result === null ? null : encodeJsonValue(fields.result));
      }
      if (fields.progress !== undefined) {
        sets.push('progress = ?');
        args.push(encodeJsonValue(fields.progress));
      }
      if (fields.output_path !== undefined) {
        sets.push('output_path = ?');
        args.push(fields.output_path);
      }
      this.stmt(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
      return rowToJob(this.row(id)!);
    });
    return tx.immediate();
  }

  private assertTransition(r: JobRow, to: JobStatus): void {
    if (!JOB_TRANSITIONS[r.status].includes(to)) {
      const err = new InvalidTransitionError(`job ${r.id} cannot go from ${r.status} to ${to}`);
      Object.assign(err.extra, { job_id: r.id, from: r.status, to });
      throw err;
    }
  }

  async requestCancel(id: string): Promise<Job | null> {
    this.check();
    const tx = this.db.transaction((): Job | null => {
      const r = this.row(id);
      if (!r) return null;
      const now = this.now();
      if (r.status === 'queued') {
        this
          .stmt(
            `UPDATE jobs SET status = 'cancelled', cancel_requested = 1, finished_at_ms = ?, updated_at_ms = ? WHERE id = ?`,
          )
          .run(now, now, id);
      } else if (r.status === 'running') {
        this.stmt('UPDATE jobs SET cancel_requested = 1 WHERE id = ?').run(id);
      }
      return rowToJob(this.row(id)!);
    });
    return tx.immediate();
  }

  async heartbeat(workerId: string, ids: string[]): Promise<string[]> {
    this.check();
    if (ids.length === 0) return [];
    const now = this.now();
    const stmt = this.stmt(`UPDATE jobs SET updated_at_ms = ? WHERE id = ? AND status = 'running' AND worker_id = ?`);
    return this.db.transaction(() => ids.filter((id) => stmt.run(now, id, workerId).changes === 0)).immediate();
  }

  async recoverInterrupted(opts: {
    staleBeforeMs: number;
    exceptWorkerId?: string;
    requeue: boolean;
    reason: string;
  }): Promise<Job[]> {
    this.check();
    const tx = this.db.transaction((): Job[] => {
      const conds = ['updated_at_ms < ?'];
      const args: unknown[] = [opts.staleBeforeMs];
      if (opts.exceptWorkerId !== undefined) {
        conds.push('worker_id IS NOT ?');
        args.push(opts.exceptWorkerId);
      }
      const rows = this
        .stmt(
          `SELECT * FROM jobs WHERE status = 'running' AND ${conds.join(' AND ')} ORDER BY created_at_ms, id`,
        )
        .all(...args) as JobRow[];
      const now = this.now();
      const error: RunError = { ename: 'JobInterrupted', evalue: opts.reason, traceback: [], cell_index: null };
      for (const r of rows) {
        if (opts.requeue && r.cancel_requested === 0) {
          this
            .stmt(
              `UPDATE jobs SET status = 'queued', worker_id = NULL, started_at_ms = NULL, updated_at_ms = ?,
                 progress = '{"cells_total":0,"cells_done":0}' WHERE id = ?`,
            )
            .run(now, r.id);
        } else {
          const status: FinalStatus = r.cancel_requested !== 0 ? 'cancelled' : 'failed';
          this
            .stmt(`UPDATE jobs SET status = ?, error = ?, finished_at_ms = ?, updated_at_ms = ? WHERE id = ?`)
            .run(status, encodeJsonValue(error), now, now, r.id);
        }
      }
      return rows.map((r) => rowToJob(this.row(r.id)!));
    });
    return tx.immediate();
  }

  async countByStatus(): Promise<Record<JobStatus, number>> {
    this.check();
    const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    const rows = this.stmt('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status').all() as { status: JobStatus; n: number }[];
    for (const r of rows) counts[r.status] = r.n;
    return counts;
  }

  async pruneFinishedBefore(cutoffMs: number, limit: number): Promise<Job[]> {
    this.check();
    return this.deleteWhere(
      // `+status`: not the status index (which would sort every finished job for each batch) but jobs_finished_id, in order.
      `SELECT * FROM jobs WHERE +status IN (${TERMINAL_SQL}) AND finished_at_ms < ? ORDER BY finished_at_ms, id LIMIT ?`,
      [cutoffMs, Math.max(0, Math.floor(limit))],
    );
  }

  async pruneFinishedBeyond(keep: number, limit: number): Promise<Job[]> {
    this.check();
    return this.deleteWhere(
      // Every finished job has finished_at_ms; saying so lets jobs_finished_id give the order (see pruneFinishedBefore).
      `SELECT * FROM jobs WHERE +status IN (${TERMINAL_SQL}) AND finished_at_ms IS NOT NULL
       ORDER BY finished_at_ms DESC, id DESC LIMIT ? OFFSET ?`,
      [Math.max(0, Math.floor(limit)), Math.max(0, Math.floor(keep))],
    );
  }

  private deleteWhere(selectSql: string, args: unknown[]): Promise<Job[]> {
    // Chosen before the write transaction (a WAL read blocks no writer), so the write lock is held for the deletes only,
    // never for the scan (pruneFinishedBeyond's OFFSET walks every job it keeps). A finished job stays finished; one
    // another process deleted meanwhile is left out.
    const rows = this.stmt(selectSql).all(...args) as JobRow[];
    const del = this.stmt(`DELETE FROM jobs WHERE id = ? AND status IN (${TERMINAL_SQL})`);
    const tx = this.db.transaction((): Job[] => rows.filter((r) => del.run(r.id).changes === 1).map(rowToJob));
    return Promise.resolve(tx.immediate());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
