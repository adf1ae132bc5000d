/**
 * Where the event bus's tables are (see event-bus.ts). They are made by the
 * store's numbered migrations (migrations/postgres.ts, version 3), the one
 * migration path: a bus on the store's pool finds them made, and a bus used on
 * its own (its own pool, as in its tests) applies the same migrations first.
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
import { PG_MIGRATIONS } from '../migrations/postgres.js';
import { applyPgMigrations } from '../migrations/apply-postgres.js';

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

/** Applies the store's migrations to `schema` on the bus's own pool (serialized across nodes like every start). */
export async function migrateSchema(pool: pg.Pool, schema: string): Promise<void> {
  quoteSchema(schema);
  // The store's rule (store/pg/connect.ts): its schema names are lower-case, written unquoted.
  if (schema !== schema.toLowerCase()) throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}: use lower-case letters, digits and _`);
  const client = await pool.connect();
  try {
    // The migrations' tables are unqualified: they land in the search_path's first schema.
    await client.query(`SET search_path TO ${schema}`);
    await applyPgMigrations(client, PG_MIGRATIONS, { schema, where: `schema ${schema}`, now: Date.now });
  } finally {
    await client.query('RESET search_path').catch(() => undefined);
    client.release();
  }
}
