/**
 * A fresh PostgreSQL schema per test file, on the local server (127.0.0.1:5432,
 * trust auth, database `test`), dropped at the end on every path.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/test';

export interface TestSchema {
  url: string;
  schema: string;
  /** A pool for the test's own checks. */
  admin: pg.Pool;
  drop(): Promise<void>;
}

export async function freshSchema(prefix: string): Promise<TestSchema> {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  admin.on('error', () => undefined);
  try {
    await admin.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema)}`);
  } catch (err) {
    await admin.end();
    throw err;
  }
  let dropped = false;
  return {
    url: TEST_DATABASE_URL,
    schema,
    admin,
    async drop() {
      if (dropped) return;
      dropped = true;
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `ms`. */
export async function eventually<T>(check: () => T | Promise<T>, ms: number, what: string): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as Exclude<T, undefined | false>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
