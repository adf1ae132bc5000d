/**
 * The fire loop. It sleeps until the soonest due time kept in the store (a
 * timer, capped so a clock jump or a change made by another process is noticed
 * within `maxSleepMs`), then: settles schedule jobs that ended (retries,
 * notifications), enqueues pending runs that are due, and fires due schedules.
 * Every fire goes through the store's transaction, so any number of processes
 * may run this loop on one store. The clock is injectable: tests call `tick()`.
 */
import type { Logger } from 'pino';
import { performance } from 'node:perf_hooks';
import type { Job, NewJob } from '../store/job-store.js';
import type { Schedule, ScheduleStore, Settled } from '../store/schedule-store.js';
import { parseCron, type CronSpec } from './cron.js';
import { ON_TIME_TOLERANCE_MS, planFire } from './fire-plan.js';
import { decideRetry } from './retry.js';
import { TemplateBackfill } from './template-backfill.js';
import { settledEvent, type NotifyEvent } from '../store/schedule-store.js';

/** Rows per store call and ms of work between yields, so a burst of fires never stalls the API. */
const SLICE = 50;
const SLICE_MS = 5;
const yieldToIo = (): Promise<void> => new Promise((r) => setImmediate(r));

export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

/** Counters for /metrics; all optional. */
export interface ScheduleMetrics {
  fired?(n: number): void;
  caughtUp?(n: number): void;
  missed?(n: number): void;
  overlapSkipped?(n: number): void;
  retried?(n: number): void;
}

export interface SchedulerOptions {
  store: ScheduleStore;
  clock?: Clock;
  logger?: Logger;
  metrics?: ScheduleMetrics;
  /** Called with each job the scheduler enqueued (the runner's loop can be woken). */
  onEnqueued?(jobs: Job[]): void;
  /** Called after a schedule's job ended and was settled, with the event to notify (null: none). */
  onSettled?(event: NotifyEvent | null, job: Job, schedule: Schedule | null): void;
  /** Longest sleep (default 30 s): bounds the effect of clock jumps and of changes made elsewhere. */
  maxSleepMs?: number;
  /** Longest retry backoff (default 3600 s). */
  retryCapS?: number;
  random?: () => number;
  /** Wakes closer together than this are merged into one pass (default 20 ms). */
  wakeDelayMs?: number;
  /** Schedules fired per pass (default 500; the pass repeats while more are due). */
  batch?: number;
  /**
   * The runner's check of a submitted job. With it, schedules saved before job templates
   * were kept get their checked template (template-backfill.ts): all at the first pass,
   * any still without one before its fire.
   */
  checkJob?(job: NewJob): Promise<NewJob>;
  /** After a refused template check, the next try waits at least this long (default 10 min). */
  templateRetryMs?: number;
}

export class Scheduler {
  private readonly store: ScheduleStore;
  private readonly clock: Clock;
  private readonly specs = new Map<string, CronSpec>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private running = false;
  private again = false;
  private stopped = true;
  private current: Promise<void> | null = null;
  private readonly backfill: TemplateBackfill | null;
  private backfillPending: boolean;

  constructor(private readonly opts: SchedulerOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    const check = opts.checkJob;
    this.backfill = check
      ? new TemplateBackfill({ store: this.store, check: (j) => check(j), now: () => this.clock.now(), logger: opts.logger, retryAfterMs: opts.templateRetryMs })
      : null;
    this.backfillPending = this.backfill !== null;
  }

  private spec(s: Schedule): CronSpec {
    const key = `${s.cron}\u0000${s.timezone}`;
    let spec = this.specs.get(key);
    if (!spec) {
      spec = parseCron(s.cron, s.timezone);
      if (this.specs.size > 10_000) this.specs.clear();
      this.specs.set(key, spec);
    }
    return spec;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.arm(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.current;
  }

  /**
   * Runs a pass soon (a schedule changed, a job ended). Wakes within
   * `wakeDelayMs` are merged, so a burst of job ends costs one pass, not one each.
   */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.arm(this.opts.wakeDelayMs ?? 20);
  }

  /** Sets the timer to fire in `delayMs` unless it already fires sooner. */
  private arm(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => void this.loop(), delayMs);
    this.timer.unref();
  }

  private async loop(): Promise<void> {
    this.timer = null;
    if (this.stopped || this.running) return;
    this.running = true;
    this.again = false;
    let next: number | null = null;
    const pass = this.tick().catch((err: unknown) => {
      this.opts.logger?.error({ err }, 'scheduler pass failed');
      return this.clock.now() + 1000;
    });
    this.current = pass.then(() => undefined);
    next = await pass;
    this.running = false;
    if (this.stopped) return;
    const max = this.opts.maxSleepMs ?? 30_000;
    let delay = next === null ? max : Math.min(max, Math.max(0, next - this.clock.now()));
    if (this.again) delay = Math.min(delay, this.opts.wakeDelayMs ?? 20);
    this.arm(delay);
  }

  /** One pass at the clock's current time; returns the soonest time something is due. */
  async tick(): Promise<number | null> {
    if (this.backfillPending) {
      // Once: a failure here is left to the check before each fire.
      this.backfillPending = false;
      await this.backfill!.all().catch((err: unknown) => this.opts.logger?.error({ err }, 'job template backfill failed'));
    }
    const now = this.clock.now();
    const random = this.opts.random ?? Math.random;
    const capS = this.opts.retryCapS ?? 3600;
    const settled: Settled[] = [];
    for (;;) {
      const part = await this.store.settleFinished((job, s) => decideRetry(job, s, now, capS, random), SLICE);
      settled.push(...part);
      await yieldToIo();
      if (part.length < SLICE) break;
    }
    for (const x of settled) {
      if (x.retryAtMs !== null) this.opts.metrics?.retried?.(1);
      const event: NotifyEvent | null = settledEvent(x.job, x.retryAtMs !== null);
      this.opts.onSettled?.(event, x.job, x.schedule);
    }
    for (;;) {
      const pending = await this.store.enqueuePending(now, SLICE);
      if (pending.length) this.opts.onEnqueued?.(pending);
      await yieldToIo();
      if (pending.length < SLICE) break;
    }
    const batch = this.opts.batch ?? 500;
    for (;;) {
      const due = await this.store.due(now, batch);
      let slice = performance.now();
      for (const s of due) {
        await this.fireOne(s, now);
        // The store is synchronous (SQLite): give requests a turn every few ms of firing.
        if (performance.now() - slice > SLICE_MS) {
          await yieldToIo();
          slice = performance.now();
        }
      }
      if (due.length < batch) break;
    }
    return this.store.nextDueAt();
  }

  private async fireOne(s: Schedule, now: number): Promise<void> {
    let spec: CronSpec;
    try {
      spec = this.spec(s);
    } catch (err) {
      this.opts.logger?.error({ scheduleId: s.id, err }, 'schedule has an unusable cron; pausing it');
      await this.store.update(s.id, { paused: true });
      return;
    }
    // The fire re-reads the row: a template stored here is the job it starts.
    await this.backfill?.beforeFire(s);
    const res = await this.store.fire(s.id, s.next_run_at_ms!, (fresh, active) =>
      planFire(fresh, spec, now, active),
    );
    if (!res) return;
    const { plan, jobs } = res;
    const fired = plan.enqueue.length + plan.defer.length;
    if (fired) this.opts.metrics?.fired?.(fired);
    // A fire later than the loop's wake-up tolerance was missed (downtime) and is caught up.
    const late = [...plan.enqueue, ...plan.defer].filter((t) => now - t > ON_TIME_TOLERANCE_MS).length;
    if (late) this.opts.metrics?.caughtUp?.(late);
    if (plan.missed) this.opts.metrics?.missed?.(plan.missed);
    if (plan.skippedOverlap.length) this.opts.metrics?.overlapSkipped?.(plan.skippedOverlap.length);
    if (jobs.length) this.opts.onEnqueued?.(jobs);
    this.opts.logger?.info(
      { scheduleId: s.id, jobs: jobs.map((j) => j.id), deferred: plan.defer.length, skippedOverlap: plan.skippedOverlap.length, missed: plan.missed },
      'schedule fired',
    );
  }
}
