/**
 * Rows of the SQLite `jobs` table: column JSON (non-finite floats tagged), row
 * to Job, the insert of a queued job (shared by the job and schedule stores,
 * which write jobs in their own transactions), and paging cursors.
 */
import type Database from 'better-sqlite3';
import { UsageError } from '../errors.js';
import type { RunError } from '../engine/types.js';
import type { Parameters } from '../notebook/types.js';
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
  schedule_id: string | null;
  scheduled_for_ms: number | null;
  attempt: number | null;
}


// JSON has no NaN/Infinity, but YAML parameters can carry them: tag them so they survive a round trip.
const FLOAT_TAG = '$hubmill_float';

/** JSON text for a column; non-finite numbers become `{"$hubmill_float": "nan"|"inf"|"-inf"}`. */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) {
      return { [FLOAT_TAG]: Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf' };
    }
    return v;
  });
}

export function decodeJson<T>(text: string): T {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      const tag = (v as Record<string, unknown>)[FLOAT_TAG];
      if (keys.length === 1 && typeof tag === 'string') {
        return tag === 'nan' ? NaN : tag === 'inf' ? Infinity : tag === '-inf' ? -Infinity : v;
      }
    }
    return v;
  }) as T;
}

export function rowToJob(r: JobRow): Job {
  return {
    id: r.id,
    status: r.status,
    username: r.username,
    notebook: r.notebook,
    parameters: decodeJson<Parameters>(r.parameters),
    kernel: r.kernel,
    timeout_s: r.timeout_s,
    cell_timeout_s: r.cell_timeout_s,
    idempotency_key: r.idempotency_key,
    submitted_by: r.submitted_by,
    created_at_ms: r.created_at_ms,
    started_at_ms: r.started_at_ms,
    finished_at_ms: r.finished_at_ms,
    output_path: r.output_path,
    progress: decodeJson<JobProgress>(r.progress),
    error: r.error === null ? null : decodeJson<RunError>(r.error),
    result: r.result === null ? null : decodeJson<Record<string, unknown>>(r.result),
    cancel_requested: r.cancel_requested !== 0,
    source: r.source,
    worker_id: r.worker_id,
    attempts: r.attempts,
    target: r.target ?? 'local',
    schedule_id: r.schedule_id ?? null,
    scheduled_for_ms: r.scheduled_for_ms ?? null,
    attempt: r.attempt ?? 1,
  };
}

/**
 * Inserts a queued job with a new id; the caller holds the transaction. Exported
 * for the other SQLite stores on the same file (schedules enqueue in their own
 * transaction).
 */
const statementsByDb = new WeakMap<Database.Database, { insert: Database.Statement; select: Database.Statement }>();

function insertStatements(db: Database.Database): { insert: Database.Statement; select: Database.Statement } {
  let st = statementsByDb.get(db);
  if (!st) {
    st = {
      insert: db.prepare(
        `INSERT INTO jobs (id, status, username, notebook, parameters, kernel, timeout_s, cell_timeout_s,
           idempotency_key, submitted_by, source, created_at_ms, updated_at_ms, output_path, target,
           schedule_id, scheduled_for_ms, attempt)
         VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      select: db.prepare('SELECT * FROM jobs WHERE id = ?'),
    };
    statementsByDb.set(db, st);
  }
  return st;
}

export function insertQueuedJob(db: Database.Database, job: NewJob, now: number): Job {
  const id = newJobId(now);
  const st = insertStatements(db);
  st.insert.run(
    id,
    job.username,
    job.notebook,
    encodeJson(job.parameters ?? {}),
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
    job.schedule_id ?? null,
    job.scheduled_for_ms ?? null,
    job.attempt ?? 1,
  );
  return rowToJob(st.select.get(id) as JobRow);
}

/** Opaque paging cursor: base64url of `[created_at_ms, id]` of the last job on the page. */
export function encodeCursor(createdAtMs: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAtMs, id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { createdAtMs: number; id: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') {
      return { createdAtMs: v[0] as number, id: v[1] };
    }
  } catch {
    // fall through
  }
  throw new UsageError('invalid cursor');
}
