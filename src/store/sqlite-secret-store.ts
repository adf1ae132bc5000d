/**
 * Secrets and the audit record in the SQLite file of the job store, on its
 * connection (one file, one write lock). The logic is the store core's (core/secret-sql.ts).
 */
import type Database from 'better-sqlite3';
import { HubmillError } from '../errors.js';
import type { SqliteJobStore } from './sqlite-job-store.js';
import { SQLITE } from './core/dialect.js';
import { SecretStoreCore } from './core/secret-sql.js';
import type { Steps } from './core/steps.js';

export class SqliteSecretStore extends SecretStoreCore {
  private readonly db: Database.Database;

  constructor(
    private readonly jobs: SqliteJobStore,
    opts: { now?: () => number } = {},
  ) {
    super(SQLITE, opts.now ?? Date.now);
    this.db = jobs.connection();
    if (!jobs.appliedMigrations().includes(70)) throw new HubmillError('the job store lacks the secrets migration (70)');
  }

  protected async tx<T>(make: () => Steps<T>): Promise<T> {
    return this.db.transaction(() => this.jobs.runSteps(make())).immediate();
  }

  protected async read<T>(steps: Steps<T>): Promise<T> {
    return this.jobs.runSteps(steps);
  }
}
