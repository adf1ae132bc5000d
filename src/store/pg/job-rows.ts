/**
 * Rows of the PostgreSQL `jobs` table: row to Job, and the insert of a queued
 * job, shared by the job store and the schedule store (which enqueues a fire's
 * job in its own transaction). Parameters and the other JSON values are
 * lossless-json TEXT, as in SQLite.
 */
import type pg from 'pg';
import type { RunError } from '../../engine/types.js';
import { decodeJsonValue, decodeParameters, encodeParameters } from '../../notebook/parameters-json.js';
import { TERMINAL_STATUSES, type Job, type JobProgress, type JobStatus, type JobTarget, type NewJob } from '../job-store.js';
import { newJobId } from '../job-id.js';

export interface PgJobRow {
  id: string;
  status: JobStatus;
  username: string;
  notebook: string;
  parameters: string;
  kernel: string | null;
  timeout_s: number | null;
  cell_timeout_s: number | null;
  idempotency_key: string | null;
  submitted_by: string;
  source: string;
  created_at_ms: number;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  updated_at_ms: number;
  output_path: string | null;
  progress: string;
  error: string | null;
  result: string | null;
  cancel_requested: boolean;
  worker_id: string | null;
  attempts: number;
  target: JobTarget;
  schedule_id: string | null;
  scheduled_for_ms: number | null;
  attempt: number;
}

export const TERMINAL_SQL = TERMINAL_STATUSES.map((s) => `'${s}'`).join(',');

/** The channel a queued job is announced on; the payload is the store's schema. */
export const JOB_QUEUED_CHANNEL = 'hubmill_job_queued';

export function rowToJob(r: PgJobRow): Job {
  return {
    id: r.id,
    status: r.status,
    username: r.username,
    notebook: r.notebook,
    parameters: decodeParameters(r.parameters),
    kernel: r.kernel,
    timeout_s: r.timeout_s,
    cell_timeout_s: r.cell_timeout_s,
    idempotency_key: r.idempotency_key,
    submitted_by: r.submitted_by,
    created_at_ms: r.created_at_ms,
    started_at_ms: r.started_at_ms,
    finished_at_ms: r.finished_at_ms,
    output_path: r.output_path,
    progress: decodeJsonValue<JobProgress>(r.progress),
    error: r.error === null ? null : decodeJsonValue<RunError>(r.error),
    result: r.result === null ? null : decodeJsonValue<Record<string, unknown>>(r.result),
    cancel_requested: r.cancel_requested,
    source: r.source,
    worker_id: r.worker_id,
    attempts: r.attempts,
    target: r.target,
    schedule_id: r.schedule_id,
    scheduled_for_ms: r.scheduled_for_ms,
    attempt: r.attempt,
  };
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Orders rows as `ORDER BY created_at_ms, id` does (ids are COLLATE "C"), for rows RETURNING gives in no order. */
export function byCreation(a: { created_at_ms: number; id: string }, b: { created_at_ms: number; id: string }): number {
  return a.created_at_ms - b.created_at_ms || byId(a.id, b.id);
}

/** As `ORDER BY finished_at_ms, id`. */
export function byFinish(a: { finished_at_ms: number | null; id: string }, b: { finished_at_ms: number | null; id: string }): number {
  return (a.finished_at_ms ?? 0) - (b.finished_at_ms ?? 0) || byId(a.id, b.id);
}

/**
 * Inserts a queued job with a new id and announces it (delivered at commit);
 * the caller holds the transaction. With `onConflictNothing`, a clash on a
 * unique index (idempotency key, schedule attempt) inserts nothing: null.
 * On the pool (no transaction), the one statement is its own transaction.
 */
export async function insertQueuedJob(c: pg.Pool | pg.ClientBase, schema: string, job: NewJob, now: number, onConflictNothing = false): Promise<Job | null> {
  const res = await c.query<PgJobRow>(
    `WITH ins AS (INSERT INTO jobs (id, status, username, notebook, parameters, kernel, timeout_s, cell_timeout_s,
       idempotency_key, submitted_by, source, created_at_ms, updated_at_ms, output_path, target,
       schedule_id, scheduled_for_ms, attempt)
     VALUES ($1, 'queued', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15, $16)
     ${onConflictNothing ? 'ON CONFLICT DO NOTHING' : ''}
     RETURNING *)
     SELECT ins.*, pg_notify('${JOB_QUEUED_CHANNEL}', $17) AS notified FROM ins`,
    [
      newJobId(now),
      job.username,
      job.notebook,
      encodeParameters(job.parameters ?? {}),
      job.kernel ?? null,
      job.timeout_s ?? null,
      job.cell_timeout_s ?? null,
      job.idempotency_key ?? null,
      job.submitted_by,
      job.source ?? 'api',
      now,
      job.output_path ?? null,
      job.target ?? 'local',
      job.schedule_id ?? null,
      job.scheduled_for_ms ?? null,
      job.attempt ?? 1,
      schema,
    ],
  );
  const row = res.rows[0];
  return row ? rowToJob(row) : null;
}
