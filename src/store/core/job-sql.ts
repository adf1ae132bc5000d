/**
 * The statements of the job store, written once for SQLite and PostgreSQL
 * (the differences are in the dialect, core/dialect.ts): the column list of a
 * new job, the page query with its filters, the quota count, the claim, the
 * transitions (finish, cancel, recover), lease renewals and pruning. Each
 * backend runs them in its own transactions; changes return the changed rows
 * (`RETURNING`).
 */
import { encodeJsonValue, encodeParameters } from '../../notebook/parameters-json.js';
import type { RunError } from '../../engine/run-types.js';
import { JOB_STATUSES, type FinalStatus, type JobProgress, type ListJobsQuery, type NewJob } from '../job-store.js';
import { SqlArgs, type Sql, type SqlDialect } from './dialect.js';
import { ACTIVE_SQL, TERMINAL_SQL, statesBefore } from './job-rules.js';
import { visibleCondition } from './sharing-sql.js';
import { newestFirstQuery } from './page.js';

/** The columns a new job sets, each with its value: the one insert of both stores (job store and schedule fires). */
const INSERT_COLUMNS: ReadonlyArray<readonly [string, (job: NewJob, id: string, now: number) => unknown]> = [
  ['id', (_j, id) => id],
  ['status', () => 'queued'],
  ['username', (j) => j.username],
  ['notebook', (j) => j.notebook],
  ['parameters', (j) => encodeParameters(j.parameters ?? {})],
  ['kernel', (j) => j.kernel ?? null],
  ['kernel_language', (j) => j.kernel_language ?? null],
  ['timeout_s', (j) => j.timeout_s ?? null],
  ['cell_timeout_s', (j) => j.cell_timeout_s ?? null],
  ['idempotency_key', (j) => j.idempotency_key ?? null],
  ['submitted_by', (j) => j.submitted_by],
  ['source', (j) => j.source ?? 'api'],
  ['created_at_ms', (_j, _id, now) => now],
  ['updated_at_ms', (_j, _id, now) => now],
  ['output_path', (j) => j.output_path ?? null],
  ['target', (j) => j.target ?? 'local'],
  ['server_name', (j) => j.server_name || null],
  ['schedule_id', (j) => j.schedule_id ?? null],
  ['scheduled_for_ms', (j) => j.scheduled_for_ms ?? null],
  ['attempt', (j) => j.attempt ?? 1],
  ['pipeline_id', (j) => j.pipeline_id ?? null],
  ['pipeline_run_id', (j) => j.pipeline_run_id ?? null],
  ['task_key', (j) => j.task_key ?? null],
  ['item_index', (j) => j.item_index ?? null],
  // An item may be JSON null itself: stored when the job has an item index.
  ['item', (j) => (j.item_index == null ? null : encodeJsonValue(j.item ?? null))],
  ['not_before_ms', (j) => j.not_before_ms ?? null],
  ['secrets', (j) => (j.secrets && j.secrets.length > 0 ? JSON.stringify(j.secrets.map((r) => ({ name: r.name, scope: r.scope }))) : null)],
];

export const JOB_INSERT_COLUMNS: readonly string[] = INSERT_COLUMNS.map(([c]) => c);

/**
 * A job outside pipelines. PostgreSQL finishes (and cancels) such a job in one statement; a pipeline job's end
 * takes a transaction that advances its run (core/pipeline-runs.ts): the one-statement try excludes them.
 */
const PLAIN = 'pipeline_run_id IS NULL';

/**
 * Retention keeps the jobs of a pipeline run still queued or running: its advance reads them (an item whose
 * job vanished would start again). A plain job passes on the null check.
 */
const OF_NO_LIVE_RUN = `(pipeline_run_id IS NULL OR NOT EXISTS (SELECT 1 FROM pipeline_runs r WHERE r.id = jobs.pipeline_run_id AND r.status IN ('queued','running')))`;

const FRESH_PROGRESS = `'{"cells_total":0,"cells_done":0}'`;

export interface FinishFields {
  error?: RunError | null;
  result?: Record<string, unknown> | null;
  progress?: JobProgress;
  output_path?: string | null;
  worker_id?: string;
  attempt?: number;
}

export class JobSql {
  constructor(readonly d: SqlDialect) {}

  private args(): SqlArgs {
    return new SqlArgs(this.d);
  }

  byId(id: string): Sql {
    const a = this.args();
    return { text: `SELECT * FROM jobs WHERE id = ${a.add(id)}`, args: a.values };
  }

  byIdempotencyKey(username: string, key: string): Sql {
    const a = this.args();
    return { text: `SELECT * FROM jobs WHERE username = ${a.add(username)} AND idempotency_key = ${a.add(key)}`, args: a.values };
  }

  /** `INSERT INTO jobs (…) VALUES (…)` of a queued job, its arguments added to `a` (the caller appends RETURNING). */
  insert(a: SqlArgs, job: NewJob, id: string, now: number, onConflictNothing = false): string {
    const values = INSERT_COLUMNS.map(([, value]) => a.add(value(job, id, now)));
    return `INSERT INTO jobs (${JOB_INSERT_COLUMNS.join(', ')}) VALUES (${values.join(', ')})${onConflictNothing ? ' ON CONFLICT DO NOTHING' : ''}`;
  }

  /** The user's queued and running jobs per state (core/job-rules.ts `checkQuota` decides). */
  activeCounts(username: string): Sql {
    const a = this.args();
    return {
      text: `SELECT status, ${this.d.count} AS n FROM jobs WHERE username = ${a.add(username)} AND status IN (${ACTIVE_SQL}) GROUP BY status`,
      args: a.values,
    };
  }

  /** The page query of `JobStore.list`; null when the status filter names no state at all (an empty page). */
  list(q: ListJobsQuery): (Sql & { limit: number }) | null {
    const statuses = q.status?.filter((s) => (JOB_STATUSES as readonly string[]).includes(s));
    if (q.status !== undefined && q.status.length > 0 && statuses!.length === 0) return null;
    return newestFirstQuery(
      this.d,
      'jobs',
      (a) => {
        const where: string[] = [];
        if (q.username !== undefined) where.push(`username = ${a.add(q.username)}`);
        if (statuses && statuses.length > 0) where.push(this.d.oneOf('status', statuses, a));
        if (q.notebook !== undefined) where.push(`notebook = ${a.add(q.notebook)}`);
        if (q.schedule_id !== undefined) where.push(`schedule_id = ${a.add(q.schedule_id)}`);
        if (q.pipeline_run_id !== undefined) where.push(`pipeline_run_id = ${a.add(q.pipeline_run_id)}`);
        if (q.visible) where.push(visibleCondition(this.d, 'jobs', q.visible, a));
        return where;
      },
      q.cursor || undefined,
      q.limit,
    );
  }

  /**
   * A queued job may be claimed once its `not_before_ms` (a task retry's backoff) has passed. SQLite reads the
   * column from its queue index (status, created_at_ms, id, not_before_ms); PostgreSQL from the row it locks.
   */
  private ready(a: SqlArgs, now: number): string {
    return `(q.not_before_ms IS NULL OR q.not_before_ms <= ${a.add(now)})`;
  }

  /** Whether any queued job is ready (a read, indexed by jobs_queue): a claim, which takes the write lock, is worth trying. */
  anyReady(now: number): Sql {
    const a = this.args();
    return { text: `SELECT 1 AS one FROM jobs q WHERE q.status = 'queued' AND ${this.ready(a, now)} LIMIT 1`, args: a.values };
  }

  /**
   * The oldest queued job (FIFO) whose user has fewer than `maxRunning` jobs running (null: any user), not
   * one of `skipUsers`'; claimers skip each other's rows (PostgreSQL: the row stays locked to the transaction).
   */
  claimCandidate(now: number, maxRunning: number | null, skipUsers: readonly string[] = []): Sql {
    const a = this.args();
    const conds = [`q.status = 'queued'`, this.ready(a, now)];
    if (maxRunning !== null) {
      conds.push(`(SELECT ${this.d.count} FROM jobs r WHERE r.username = q.username AND r.status = 'running') < ${a.add(maxRunning)}`);
    }
    if (skipUsers.length > 0) conds.push(`NOT ${this.d.oneOf('q.username', skipUsers, a)}`);
    return {
      text: `SELECT q.id, q.username FROM jobs q WHERE ${conds.join(' AND ')} ORDER BY q.created_at_ms, q.id LIMIT 1${this.d.skipLocked}`,
      args: a.values,
    };
  }

  /** The user's running jobs (the claim's recount under the user's lock). */
  runningCount(username: string): Sql {
    const a = this.args();
    return { text: `SELECT ${this.d.count} AS n FROM jobs WHERE username = ${a.add(username)} AND status = 'running'`, args: a.values };
  }

  /** Marks the queued job `id` running for the worker. */
  claimId(workerId: string, id: string, now: number): Sql {
    const a = this.args();
    return {
      text: `UPDATE jobs SET status = 'running', worker_id = ${a.add(workerId)}, started_at_ms = ${a.add(now)}, updated_at_ms = ${a.add(now)}, attempts = attempts + 1
             WHERE id = ${a.add(id)} AND status = 'queued'
             RETURNING *`,
      args: a.values,
    };
  }

  /** One statement: takes the oldest queued job (FIFO) whose user is below `maxRunning` (null: any) for the worker. */
  claim(workerId: string, now: number, maxRunning: number | null = null): Sql {
    const a = this.args();
    const set = `status = 'running', worker_id = ${a.add(workerId)}, started_at_ms = ${a.add(now)}, updated_at_ms = ${a.add(now)}, attempts = attempts + 1`;
    const ready = this.ready(a, now);
    const below =
      maxRunning === null ? '' : ` AND (SELECT ${this.d.count} FROM jobs r WHERE r.username = q.username AND r.status = 'running') < ${a.add(maxRunning)}`;
    return {
      text: `UPDATE jobs SET ${set}
             WHERE id = (SELECT q.id FROM jobs q WHERE q.status = 'queued' AND ${ready}${below} ORDER BY q.created_at_ms, q.id LIMIT 1${this.d.skipLocked})
               AND status = 'queued'
             RETURNING *`,
      args: a.values,
    };
  }

  /** Only a running job has progress: a late update after its end is dropped. */
  progress(id: string, progress: JobProgress, outputPath: string | null | undefined, now: number): Sql {
    const a = this.args();
    const sets = [`progress = ${a.add(encodeJsonValue(progress))}`];
    if (outputPath !== undefined) sets.push(`output_path = ${a.add(outputPath)}`);
    sets.push(`updated_at_ms = ${a.add(now)}`);
    return { text: `UPDATE jobs SET ${sets.join(', ')} WHERE id = ${a.add(id)} AND status = 'running'`, args: a.values };
  }

  /**
   * One conditional UPDATE: the transition is allowed and, for a worker's record,
   * its claim still holds (running, its worker, its attempt). No row: refused
   * (core/job-rules.ts `finishRefusal` says why).
   */
  finish(id: string, status: FinalStatus, now: number, f: FinishFields, plainOnly = false): Sql {
    const a = this.args();
    const sets = [`status = ${a.add(status)}`, `finished_at_ms = ${a.add(now)}`, `updated_at_ms = ${a.add(now)}`];
    if (f.error !== undefined) sets.push(`error = ${a.add(f.error === null ? null : encodeJsonValue(f.error))}`);
    if (f.result !== undefined) sets.push(`result = ${a.add(f.result === null ? null : encodeJsonValue(f.result))}`);
    if (f.progress !== undefined) sets.push(`progress = ${a.add(encodeJsonValue(f.progress))}`);
    if (f.output_path !== undefined) sets.push(`output_path = ${a.add(f.output_path)}`);
    const conds = [`id = ${a.add(id)}`, this.d.oneOf('status', statesBefore(status), a)];
    if (plainOnly) conds.push(PLAIN);
    if (f.worker_id !== undefined) {
      conds.push(`status = 'running'`, `worker_id = ${a.add(f.worker_id)}`);
      if (f.attempt !== undefined) conds.push(`attempts = ${a.add(f.attempt)}`);
    }
    return { text: `UPDATE jobs SET ${sets.join(', ')} WHERE ${conds.join(' AND ')} RETURNING *`, args: a.values };
  }

  /** Queued: cancelled at once. Running: flagged (the runner stops it). Terminal: unchanged. No row: no such job. */
  cancel(id: string, now: number, plainOnly = false): Sql {
    const a = this.args();
    // Each use of a value is its own argument: `?` placeholders bind in text order.
    return {
      text: `UPDATE jobs SET
               cancel_requested = CASE WHEN status IN (${ACTIVE_SQL}) THEN ${this.d.bool(true)} ELSE cancel_requested END,
               finished_at_ms = CASE WHEN status = 'queued' THEN ${a.add(now)} ELSE finished_at_ms END,
               updated_at_ms = CASE WHEN status = 'queued' THEN ${a.add(now)} ELSE updated_at_ms END,
               status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END
             WHERE id = ${a.add(id)}${plainOnly ? ` AND ${PLAIN}` : ''} RETURNING *`,
      args: a.values,
    };
  }

  /** Renews the worker's leases on `ids`; returns (RETURNING id) those it still holds. */
  heartbeat(workerId: string, ids: readonly string[], now: number): Sql {
    const a = this.args();
    return {
      text: `UPDATE jobs SET updated_at_ms = ${a.add(now)} WHERE ${this.d.oneOf('id', ids, a)} AND status = 'running' AND worker_id = ${a.add(workerId)} RETURNING id`,
      args: a.values,
    };
  }

  /**
   * Running jobs whose lease expired (not `exceptWorkerId`'s): re-queued when
   * `requeue` and no cancel is pending, else cancelled (a cancel was pending) or
   * failed with `error`. Rows are locked and re-checked: a lease renewed meanwhile
   * is left alone.
   */
  recover(staleBeforeMs: number, exceptWorkerId: string | null, requeue: boolean, error: RunError, now: number): Sql {
    const a = this.args();
    const d = this.d;
    // Arguments are added in text order (`?` binds so), each use of a value its own argument.
    const again = () => `(${a.add(d.boolArg(requeue))} AND NOT cancel_requested)`;
    const when = (back: string, other: string | (() => string)) => {
      const cond = again();
      return `CASE WHEN ${cond} THEN ${back} ELSE ${typeof other === 'string' ? other : other()} END`;
    };
    const sets = [
      `status = CASE WHEN ${again()} THEN 'queued' WHEN cancel_requested THEN 'cancelled' ELSE 'failed' END`,
      `worker_id = ${when('NULL', 'worker_id')}`,
      `started_at_ms = ${when('NULL', 'started_at_ms')}`,
      `progress = ${when(FRESH_PROGRESS, 'progress')}`,
      `error = ${when('error', () => a.add(encodeJsonValue(error)))}`,
      `finished_at_ms = ${when('finished_at_ms', () => a.add(now))}`,
      `updated_at_ms = ${a.add(now)}`,
    ];
    const stale = `SELECT id FROM jobs WHERE status = 'running' AND updated_at_ms < ${a.add(staleBeforeMs)} AND ${d.distinct('worker_id', a.add(exceptWorkerId))}${d.skipLocked}`;
    return { text: `UPDATE jobs SET ${sets.join(', ')} WHERE id IN (${stale}) RETURNING *`, args: a.values };
  }

  /** Every job by status: a walk of the whole table (about 100 ms at a million jobs), for /metrics through its cache only. */
  countByStatus(): Sql {
    return { text: `SELECT status, ${this.d.count} AS n FROM jobs GROUP BY status`, args: [] };
  }

  /**
   * The queued and the running jobs: two counts by status equality, each read from an index that holds only
   * (or starts with) that status (SQLite: jobs_queue (status, created_at_ms, id); PostgreSQL: the partial
   * indexes jobs_queue and jobs_running), so the cost follows the active jobs, not the history.
   */
  countActive(): Sql {
    const one = (status: 'queued' | 'running') => `(SELECT ${this.d.count} FROM jobs WHERE status = '${status}')`;
    return { text: `SELECT ${one('queued')} AS queued, ${one('running')} AS running`, args: [] };
  }

  /**
   * The finished jobs older than the cutoff, oldest first (at most `limit`): their ids. Not the status index
   * (which would sort every finished job for each batch) but jobs_finished_id, in order.
   */
  pickBefore(cutoffMs: number, limit: number): Sql {
    const a = this.args();
    return {
      text: `SELECT id FROM jobs WHERE ${this.d.noIndex('status')} IN (${TERMINAL_SQL}) AND finished_at_ms < ${a.add(cutoffMs)} AND ${OF_NO_LIVE_RUN}
             ORDER BY finished_at_ms, id LIMIT ${a.add(Math.max(0, Math.floor(limit)))}`,
      args: a.values,
    };
  }

  /** The oldest finished jobs beyond the newest `keep` (at most `limit`): their ids. Every finished job has finished_at_ms: saying so lets jobs_finished_id give the order. */
  pickBeyond(keep: number, limit: number): Sql {
    const a = this.args();
    return {
      text: `SELECT id FROM jobs WHERE ${this.d.noIndex('status')} IN (${TERMINAL_SQL}) AND finished_at_ms IS NOT NULL AND ${OF_NO_LIVE_RUN}
             ORDER BY finished_at_ms DESC, id DESC LIMIT ${a.add(Math.max(0, Math.floor(limit)))} OFFSET ${a.add(Math.max(0, Math.floor(keep)))}`,
      args: a.values,
    };
  }

  /** Deletes the jobs a pick chose, in one statement, RETURNING them (in no order). */
  pruneIn(pick: Sql): Sql {
    return { text: `DELETE FROM jobs WHERE id IN (${pick.text}) RETURNING *`, args: pick.args };
  }

  /** Deletes one chosen job if it is still finished, RETURNING it (SQLite chooses outside its write lock). */
  deleteFinished(id: string): Sql {
    const a = this.args();
    return { text: `DELETE FROM jobs WHERE id = ${a.add(id)} AND status IN (${TERMINAL_SQL}) RETURNING *`, args: a.values };
  }
}

