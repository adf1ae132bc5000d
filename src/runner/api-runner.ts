/**
 * The runner of an API node (`--role api`): it checks and enqueues submissions,
 * asks for cancels, and serves waits and live events from the store and the
 * event bus. It runs no kernel and claims no job: the worker nodes do, and
 * publish the jobs' events on the shared bus.
 *
 * - submit: the producer (producer.ts: the intake's checks and the quota, the same as on a worker); the
 *   store wakes the workers (NOTIFY on PostgreSQL, their poll otherwise). The
 *   job's first event is the worker's `running` state.
 * - cancel: `requestCancel`; a queued job is cancelled at once (its state event
 *   is published here), a running one is stopped by the worker that runs it,
 *   which sees `cancel_requested`.
 * - waits and SSE: the bus's events, with the store re-read as a fallback.
 */
import { pino, type Logger } from 'pino';
import type { Job, JobStore, NewJob } from '../store/job-store.js';
import type { EventBus, JobEventListener } from './in-process-event-bus.js';
import type { CheckedJob, CheckOptions } from './intake.js';
import { intakeFor, type IntakeOptions } from './intake-for.js';
import { JobEvents } from './job-event-waits.js';
import { within, type RunnerOptions } from './options.js';
import { JobProducer, type SubmitOptions } from './producer.js';
import type { JobEventCursor, JobRunner } from './runner-api.js';

export type ApiRunnerOptions = IntakeOptions & Pick<RunnerOptions, 'store' | 'logger' | 'waitPollMs' | 'quota' | 'secrets'> & { eventBus: EventBus };

export class ApiRunner implements JobRunner {
  private readonly store: JobStore;
  private readonly log: Logger;
  private readonly events: JobEvents;
  /** The one door of submissions (producer.ts): the same checks and quota as on a worker. */
  readonly producer: JobProducer;

  constructor(opts: ApiRunnerOptions) {
    this.store = opts.store;
    this.log = (opts.logger ?? pino({ enabled: false })).child({ component: 'api-runner' });
    this.events = new JobEvents(this.log, { bus: opts.eventBus, waitPollMs: opts.waitPollMs });
    // No `queued` event: nobody can be subscribed to a job that did not exist (SSE starts from the
    // store's state), and a worker that claims it at once would otherwise race it with `running`.
    this.producer = new JobProducer({ intake: intakeFor(opts), store: this.store, quota: opts.quota, log: this.log, secrets: opts.secrets });
  }

  submit(newJob: NewJob, opts?: SubmitOptions): Promise<{ job: Job; created: boolean }> {
    return this.producer.submit(newJob, opts);
  }

  check(newJob: NewJob, opts?: CheckOptions): Promise<CheckedJob> {
    return this.producer.check(newJob, opts);
  }

  /** Nothing to wake here: the workers claim (woken by NOTIFY on PostgreSQL, their poll otherwise). */
  wake(): void {}

  async cancel(id: string): Promise<Job | null> {
    const job = await this.store.requestCancel(id);
    if (job?.status === 'cancelled') this.events.emitState(job);
    return job;
  }

  waitFor(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Job | null> {
    return this.events.waitFor(this.store, id, timeoutMs, signal);
  }

  subscribe(jobId: string, listener: JobEventListener, opts?: { after?: number }): () => void {
    return this.events.subscribe(jobId, listener, opts);
  }

  eventCursor(jobId: string): Promise<JobEventCursor | null> {
    return this.events.cursor(jobId);
  }

  stats(): { running: number; concurrency: number; pool: Record<string, { idle: number; starting: number; target: number }> } {
    return { running: 0, concurrency: 0, pool: {} };
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  /** Lets events published here reach the bus, within graceMs. */
  stop(graceMs: number): Promise<void> {
    return within(this.events.bus.flush(), graceMs);
  }
}
