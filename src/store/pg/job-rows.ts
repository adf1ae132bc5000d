/**
 * Rows of the PostgreSQL `jobs` table: row to Job, and the insert of a queued
 * job, shared by the job store and the schedule store (which enqueues a fire's
 * job in its own transaction). Parameters and the other JSON values are
 * lossless-json TEXT, as in SQLite.
 */
import type pg from 'pg';
import { encodeParameters } from '../../notebook/parameters-json.js';
import { TERMINAL_STATUSES, type Job, type NewJob } from '../job-store.js';
import { rowToJob, type JobRow } from '../job-row.js';
import { newJobId } from '../job-id.js';

export const TERMINAL_SQL = TERMINAL_STATUSES.map((s) => `'${s}'`).join(',');

/** The channel a queued job is announced on; the payload is the store's schema. */
export const JOB_QUEUED_CHANNEL = 'hubmill_job_queued';

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
  const res = await c.query<JobRow>(
    `WITH ins AS (INSERT INTO jobs (id, status, username, notebook, parameters, kernel, timeout_s, cell_timeout_s,
       idempotency_key, submitted_by, source, created_at_ms, updated_at_ms, output_path, target,
       schedule_id, scheduled_for_ms, attempt, server_name)
     VALUES ($1, 'queued', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15, $16, $18)
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
      job.server_name || null,
    ],
  );
  const row = res.rows[0];
  return row ? rowToJob(row) : null;
}
