/**
 * Rows of the SQLite `jobs` table: row to Job, and the insert of a queued job,
 * shared by the job store and the schedule store (which enqueues a fire's job
 * in its own transaction).
 */
import type Database from 'better-sqlite3';
import type { RunError } from '../engine/types.js';
import { decodeJsonValue, decodeParameters, encodeParameters } from '../notebook/parameters-json.js';
import type { Job, JobProgress, JobStatus, JobTarget, NewJob } from './job-store.js';
import { newJobId } from './job-id.js';

export interface JobRow {
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
  cancel_requested: number;
  worker_id: string | null;
  attempts: number;
  target: JobTarget | null;
  server_name?: string | null;
  schedule_id: string | null;
  scheduled_for_ms: number | null;
  attempt: number | null;
}

export function rowToJob(r: JobRow): Job {
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
    cancel_requested: r.cancel_requested !== 0,
    source: r.source,
    worker_id: r.worker_id,
    attempts: r.attempts,
    target: r.target ?? 'local',
    server_name: r.server_name ?? null,
    schedule_id: r.schedule_id ?? null,
    scheduled_for_ms: r.scheduled_for_ms ?? null,
    attempt: r.attempt ?? 1,
  };
}

const statementsByDb = new WeakMap<Database.Database, { insert: Database.Statement; select: Database.Statement }>();

function insertStatements(db: Database.Database): { insert: Database.Statement; select: Database.Statement } {
  let st = statementsByDb.get(db);
  if (!st) {
    st = {
      insert: db.prepare(
        `INSERT INTO jobs (id, status, username, notebook, parameters, kernel, timeout_s, cell_timeout_s,
           idempotency_key, submitted_by, source, created_at_ms, updated_at_ms, output_path, target,
           server_name, schedule_id, scheduled_for_ms, attempt)
         VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      select: db.prepare('SELECT * FROM jobs WHERE id = ?'),
    };
    statementsByDb.set(db, st);
  }
  return st;
}

/** Inserts a queued job with a new id; the caller holds the (immediate) transaction. */
export function insertQueuedJob(db: Database.Database, job: NewJob, now: number): Job {
  const id = newJobId(now);
  const st = insertStatements(db);
  st.insert.run(
    id,
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
    now,
    job.output_path ?? null,
    job.target ?? 'local',
    job.server_name || null,
    job.schedule_id ?? null,
    job.scheduled_for_ms ?? null,
    job.attempt ?? 1,
  );
  return rowToJob(st.select.get(id) as JobRow);
}
