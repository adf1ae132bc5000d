/**
 * The insert of a queued job on SQLite (the statement is the store core's,
 * core/job-sql.ts), shared by the job store and the schedule store (which
 * enqueues a fire's job in its own transaction).
 */
import type Database from 'better-sqlite3';
import type { Job, NewJob } from './job-store.js';
import { rowToJob, type JobRow } from './core/job-row.js';
import { newJobId } from './job-id.js';
import { SQLITE, SqlArgs } from './core/dialect.js';
import { JobSql } from './core/job-sql.js';

const SQL = new JobSql(SQLITE);
const statementsByDb = new WeakMap<Database.Database, Database.Statement>();

/** Inserts a queued job with a new id; the caller holds the (immediate) transaction. */
export function insertQueuedJob(db: Database.Database, job: NewJob, now: number): Job {
  const args = new SqlArgs(SQLITE);
  const text = `${SQL.insert(args, job, newJobId(now), now)} RETURNING *`;
  let st = statementsByDb.get(db);
  if (!st) {
    st = db.prepare(text);
    statementsByDb.set(db, st);
  }
  return rowToJob(st.get(...args.values) as JobRow);
}
