/**
 * The PostgreSQL job store: the same contract as SqliteJobStore for nodes on
 * many machines. Claims take the oldest queued job with
 * `FOR UPDATE SKIP LOCKED` (claimers never wait on each other and never share a
 * job); decisions that read then write lock their rows first, and a user's
 * enqueues take a per-user advisory lock so a run quota holds across nodes.
 * Claims bounded per user (`maxRunningPerUser`) take the same per-user lock and
 * recount the user's running jobs, so the bound holds across nodes too.
 * Enqueues NOTIFY `hubmill_job_queued` in their transaction; `onJobQueued`
 * (and the schedule store's `onSchedulesChanged`) LISTEN on the process's one
 * LISTEN connection (listener.ts), which the event bus shares.
 * The statements and rules are the store core's (../core/); this file runs them.
 * A job outside pipelines ends in one statement, as before; that statement
 * leaves pipeline jobs out, and their end takes a transaction that locks the
 * run, records the end and advances the run (core/pipeline-runs.ts), its new
 * jobs announced by NOTIFY at commit.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { HubmillError } from '../../errors.js';
import type { ActiveCounts, ClaimOptions, FinalStatus, Job, JobPage, JobProgress, JobStatus, JobStore, ListJobsQuery, NewJob } from '../job-store.js';
import { PG_MIGRATIONS, type PgMigration } from '../migrations/postgres.js';
import { applyPgMigrations } from '../migrations/apply-postgres.js';
import { clientConfig, createPool, parseDatabaseUrl, translatePgError, withTx, type PgTarget } from './connect.js';
import { rowToJob, type JobRow } from '../core/job-row.js';
import { POSTGRES, type Sql } from '../core/dialect.js';
import { JobSql, type FinishFields } from '../core/job-sql.js';
import { byCreation, byFinish, checkQuota, emptyCounts, finishRefusal, interruptedError } from '../core/job-rules.js';
import { pageOf } from '../core/page.js';
import { noEffects, PipelineRuns, type RunEffects } from '../core/pipeline-runs.js';
import { rowsOf, runAsync, type Row, type Steps } from '../core/steps.js';
import { insertQueuedJob } from './job-rows.js';
import { JOB_QUEUED_CHANNEL, type StoreChannel } from './channels.js';
import { PgListener } from './listener.js';
import { DbClock } from './db-clock.js';

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

const SQL = new JobSql(POSTGRES);
const RUNS = new PipelineRuns(POSTGRES);

/** The advisory lock class of per-user enqueues and bounded claims ('hubq'); the second key is the user name's hash. */
const ENQUEUE_LOCK_CLASS = 0x68756271;
/** A bounded claim tries at most this many users at their limit before it gives up until the next poll or wake-up. */
const CLAIM_TRIES = 8;

export class PgJobStore implements JobStore {
  readonly schema: string;
  /** The LISTEN connection of this store, shared with the event bus (server-roles.ts). */
  readonly listener: PgListener;
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
    // Named after its schema, so an operator (or a test) can tell the LISTEN connections apart.
    this.listener = new PgListener({ connection: clientConfig(target), applicationName: `hubmill-listen:${target.schema}`, logger });
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

  private async rows<R extends pg.QueryResultRow>(q: Sql, on: pg.Pool | pg.ClientBase = this.pool): Promise<R[]> {
    try {
      return (await on.query<R>(q.text, q.args)).rows;
    } catch (err) {
      throw translatePgError(err);
    }
  }

  /**
   * Runs store-core steps (core/steps.ts) in one transaction (retried whole on a deadlock: `make` builds them
   * afresh each time); the jobs they queued are announced (NOTIFY, delivered at commit).
   */
  async runSteps<T>(make: (fx: RunEffects) => Steps<T>): Promise<T> {
    this.check();
    return withTx(this.pool, async (c) => {
      const fx = noEffects();
      const out = await runAsync(make(fx), async (q): Promise<Row[]> => (await c.query<Row>(q.text, q.args)).rows);
      if (fx.queued > 0) await c.query('SELECT pg_notify($1, $2)', [JOB_QUEUED_CHANNEL, this.schema]);
      return out;
    });
  }

  private async row(id: string): Promise<JobRow | undefined> {
    return (await this.rows<JobRow>(SQL.byId(id)))[0];
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
        const existing = (await this.rows<JobRow>(SQL.byIdempotencyKey(job.username, key), c))[0];
        if (existing) return { job: rowToJob(existing), created: false };
      }
      if (job.max_active != null) checkQuota(job.username, await this.rows(SQL.activeCounts(job.username), c), job.max_active);
      const created = await insertQueuedJob(c, this.schema, { ...job, idempotency_key: key }, this.now());
      return { job: created!, created: true };
    });
  }

  async get(id: string): Promise<Job | null> {
    this.check();
    const r = await this.row(id);
    return r ? rowToJob(r) : null;
  }

  async list(query: ListJobsQuery): Promise<JobPage> {
    this.check();
    const q = SQL.list(query);
    if (!q) return { jobs: [], next_cursor: null };
    const page = pageOf(await this.rows<JobRow>(q), q.limit);
    return { jobs: page.rows.map(rowToJob), next_cursor: page.next_cursor };
  }

  async claimNext(workerId: string, opts: ClaimOptions = {}): Promise<Job | null> {
    this.check();
    const max = opts.maxRunningPerUser ?? null;
    if (max === null) {
      // One statement: the oldest queued job no other claimer holds, locked and taken.
      const r = (await this.rows<JobRow>(SQL.claim(workerId, this.now())))[0];
      return r ? rowToJob(r) : null;
    }
    // Bounded per user, exact across nodes: the candidate row locked (SKIP LOCKED), then the user's advisory lock
    // (claims of one user take turns), the running jobs recounted, and the next user's job when this one is full.
    const full: string[] = [];
    for (let i = 0; i < CLAIM_TRIES; i++) {
      const got = await withTx(this.pool, async (c): Promise<{ row: JobRow | null } | { full: string }> => {
        const cand = (await this.rows<{ id: string; username: string }>(SQL.claimCandidate(this.now(), max, full), c))[0];
        if (!cand) return { row: null };
        await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ENQUEUE_LOCK_CLASS, cand.username]);
        const running = (await this.rows<{ n: number }>(SQL.runningCount(cand.username), c))[0]?.n ?? 0;
        if (running >= max) return { full: cand.username };
        return { row: (await this.rows<JobRow>(SQL.claimId(workerId, cand.id, this.now()), c))[0] ?? null };
      });
      if ('full' in got) full.push(got.full);
      else return got.row ? rowToJob(got.row) : null;
    }
    return null;
  }

  async updateProgress(id: string, progress: JobProgress, outputPath?: string | null): Promise<void> {
    this.check();
    await this.rows(SQL.progress(id, progress, outputPath, this.now()), this.renewals);
  }

  async markFinished(id: string, status: FinalStatus, fields: FinishFields): Promise<Job> {
    this.check();
    const now = this.now();
    // One conditional UPDATE (the row is locked and the conditions re-checked), of a job outside pipelines.
    const r = (await this.rows<JobRow>(SQL.finish(id, status, now, fields, true)))[0];
    if (r) return rowToJob(r);
    // A pipeline job (its run advances in the same transaction), or a refusal: only then is the row read, to say why.
    const p = await this.runSteps((fx) => RUNS.changePipelineJob(id, SQL.finish(id, status, now, fields), now, fx));
    if (p) return rowToJob(p);
    throw finishRefusal(id, await this.row(id), status, fields.worker_id);
  }

  async requestCancel(id: string): Promise<Job | null> {
    this.check();
    const now = this.now();
    const r = (await this.rows<JobRow>(SQL.cancel(id, now, true)))[0] ?? (await this.runSteps((fx) => RUNS.changePipelineJob(id, SQL.cancel(id, now), now, fx)));
    return r ? rowToJob(r) : null;
  }

  async heartbeat(workerId: string, ids: string[]): Promise<string[]> {
    this.check();
    if (ids.length === 0) return [];
    const held = new Set((await this.rows<{ id: string }>(SQL.heartbeat(workerId, ids, this.now()), this.renewals)).map((r) => r.id));
    return ids.filter((id) => !held.has(id));
  }

  async recoverInterrupted(opts: { staleBeforeMs: number; exceptWorkerId?: string; requeue: boolean; reason: string }): Promise<Job[]> {
    this.check();
    // The caller's cutoff is on its own clock; the heartbeats are on the database's.
    const staleBefore = opts.staleBeforeMs + (this.clock?.offsetMs ?? 0);
    const now = this.now();
    const q = SQL.recover(staleBefore, opts.exceptWorkerId ?? null, opts.requeue, interruptedError(opts.reason), now);
    // One transaction: a pipeline job failed (or cancelled) here advances its run, its retry included.
    const rows = await this.runSteps(function* (fx) {
      const rows = yield* rowsOf<JobRow>(q);
      fx.queued += rows.filter((r) => r.status === 'queued').length;
      if (rows.some((r) => r.pipeline_run_id != null)) yield* RUNS.afterJobsEnded(rows, now, fx);
      return rows;
    });
    return rows.sort(byCreation).map(rowToJob);
  }

  async countByStatus(): Promise<Record<JobStatus, number>> {
    this.check();
    const counts = emptyCounts();
    for (const r of await this.rows<{ status: JobStatus; n: number }>(SQL.countByStatus())) counts[r.status] = r.n;
    return counts;
  }

  async countActive(): Promise<ActiveCounts> {
    this.check();
    const r = (await this.rows<ActiveCounts>(SQL.countActive()))[0]!;
    return { queued: Number(r.queued), running: Number(r.running) };
  }

  async pruneFinishedBefore(cutoffMs: number, limit: number): Promise<Job[]> {
    this.check();
    return (await this.rows<JobRow>(SQL.pruneIn(SQL.pickBefore(cutoffMs, limit)))).sort(byFinish).map(rowToJob);
  }

  async pruneFinishedBeyond(keep: number, limit: number): Promise<Job[]> {
    this.check();
    return (await this.rows<JobRow>(SQL.pruneIn(SQL.pickBeyond(keep, limit)))).sort((a, b) => byFinish(b, a)).map(rowToJob);
  }

  /** Calls `listener` whenever a job is queued in this store, by any node (LISTEN/NOTIFY); returns the unsubscribe. */
  onJobQueued(listener: () => void): () => void {
    return this.onNotification(JOB_QUEUED_CHANNEL, listener);
  }

  /**
   * Calls `listener` on each notice on `channel` for this store's schema, from any node (other schemas' are
   * ignored), and once after the LISTEN connection came back (something may have changed meanwhile).
   */
  onNotification(channel: StoreChannel, listener: () => void): () => void {
    this.check();
    const off = this.listener.listen(channel, (payload) => {
      if (payload === this.schema) listener();
    });
    const offReconnect = this.listener.onReconnect(listener);
    return () => {
      off();
      offReconnect();
    };
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
