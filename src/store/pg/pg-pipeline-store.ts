/**
 * Pipelines in the PostgreSQL store, on the job store's pool: each change is
 * one transaction that locks the run (or, to start queued runs, the pipeline)
 * first, so nodes advancing one run take turns; the jobs it queues are
 * announced by NOTIFY at commit. The logic is the store core's
 * (core/pipeline-store-core.ts); this file runs it.
 */
import type { JobTarget } from '../job-store.js';
import type { PgJobStore } from './pg-job-store.js';
import { JOB_QUEUED_CHANNEL } from './channels.js';
import { query } from './connect.js';
import { POSTGRES } from '../core/dialect.js';
import type { RunEffects } from '../core/pipeline-runs.js';
import { PipelineStoreCore } from '../core/pipeline-store-core.js';
import { runAsync, type Row, type Steps } from '../core/steps.js';

export class PgPipelineStore extends PipelineStoreCore {
  /** `jobTarget`: the target of the jobs runs start ('user-server' with HUBMILL_HOMES=user-server; default 'local'). */
  constructor(
    private readonly jobs: PgJobStore,
    opts: { now?: () => number; jobTarget?: JobTarget } = {},
  ) {
    super(POSTGRES, opts.now ?? jobs.now, opts.jobTarget ?? 'local');
  }

  protected tx<T>(make: (fx: RunEffects) => Steps<T>): Promise<T> {
    return this.jobs.runSteps(make);
  }

  protected read<T>(steps: Steps<T>): Promise<T> {
    return runAsync(steps, async (q) => (await query<Row>(this.jobs.pool, q.text, q.args)).rows);
  }

  protected async wakeRunners(): Promise<void> {
    await query(this.jobs.pool, 'SELECT pg_notify($1, $2)', [JOB_QUEUED_CHANNEL, this.jobs.schema]);
  }
}
