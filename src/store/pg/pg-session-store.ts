/** Browser sessions in the PostgreSQL store, on the job store's pool: one table every API node shares (SQL: core/session-sql.ts). */
import type { PgJobStore } from './pg-job-store.js';
import { query } from './connect.js';
import { POSTGRES, type Sql } from '../core/dialect.js';
import { SessionStoreCore } from '../core/session-sql.js';
import type { Row } from '../core/steps.js';

export class PgSessionStore extends SessionStoreCore {
  constructor(
    private readonly jobs: PgJobStore,
    opts: { now?: () => number } = {},
  ) {
    super(POSTGRES, opts.now ?? jobs.now);
  }

  protected async rows(q: Sql): Promise<Row[]> {
    return (await query<Row>(this.jobs.pool, q.text, q.args)).rows;
  }
}
