/**
 * The PostgreSQL tables of the event bus (see event-bus.ts), created at start
 * under an advisory lock so nodes that start together do not race:
 *
 * - `job_event_seq(job_id, last, ended, updated_at)`: per job, the id of its
 *   newest event (ids are handed out by incrementing `last` in the publishing
 *   transaction, so they are the same for every node), whether its last state
 *   was terminal, and when it last changed (for pruning);
 * - `job_events(job_id, seq, event, created_at)`: every event as tagged JSON
 *   text (notebook/parameters-json.ts), for resuming with `Last-Event-ID` and for
 *   events too large for a NOTIFY payload.
 */
import type pg from 'pg';

export const EVENT_BUS_LOCK_KEY = 'hubmill.event-bus.schema';

/** A schema name used unquoted-safe in SQL: letters, digits and `_`, not starting with a digit. */
export function quoteSchema(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}: use letters, digits and _ (at most 63), not starting with a digit`);
  }
  return `"${schema}"`;
}

export interface EventBusTables {
  seq: string;
  events: string;
}

export function eventBusTables(schema: string): EventBusTables {
  const s = quoteSchema(schema);
  return { seq: `${s}.job_event_seq`, events: `${s}.job_events` };
}

/**
 * The bus's tables, unqualified (they land in the search_path's schema): one
 * text for the store's numbered migration (migrations/postgres.ts, version 3)
 * and for `migrateEventBus` (a bus used on its own, as in its tests).
 */
export const EVENT_BUS_TABLES_SQL = `
  CREATE TABLE IF NOT EXISTS job_event_seq (
    job_id text PRIMARY KEY,
    last bigint NOT NULL,
    ended boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS job_events (
    job_id text NOT NULL,
    seq bigint NOT NULL,
    event text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, seq)
  );
  CREATE INDEX IF NOT EXISTS job_event_seq_updated_at ON job_event_seq (updated_at);
`;

/** Creates the schema and the bus's tables when missing (idempotent, serialized across nodes). */
export async function migrateEventBus(pool: pg.Pool, schema: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [EVENT_BUS_LOCK_KEY]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteSchema(schema)}`);
    await client.query(`SET LOCAL search_path TO ${quoteSchema(schema)}`);
    await client.query(EVENT_BUS_TABLES_SQL);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
