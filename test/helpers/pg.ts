/**
 * PostgreSQL for tests: the local server (127.0.0.1:5432, trust auth, database
 * `test`) and a fresh schema per store, dropped when the test ends.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PgJobStore, type PgJobStoreOptions } from '../../src/store/pg/pg-job-store.js';

export const PG_TEST_URL = 'postgresql://postgres@127.0.0.1:5432/test';

interface Hooks {
  after(fn: () => void | Promise<void>): void;
}

/** Runs SQL on its own short-lived connection (outside any store). */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, args: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: PG_TEST_URL });
  await c.connect();
  try {
    return (await c.query<R>(sql, args)).rows;
  } finally {
    await c.end();
  }
}

/** A new schema name, dropped (with everything in it) when the test ends. */
export function freshSchema(t: Hooks): string {
  const schema = `hubmill_t_${randomBytes(6).toString('hex')}`;
  t.after(() => adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).then(() => undefined));
  return schema;
}

/** A PgJobStore on a fresh schema; closed, and the schema dropped, when the test ends. */
export async function pgStore(t: Hooks, opts: Partial<PgJobStoreOptions> = {}): Promise<PgJobStore> {
  const schema = opts.schema ?? freshSchema(t);
  const store = await PgJobStore.open({ url: PG_TEST_URL, ...opts, schema });
  t.after(() => store.close());
  return store;
}
