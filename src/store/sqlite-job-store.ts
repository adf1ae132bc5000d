/**
 * The embedded job store: one SQLite file (better-sqlite3, WAL), safe to share
 * between processes on one machine. Every state change runs in a
 * `BEGIN IMMEDIATE` transaction, so `claimNext` can never hand one job to two
 * workers: the write lock is taken before the oldest queued job is read.
 * The statements and rules are the store core's (core/), shared with
 * PostgreSQL; this file runs them. A pipeline job's end advances its run in
 * the same transaction (core/pipeline-runs.ts); jobs queued so wake this
 * process's runners at once (`onJobQueued`), other processes at their poll.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { HubmillError } from '../errors.js';
import type {
  ActiveCounts,
  ClaimOptions,
  FinalStatus,
  Job,
  JobPage,
  JobProgress,
  JobStatus,
  JobStore,
  ListJobsQuery,
  NewJob,
} from './job-store.js';
import { rowToJob, type JobRow } from './core/job-row.js';
import { insertQueuedJob } from './sqlite-job-rows.js';
import { SQLITE_MIGRATIONS, type Migration } from './migrations/sqlite.js';
import { applyMigrations, StoreSchemaError } from './migrations/apply-sqlite.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { SQLITE, type Sql } from './core/dialect.js';
import { JobSql, type FinishFields } from './core/job-sql.js';
import { byCreation, byFinish, checkQuota, emptyCounts, finishRefusal, interruptedError } from './core/job-rules.js';
import { pageOf } from './core/page.js';
import { noEffects, PipelineRuns, type RunEffects } from './core/pipeline-runs.js';
import { runSync, type Row, type Steps } from './core/steps.js';

export { StoreSchemaError, decodeCursor, encodeCursor };

const SQL = new JobSql(SQLITE);

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

export class SqliteJobStore implements JobStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly now: () => number;
  private closed = false;
  private readonly runs = new PipelineRuns(SQLITE);
  private readonly queuedListeners = new Set<() => void>();

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
    // Up to 64 MB of pages per connection (SQLite's default is 2 MB): with a long history the upper levels of
    // the job indexes stay cached, and a claim and a finish cost about what they cost on an empty store
    // (bench/million.ts: about 1.15x at a million jobs, 1.25x with the default). Memory is taken only as pages are read.
    this.db.pragma('cache_size = -65536');
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
    return this.one<JobRow>(SQL.byId(id));
  }

  private check(): void {
    if (this.closed) throw new HubmillError('the job store is closed');
  }

  /** One statement of store-core steps: its rows (none for a statement that returns nothing). */
  private exec(q: Sql): Row[] {
    const st = this.stmt(q.text);
    if (st.reader) return st.all(...q.args) as Row[];
    st.run(...q.args);
    return [];
  }

  /** Runs store-core steps (core/steps.ts) on this connection; the caller holds the transaction. */
  runSteps<T>(steps: Steps<T>): T {
    return runSync(steps, (q) => this.exec(q));
  }

  /** In the transaction that changed them: the runs of the pipeline jobs among `rows` advance. */
  private advanceRuns(rows: readonly JobRow[], now: number): RunEffects {
    const fx = noEffects();
    this.runSteps(this.runs.afterJobsEnded(rows, now, fx));
    return fx;
  }

  /** After the commit of a transaction that queued pipeline jobs: this process's runners claim them at once. */
  announce(fx: RunEffects | null): void {
    if (!fx || fx.queued === 0) return;
    for (const listener of this.queuedListeners) {
      try {
        listener();
      } catch {
        // A listener's failure is its own; the others still hear.
      }
    }
  }

  /** Calls `listener` after this process queues pipeline jobs (other processes find them at their poll); returns the unsubscribe. */
  onJobQueued(listener: () => void): () => void {
    this.queuedListeners.add(listener);
    return () => this.queuedListeners.delete(listener);
  }

  private all<R>(q: Sql): R[] {
    return this.stmt(q.text).all(...q.args) as R[];
  }

  private one<R>(q: Sql): R | undefined {
    return this.stmt(q.text).get(...q.args) as R | undefined;
  }

  async enqueue(job: NewJob): Promise<{ job: Job; created: boolean }> {
    this.check();
    const key = job.idempotency_key ?? null;
    const tx = this.db.transaction((): { job: Job; created: boolean } => {
      if (key !== null) {
        const existing = this.one<JobRow>(SQL.byIdempotencyKey(job.username, key));
        if (existing) return { job: rowToJob(existing), created: false };
      }
      // Inside the immediate transaction: no other writer can add a job between this count and the insert.
      if (job.max_active != null) checkQuota(job.username, this.all(SQL.activeCounts(job.username)), job.max_active);
      return { job: insertQueuedJob(this.db, { ...job, idempotency_key: key }, this.now()), created: true };
    });
    return tx.immediate();
  }

  async get(id: string): Promise<Job | null> {
    this.check();
    const r = this.row(id);
    return r ? rowToJob(r) : null;
  }

  async list(query: ListJobsQuery): Promise<JobPage> {
    this.check();
    const q = SQL.list(query);
    if (!q) return { jobs: [], next_cursor: null };
    const page = pageOf(this.all<JobRow>(q), q.limit);
    return { jobs: page.rows.map(rowToJob), next_cursor: page.next_cursor };
  }

  async claimNext(workerId: string, opts: ClaimOptions = {}): Promise<Job | null> {
    this.check();
    // Nothing ready (the idle poll, twice a second): a read, without the write lock and its transaction.
    if (!this.one(SQL.anyReady(this.now()))) return null;
    // One statement under the write lock: the per-user count and the claim see the same jobs.
    const r = this.db.transaction(() => this.one<JobRow>(SQL.claim(workerId, this.now(), opts.maxRunningPerUser ?? null))).immediate();
    return r ? rowToJob(r) : null;
  }

  async updateProgress(id: string, progress: JobProgress, outputPath?: string | null): Promise<void> {
    this.check();
    const q = SQL.progress(id, progress, outputPath, this.now());
    this.stmt(q.text).run(...q.args);
  }

  async markFinished(id: string, status: FinalStatus, fields: FinishFields): Promise<Job> {
    this.check();
    const tx = this.db.transaction((): [JobRow, RunEffects | null] => {
      const now = this.now();
      const r = this.one<JobRow>(SQL.finish(id, status, now, fields));
      if (!r) throw finishRefusal(id, this.row(id), status, fields.worker_id);
      return [r, r.pipeline_run_id == null ? null : this.advanceRuns([r], now)];
    });
    const [r, fx] = tx.immediate();
    this.announce(fx);
    return rowToJob(r);
  }

  async requestCancel(id: string): Promise<Job | null> {
    this.check();
    const tx = this.db.transaction((): [JobRow | undefined, RunEffects | null] => {
      const now = this.now();
      const r = this.one<JobRow>(SQL.cancel(id, now));
      return [r, r?.pipeline_run_id == null ? null : this.advanceRuns([r], now)];
    });
    const [r, fx] = tx.immediate();
    this.announce(fx);
    return r ? rowToJob(r) : null;
  }

  async heartbeat(workerId: string, ids: string[]): Promise<string[]> {
    this.check();
    if (ids.length === 0) return [];
    const held = new Set(this.all<{ id: string }>(SQL.heartbeat(workerId, ids, this.now())).map((r) => r.id));
    return ids.filter((id) => !held.has(id));
  }

  async recoverInterrupted(opts: {
    staleBeforeMs: number;
    exceptWorkerId?: string;
    requeue: boolean;
    reason: string;
  }): Promise<Job[]> {
    this.check();
    const now = this.now();
    const q = SQL.recover(opts.staleBeforeMs, opts.exceptWorkerId ?? null, opts.requeue, interruptedError(opts.reason), now);
    const tx = this.db.transaction((): [JobRow[], RunEffects | null] => {
      const rows = this.all<JobRow>(q);
      return [rows, rows.some((r) => r.pipeline_run_id != null) ? this.advanceRuns(rows, now) : null];
    });
    const [rows, fx] = tx.immediate();
    this.announce(fx);
    return rows.sort(byCreation).map(rowToJob);
  }

  async countByStatus(): Promise<Record<JobStatus, number>> {
    this.check();
    const counts = emptyCounts();
    for (const r of this.all<{ status: JobStatus; n: number }>(SQL.countByStatus())) counts[r.status] = r.n;
    return counts;
  }

  async countActive(): Promise<ActiveCounts> {
    this.check();
    const r = this.all<ActiveCounts>(SQL.countActive())[0]!;
    return { queued: Number(r.queued), running: Number(r.running) };
  }

  async pruneFinishedBefore(cutoffMs: number, limit: number): Promise<Job[]> {
    this.check();
    return this.deleteChosen(SQL.pickBefore(cutoffMs, limit)).sort(byFinish).map(rowToJob);
  }

  async pruneFinishedBeyond(keep: number, limit: number): Promise<Job[]> {
    this.check();
    return this.deleteChosen(SQL.pickBeyond(keep, limit)).sort((a, b) => byFinish(b, a)).map(rowToJob);
  }

  /**
   * Retention's deletes: the jobs are chosen before the write transaction (a WAL read blocks no writer), so the
   * write lock is held for the deletes only, never for the scan (pickBeyond's OFFSET walks every job it keeps).
   * A finished job stays finished; one another process deleted meanwhile is left out.
   */
  private deleteChosen(pick: Sql): JobRow[] {
    const ids = this.all<{ id: string }>(pick).map((r) => r.id);
    const rows = this.db.transaction((): JobRow[] => ids.flatMap((id) => this.all<JobRow>(SQL.deleteFinished(id)))).immediate();
    // A batch of deletes fills the WAL; checkpoint it here, in the pruner, so the automatic checkpoint (with its
    // fsync) does not fall to whichever claimer's commit crosses the threshold next. PASSIVE: never waits for anyone.
    if (rows.length > 0 && this.db.name !== ':memory:') this.db.pragma('wal_checkpoint(PASSIVE)');
    return rows;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
