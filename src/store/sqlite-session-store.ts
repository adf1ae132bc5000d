/** Browser sessions in the SQLite file of the job store, on its connection (the SQL is core/session-sql.ts). */
import type Database from 'better-sqlite3';
import { HubmillError } from '../errors.js';
import type { SqliteJobStore } from './sqlite-job-store.js';
import { SQLITE, type Sql } from './core/dialect.js';
import { SessionStoreCore } from './core/session-sql.js';
import type { Row } from './core/steps.js';

export class SqliteSessionStore extends SessionStoreCore {
  private readonly db: Database.Database;
  /** Prepared once per SQL text (a handful; every browser request reads one session). */
  private readonly statements = new Map<string, Database.Statement>();

  constructor(jobs: SqliteJobStore, opts: { now?: () => number } = {}) {
    super(SQLITE, opts.now ?? Date.now);
    this.db = jobs.connection();
    if (!jobs.appliedMigrations().includes(100)) throw new HubmillError('the job store lacks the browser sessions migration (100)');
  }

  protected async rows(q: Sql): Promise<Row[]> {
    let st = this.statements.get(q.text);
    if (!st) this.statements.set(q.text, (st = this.db.prepare(q.text)));
    if (st.reader) return st.all(...q.args) as Row[];
    st.run(...q.args);
    return [];
  }
}
