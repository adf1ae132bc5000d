/**
 * Secrets and the audit record in the PostgreSQL store, on the job store's
 * pool: each change is one transaction. The logic is the store core's (core/secret-sql.ts).
 */
import type { PgJobStore } from './pg-job-store.js';
import { query } from './connect.js';
import { POSTGRES } from '../core/dialect.js';
import { SecretStoreCore } from '../core/secret-sql.js';
import { runAsync, type Row, type Steps } from '../core/steps.js';

export class PgSecretStore extends SecretStoreCore {
  constructor(
    private readonly jobs: PgJobStore,
    opts: { now?: () => number } = {},
  ) {
    super(POSTGRES, opts.now ?? jobs.now);
  }

  protected tx<T>(make: () => Steps<T>): Promise<T> {
    return this.jobs.runSteps(() => make());
  }

  protected read<T>(steps: Steps<T>): Promise<T> {
    return runAsync(steps, async (q) => (await query<Row>(this.jobs.pool, q.text, q.args)).rows);
  }
}
