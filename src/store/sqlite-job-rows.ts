/**
 * Rows of the SQLite `jobs` table: row to Job, and the insert of a queued job,
 * shared by the job store and the schedule store (which enqueues a fire's job
 * in its own transaction).
 */
import type Database from 'better-sqlite3';
import { encodeParameters } from '../notebook/parameters-json.js';
import type { Job, NewJob } from './job-store.js';
import { rowToJob, type JobRow } from './job-row.js';
import { newJobId } from './job-id.js';

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
