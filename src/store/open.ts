/**
 * Chooses the store from the configuration: PostgreSQL when `databaseUrl` is
 * set (several nodes share it), else SQLite in the data dir (one machine).
 * The rest of hubmill sees only the JobStore, ScheduleStore and PipelineStore contracts.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { JobStore, JobTarget } from './job-store.js';
import type { ScheduleStore } from './schedule-store.js';
import type { PipelineStore } from './pipeline-store.js';
import type { SessionStore } from './session-store.js';
import type { OutboxStore } from './outbox-store.js';
import { OutboxStoreCore } from './core/outbox-store-core.js';
import { POSTGRES, SQLITE } from './core/dialect.js';
import { rowsOf, runAsync, type Row } from './core/steps.js';
import { query } from './pg/connect.js';
import type { AuditStore, SecretStore } from './secret-store.js';
import { PgSecretStore } from './pg/pg-secret-store.js';
import { SqliteSecretStore } from './sqlite-secret-store.js';
import { PgJobStore } from './pg/pg-job-store.js';
import { PgScheduleStore } from './pg/pg-schedule-store.js';
import { PgPipelineStore } from './pg/pg-pipeline-store.js';
import { PgSessionStore } from './pg/pg-session-store.js';
import { SqliteJobStore } from './sqlite-job-store.js';
import { SqliteScheduleStore } from './sqlite-schedule-store.js';
import { SqlitePipelineStore } from './sqlite-pipeline-store.js';
import { SqliteSessionStore } from './sqlite-session-store.js';
import type { SharingStore } from './sharing-store.js';
import { SharingStoreCore } from './core/sharing-sql.js';

export interface Stores {
  kind: 'sqlite' | 'postgres';
  jobs: JobStore;
  schedules: ScheduleStore;
  pipelines: PipelineStore;
  sessions: SessionStore;
  /** Notifications waiting for delivery, written with the run ends they announce. */
  outbox: OutboxStore;
  sharing: SharingStore;
  /** Secrets (sealed values) and the audit record. */
  secrets: SecretStore & AuditStore;
  close(): Promise<void>;
}

/** The schedule store of an open job store, on its connection or pool (one transaction spans both). */
export function scheduleStoreFor(jobs: JobStore, opts: { now?: () => number; jobTarget?: JobTarget } = {}): ScheduleStore {
  if (jobs instanceof PgJobStore) return new PgScheduleStore(jobs, opts);
  if (jobs instanceof SqliteJobStore) return new SqliteScheduleStore(jobs, opts);
  throw new TypeError('schedules need the SQLite or PostgreSQL job store');
}

/** The pipeline store of an open job store, on its connection or pool (a run advances in the transaction that ends its job). */
export function pipelineStoreFor(jobs: JobStore, opts: { now?: () => number; jobTarget?: JobTarget } = {}): PipelineStore {
  if (jobs instanceof PgJobStore) return new PgPipelineStore(jobs, opts);
  if (jobs instanceof SqliteJobStore) return new SqlitePipelineStore(jobs, opts);
  throw new TypeError('pipelines need the SQLite or PostgreSQL job store');
}

/** The browser session store of an open job store (null for another JobStore, such as the tests' fakes). */
export function sessionStoreFor(jobs: JobStore, opts: { now?: () => number } = {}): SessionStore | null {
  if (jobs instanceof PgJobStore) return new PgSessionStore(jobs, opts);
  if (jobs instanceof SqliteJobStore) return new SqliteSessionStore(jobs, opts);
  return null;
}

/** The outbox of an open job store, on its connection or pool. */
export function outboxStoreFor(jobs: JobStore, opts: { now?: () => number } = {}): OutboxStore {
  // The database's clock, as the rows' times are written by the schedule and pipeline stores (pg/db-clock.ts).
  if (jobs instanceof PgJobStore) return new OutboxStoreCore(POSTGRES, async (q) => (await query<Row>(jobs.pool, q.text, q.args)).rows, opts.now ?? jobs.now);
  if (jobs instanceof SqliteJobStore) return new OutboxStoreCore(SQLITE, async (q) => jobs.runSteps(rowsOf<Row>(q)), opts.now);
  throw new TypeError('the outbox needs the SQLite or PostgreSQL job store');
}

/** The sharing store (grants, share links) of an open job store, on its connection or pool. */
export function sharingStoreFor(jobs: JobStore): SharingStore {
  if (jobs instanceof PgJobStore) {
    return new SharingStoreCore(POSTGRES, {
      tx: (steps) => jobs.runSteps(() => steps()),
      read: (steps) => runAsync(steps, async (q) => (await query<Row>(jobs.pool, q.text, q.args)).rows),
      now: () => jobs.now(),
    });
  }
  if (jobs instanceof SqliteJobStore) {
    const db = jobs.connection();
    return new SharingStoreCore(SQLITE, {
      tx: async (steps) => db.transaction(() => jobs.runSteps(steps())).immediate(),
      read: async (steps) => jobs.runSteps(steps),
      now: Date.now,
    });
  }
  throw new TypeError('sharing needs the SQLite or PostgreSQL job store');
}

/** The secret store and audit record of an open job store, on its connection or pool. */
export function secretStoreFor(jobs: JobStore, opts: { now?: () => number } = {}): SecretStore & AuditStore {
  if (jobs instanceof PgJobStore) return new PgSecretStore(jobs, opts);
  if (jobs instanceof SqliteJobStore) return new SqliteSecretStore(jobs, opts);
  throw new TypeError('secrets need the SQLite or PostgreSQL job store');
}

/**
 * Opens the configured store (PostgreSQL migrations run here, under their advisory lock).
 * `jobTarget`: the target of the jobs schedule fires start (the homes' default, homes/home.ts).
 */
export async function openStores(config: Pick<Config, 'databaseUrl' | 'dataDir'>, logger: Logger, opts: { jobTarget?: JobTarget } = {}): Promise<Stores> {
  let jobs: JobStore;
  let kind: Stores['kind'];
  if (config.databaseUrl) {
    const pg = await PgJobStore.open({ url: config.databaseUrl, logger: logger.child({ component: 'store' }) });
    logger.info({ schema: pg.schema, migrations: pg.appliedMigrations() }, 'job store: PostgreSQL');
    jobs = pg;
    kind = 'postgres';
  } else {
    await mkdir(config.dataDir, { recursive: true });
    jobs = new SqliteJobStore({ path: join(config.dataDir, 'jobs.sqlite') });
    kind = 'sqlite';
  }
  try {
    const target = { jobTarget: opts.jobTarget };
    return {
      kind,
      jobs,
      schedules: scheduleStoreFor(jobs, target),
      pipelines: pipelineStoreFor(jobs, target),
      sessions: sessionStoreFor(jobs)!,
      outbox: outboxStoreFor(jobs),
      sharing: sharingStoreFor(jobs),
      secrets: secretStoreFor(jobs),
      close: () => jobs.close(),
    };
  } catch (err) {
    await jobs.close();
    throw err;
  }
}
