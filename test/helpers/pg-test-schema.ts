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

