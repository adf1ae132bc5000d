/**
 * Connections to the PostgreSQL store: the URL (with an optional `schema`
 * parameter, stripped before node-postgres sees it), a pool whose sessions use
 * that schema as their search_path, and the transaction helper every store
 * method goes through.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { UsageError } from '../../errors.js';

/** The schema used when the URL names none. */
export const DEFAULT_PG_SCHEMA = 'public';
const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PgTarget {
  /** The URL without the `schema` parameter. */
  connectionString: string;
  schema: string;
}

/**
 * Reads `postgresql://user@host:port/db?schema=name`. The schema (default
 * `public`) holds every table of the store, so several deployments, or test
 * runs, can share one database.
 */
export function parseDatabaseUrl(url: string, schema?: string): PgTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError('the database URL is not a URL (expected postgresql://user@host:port/database)');
  }
  if (u.protocol !== 'postgresql:' && u.protocol !== 'postgres:') throw new UsageError('the database URL must start with postgresql://');
  const fromUrl = u.searchParams.get('schema');
  u.searchParams.delete('schema');
  const name = schema ?? fromUrl ?? DEFAULT_PG_SCHEMA;
  if (!SCHEMA_RE.test(name)) {
    throw new UsageError(`invalid database schema name ${JSON.stringify(name).slice(0, 80)}: expected lower-case letters, digits and _ (at most 63)`);
  }
  return { connectionString: u.toString(), schema: name };
}

// BIGINT (epoch milliseconds, counts) as numbers: every value stored here is below 2^53.
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** The settings of every connection to the store: its schema first on the search_path. */
export function clientConfig(target: PgTarget, opts: { asyncCommit?: boolean } = {}): pg.ClientConfig {
  return {
    connectionString: target.connectionString,
    options: `-c search_path=${target.schema}${opts.asyncCommit ? ' -c synchronous_commit=off' : ''}`,
    types,
    application_name: 'hubmill',
  };
}

/**
 * A pool on the store. With `asyncCommit`, its commits do not wait for the WAL
 * flush: for writes whose loss in a server crash is harmless (lease renewals,
 * progress), never for a state change.
 */
export function createPool(target: PgTarget, opts: { max?: number; logger?: Logger; asyncCommit?: boolean } = {}): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(target, opts), max: opts.max ?? 10, idleTimeoutMillis: 30_000 });
  // An idle connection that breaks (server restart) must not crash the process: the pool drops it.
  pool.on('error', (err) => opts.logger?.warn({ err: err.message }, 'an idle PostgreSQL connection failed'));
  return pool;
}

/** SQLSTATEs worth retrying the whole transaction for: serialization failure, deadlock. */
const RETRYABLE = new Set(['40001', '40P01']);

/**
 * Runs `fn` in a transaction (READ COMMITTED; rows that decide something are
 * locked with FOR UPDATE). Retried a few times on a deadlock or a serialization
 * failure, so `fn` must have no effect outside the database.
 */
export async function withTx<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const c = await pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch((e: Error) => {
        broken = e;
      });
      const code = (err as { code?: string }).code;
      if (attempt < 4 && code && RETRYABLE.has(code)) continue;
      throw translatePgError(err);
    } finally {
      c.release(broken);
    }
  }
}

/** Bad input PostgreSQL refuses (a NUL character in a text) becomes a clear 400 instead of a 500. */
export function translatePgError(err: unknown): unknown {
  const e = err as { code?: string; message?: string };
  if (e && (e.code === '22021' || e.code === '22P05')) return new UsageError(`the store refused a value: ${e.message ?? 'invalid text'}`);
  return err;
}

/** One statement outside a transaction, with the same error translation. */
export async function query<R extends pg.QueryResultRow>(pool: pg.Pool, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  try {
    return await pool.query<R>(text, values);
  } catch (err) {
    throw translatePgError(err);
  }
}
