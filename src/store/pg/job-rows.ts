/**
 * The insert of a queued job on PostgreSQL (the statement is the store core's,
 * core/job-sql.ts) and its announcement, shared by the job store and the
 * schedule store (which enqueues a fire's job in its own transaction).
 */
import type pg from 'pg';
import type { Job, NewJob } from '../job-store.js';
import { rowToJob, type JobRow } from '../core/job-row.js';
import { newJobId } from '../job-id.js';
import { POSTGRES, SqlArgs } from '../core/dialect.js';
import { JobSql } from '../core/job-sql.js';

import { JOB_QUEUED_CHANNEL } from './channels.js';

const SQL = new JobSql(POSTGRES);

/**
 * Inserts a queued job with a new id and announces it (delivered at commit);
 * the caller holds the transaction. With `onConflictNothing`, a clash on a
 * unique index (idempotency key, schedule attempt) inserts nothing: null.
 * On the pool (no transaction), the one statement is its own transaction.
 */
export async function insertQueuedJob(c: pg.Pool | pg.ClientBase, schema: string, job: NewJob, now: number, onConflictNothing = false): Promise<Job | null> {
  const args = new SqlArgs(POSTGRES);
  const insert = SQL.insert(args, job, newJobId(now), now, onConflictNothing);
  const res = await c.query<JobRow>(
    `WITH ins AS (${insert} RETURNING *) SELECT ins.*, pg_notify('${JOB_QUEUED_CHANNEL}', ${args.add(schema)}) AS notified FROM ins`,
    args.values,
  );
  const row = res.rows[0];
  return row ? rowToJob(row) : null;
}
