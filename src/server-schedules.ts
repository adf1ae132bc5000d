/**
 * Wires schedules into `hubmill serve`: the schedule store (store/open.ts: on
 * the job store's SQLite file or PostgreSQL pool), the fire loop, and what the
 * HTTP routes need. Notifications of settled jobs are written to the outbox by
 * the store as it settles them (notify/outbox-deliverer.ts sends them). The jobs a fire enqueues wake
 * this process's runner, so they start at once rather than at its next poll.
 */
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { ScheduleDeps } from './http/routes/schedules.js';
import { Scheduler, type Clock, type ScheduleMetrics } from './schedules/scheduler.js';
import { WebhookAllowList } from './schedules/webhook-address.js';
import type { NewJob } from './store/job-store.js';
import type { ScheduleStore } from './store/schedule-store.js';

export interface Scheduling {
  store: ScheduleStore;
  scheduler: Scheduler;
  routes: ScheduleDeps;
  /** Starts the fire loop, woken also by schedule changes made on other nodes (when the store tells them). */
  start(): void;
  stop(): Promise<void>;
}

export interface SchedulingOptions {
  store: ScheduleStore;
  config: Config;
  logger: Logger;
  metrics?: ScheduleMetrics;
  clock?: Clock;
  /** Called after the fire loop enqueued jobs: the runner's `wake` (its queue claims them now). */
  wakeRunner?(): void;
  /** Called after schedule jobs were settled (their notifications are in the outbox now). */
  onSettled?(): void;
  /** The runner's check of a submitted job: schedules saved without a checked template get one (schedules/template-backfill.ts). */
  checkJob?(job: NewJob): Promise<NewJob>;
}

export function startScheduling(o: SchedulingOptions): Scheduling {
  const store = o.store;
  const allow = new WebhookAllowList(o.config.webhookAllow);
  const log = o.logger.child({ component: 'scheduler' });
  let unsubscribe: (() => void) | null = null;
  const scheduler = new Scheduler({
    store,
    clock: o.clock,
    logger: log,
    metrics: o.metrics,
    onEnqueued: () => o.wakeRunner?.(),
    checkJob: o.checkJob,
    onSettled: (event) => {
      if (event) o.onSettled?.();
    },
  });
  return {
    store,
    scheduler,
    routes: { store, wake: () => scheduler.wake(), webhookAllow: allow, now: o.clock ? () => o.clock!.now() : undefined },
    start() {
      scheduler.start();
      unsubscribe ??= store.onSchedulesChanged?.(() => scheduler.wake()) ?? null;
    },
    async stop() {
      unsubscribe?.();
      unsubscribe = null;
      await scheduler.stop();
    },
  };
}
