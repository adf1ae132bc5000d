/** Applies the numbered SQLite migrations to a database, once each, in order. */
import type Database from 'better-sqlite3';
import type { Migration } from './sqlite.js';
import { SchemaTooNewError, StoreSchemaError } from './schema-error.js';

export { SchemaTooNewError, StoreSchemaError };

/** Each pending migration in its own immediate transaction (safe when several processes start at once). */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[], opts: { path: string; now: () => number }): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL)`);
  const known = new Set(migrations.map((m) => m.id));
  const applied = (): Set<number> => new Set((db.prepare('SELECT id FROM schema_migrations').all() as { id: number }[]).map((r) => r.id));
  const unknown = [...applied()].filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new SchemaTooNewError(opts.path, [...known].sort((a, b) => a - b), unknown.sort((a, b) => a - b));
  }
  for (const m of [...migrations].sort((a, b) => a.id - b.id)) {
    db.transaction(() => {
      if (applied().has(m.id)) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (id, name, applied_at_ms) VALUES (?, ?, ?)').run(m.id, m.name, opts.now());
    }).immediate();
  }
}
