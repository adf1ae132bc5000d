/**
 * Pipelines in the SQLite file of the job store, on its connection: a run's
 * changes and the jobs it queues commit in one `BEGIN IMMEDIATE` transaction
 * with the job store's own (one file, one write lock). The logic is the store
 * core's (core/pipeline-store-core.ts); this file runs it.
 */
import type Database from 'better-sqlite3';
import { HubmillError } from '../errors.js';
import type { JobTarget } from './job-store.js';
import type { SqliteJobStore } from './sqlite-job-store.js';
import { SQLITE } from './core/dialect.js';
import { noEffects, type RunEffects } from './core/pipeline-runs.js';
import { PipelineStoreCore } from './core/pipeline-store-core.js';
import type { Steps } from './core/steps.js';

export class SqlitePipelineStore extends PipelineStoreCore {
  private readonly db: Database.Database;

  /** `jobTarget`: the target of the jobs runs start ('user-server' with HUBMILL_HOMES=user-server; default 'local'). */
  constructor(
    private readonly jobs: SqliteJobStore,
    opts: { now?: () => number; jobTarget?: JobTarget } = {},
  ) {
    super(SQLITE, opts.now ?? Date.now, opts.jobTarget ?? 'local');
    this.db = jobs.connection();
    if (!jobs.appliedMigrations().includes(60)) throw new HubmillError('the job store lacks the pipelines migration (60)');
  }

  protected async tx<T>(make: (fx: RunEffects) => Steps<T>): Promise<T> {
    const fx = noEffects();
    const out = this.db.transaction(() => this.jobs.runSteps(make(fx))).immediate();
    this.jobs.announce(fx);
    return out;
  }

  protected async read<T>(steps: Steps<T>): Promise<T> {
    return this.jobs.runSteps(steps);
  }

  protected async wakeRunners(): Promise<void> {
    this.jobs.announce({ queued: 1, changed: 0 });
  }
}
