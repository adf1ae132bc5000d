/**
 * Applies the PostgreSQL migrations at start: one transaction under a
 * transaction-scoped advisory lock (per schema), so nodes that start together
 * take turns: the first migrates, the others find the work done. A schema with
 * a version this build does not know makes the node refuse to start.
 */
import type pg from 'pg';
import type { PgMigration } from './postgres.js';
import { SchemaTooNewError } from './schema-error.js';

/** The advisory lock class of hubmill's migrations ('hubm'); the second key is the schema's hash. */
const MIGRATION_LOCK_CLASS = 0x6875626d;

export async function applyPgMigrations(
  client: pg.ClientBase,
  migrations: readonly PgMigration[],
  opts: { schema: string; where: string; now: () => number },
): Promise<number[]> {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, opts.schema]);
    // Created only when missing: a role without CREATE on the database can still use an existing schema.
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [opts.schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${opts.schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${opts.schema}.schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)`);
    const res = await client.query<{ version: number }>(`SELECT version FROM ${opts.schema}.schema_migrations ORDER BY version`);
    const applied = new Set(res.rows.map((r) => r.version));
    const known = new Set(sorted.map((m) => m.version));
    const unknown = [...applied].filter((v) => !known.has(v));
    if (unknown.length > 0) throw new SchemaTooNewError(opts.where, [...known], unknown);
    for (const m of sorted) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query(`INSERT INTO ${opts.schema}.schema_migrations (version, name, applied_at_ms) VALUES ($1, $2, $3)`, [
        m.version,
        m.name,
        opts.now(),
      ]);
      applied.add(m.version);
    }
    await client.query('COMMIT');
    return [...applied].sort((a, b) => a - b);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
