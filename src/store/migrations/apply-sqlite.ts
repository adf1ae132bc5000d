/** Applies the numbered SQLite migrations to a database, once each, in order. */
import type Database from 'better-sqlite3';
import { HubmillError } from '../../errors.js';
import type { Migration } from './sqlite.js';

/** The store's schema is newer than this build knows (a downgrade). */
export class StoreSchemaError extends HubmillError {
  override readonly code = 'STORE_SCHEMA';
  override readonly httpStatus = 503;
}

/** Each pending migration in its own immediate transaction (safe when several processes start at once). */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[], opts: { path: string; now: () => number }): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL)`);
  const known = new Set(migrations.map((m) => m.id));
  const applied = (): Set<number> => new Set((db.prepare('SELECT id FROM schema_migrations').all() as { id: number }[]).map((r) => r.id));
  const unknown = [...applied()].filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new StoreSchemaError(
      `the job store ${opts.path} has migrations this version does not know (${unknown.join(', ')}); refusing to use a newer schema`,
    );
  }
  for (const m of [...migrations].sort((a, b) => a.id - b.id)) {
    db.transaction(() => {
      if (applied().has(m.id)) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (id, name, applied_at_ms) VALUES (?, ?, ?)').run(m.id, m.name, opts.now());
    }).immediate();
  }
}
