/**
 * A real store (SQLite in memory, or PostgreSQL in a fresh schema dropped at
 * close) with the scheduler on a fake clock: tests move the clock, call tick(),
 * and finish jobs as a runner would.
 */
import { randomBytes } from 'node:crypto';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { SqliteScheduleStore } from '../../src/store/sqlite-schedule-store.js';
import { PgJobStore } from '../../src/store/pg/pg-job-store.js';
import { PgScheduleStore } from '../../src/store/pg/pg-schedule-store.js';
import type { Job, JobStore } from '../../src/store/job-store.js';
import {
  SCHEDULE_DEFAULTS,
  type NewSchedule,
  type NotifyEvent,
  type Schedule,
  type ScheduleJobTemplate,
  type ScheduleSettings,
  type ScheduleStore,
} from '../../src/store/schedule-store.js';
import { adminQuery, PG_TEST_URL } from '../helpers/pg.js';
import { Scheduler, type SchedulerOptions } from '../../src/schedules/scheduler.js';
import { parseCron } from '../../src/schedules/cron.js';
import { nextRunWithin } from '../../src/schedules/fire-plan.js';

export class FakeClock {
  constructor(public t: number) {}
  now = (): number => this.t;
  set(iso: string): void {
    this.t = Date.parse(iso);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface Harness {
  clock: FakeClock;
  jobs: JobStore;
  store: ScheduleStore;
  scheduler: Scheduler;
  counters: Record<string, number>;
  settled: { event: NotifyEvent | null; job: Job }[];
  /** Without `job_template`, a schedule as saved before templates were kept (fires use its settings). */
  create(s: Partial<ScheduleSettings> & { cron: string; job_template?: ScheduleJobTemplate | null }): Promise<Schedule>;
  /** Claims every queued job and finishes it with `status`. */
  finishAll(status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled'): Promise<Job[]>;
  runsOf(id: string): Promise<Job[]>;
  close(): Promise<void>;
}

export type StoreBackend = 'sqlite' | 'postgres';
export const STORE_BACKENDS: readonly StoreBackend[] = ['sqlite', 'postgres'];

export async function harness(backend: StoreBackend, startIso: string, opts: Partial<SchedulerOptions> = {}): Promise<Harness> {
  const clock = new FakeClock(Date.parse(startIso));
  let jobs: JobStore;
  let store: ScheduleStore;
  let dropSchema = async (): Promise<void> => undefined;
  if (backend === 'postgres') {
    const schema = `hubmill_t_${randomBytes(6).toString('hex')}`;
    dropSchema = async () => void (await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    try {
      const pg = await PgJobStore.open({ url: PG_TEST_URL, schema, now: clock.now });
      jobs = pg;
      store = new PgScheduleStore(pg, { now: clock.now });
    } catch (err) {
      await dropSchema();
      throw err;
    }
  } else {
    const sqlite = new SqliteJobStore({ path: ':memory:', now: clock.now });
    jobs = sqlite;
    store = new SqliteScheduleStore(sqlite, { now: clock.now });
  }
  const counters: Record<string, number> = {};
  const count = (k: string) => (n: number) => void (counters[k] = (counters[k] ?? 0) + n);
  const settled: { event: NotifyEvent | null; job: Job }[] = [];
  const scheduler = new Scheduler({
    store,
    clock,
    random: () => 0.5,
    metrics: { fired: count('fired'), caughtUp: count('caughtUp'), missed: count('missed'), overlapSkipped: count('overlapSkipped'), retried: count('retried') },
    onSettled: (event, job) => settled.push({ event, job }),
    ...opts,
  });
  return {
    clock,
    jobs,
    store,
    scheduler,
    counters,
    settled,
    async create({ job_template, ...s }) {
      const settings: ScheduleSettings = {
        ...SCHEDULE_DEFAULTS,
        name: 'test',
        notebook: 'nb.ipynb',
        ...s,
      };
      const n: NewSchedule = {
        ...settings,
        job_template,
        owner: 'alice',
        created_by: 'alice',
        webhook_secret: null,
        next_run_at_ms: nextRunWithin(parseCron(settings.cron, settings.timezone), settings, clock.now()),
      };
      return store.create(n);
    },
    async finishAll(status) {
      const out: Job[] = [];
      for (let j = await jobs.claimNext('w'); j; j = await jobs.claimNext('w')) {
        if (status === 'cancelled') {
          await jobs.requestCancel(j.id);
          out.push(await jobs.markFinished(j.id, 'cancelled', {}));
        } else out.push(await jobs.markFinished(j.id, status, {}));
      }
      return out;
    },
    async runsOf(id) {
      return (await store.runs(id, undefined, 1000)).jobs.reverse();
    },
    async close() {
      try {
        await scheduler.stop();
        await jobs.close();
      } finally {
        await dropSchema();
      }
    },
  };
}

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
