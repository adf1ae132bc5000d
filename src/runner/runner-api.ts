/**
 * What the HTTP layer needs from the runner. The runner
 * owns the queue loop, concurrency, the kernel pool and live job events.
 */
import type { Job, NewJob } from '../store/job-store.js';
import type { JobEvent, JobEventCursor } from '../store/job-event-types.js';
import type { CheckedJob, CheckOptions } from './intake.js';
import type { SubmitOptions } from './producer.js';

export type { JobEvent, JobEventCursor } from '../store/job-event-types.js';

export interface JobRunner {
  /**
   * The producer's submit (producer.ts): checks (notebook inside the home, parses, kernel known, …), resolves,
   * enqueues under the quota rule of `opts.entry` (default 'api') and wakes the loop.
   */
  submit(job: NewJob, opts?: SubmitOptions): Promise<{ job: Job; created: boolean }>;
  /**
   * The checks `submit` makes, without enqueueing (400, 404, 422 with the reason): the job as it
   * would be stored, and the kernel read from the notebook. Schedules and pipelines check their jobs when saved
   * (pipelines also ask for the names the notebook declares: CheckOptions).
   */
  check(job: NewJob, opts?: CheckOptions): Promise<CheckedJob>;
  /** Claims queued jobs now rather than at the next poll (jobs enqueued past `submit`: a schedule's fires). */
  wake(): void;
  /** Cancels a queued job at once; interrupts then kills a running one (partial output kept). */
  cancel(id: string): Promise<Job | null>;
  /** Resolves with the job once terminal, or with its current state after timeoutMs. */
  waitFor(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Job | null>;
  /**
   * Subscribes to one job's live events, each with its id (1, 2, … per job, the same
   * on every node sharing the event bus); with `after`, the kept events with a greater
   * id are replayed first (synchronously in process, from the database on PostgreSQL).
   * Returns the unsubscribe function.
   */
  subscribe(jobId: string, listener: (event: JobEvent, id: number) => void, opts?: { after?: number }): () => void;
  /** The job's kept events on the bus, or null when it has none (run in another process on SQLite, or long finished). */
  eventCursor(jobId: string): Promise<JobEventCursor | null>;
  /** For /health and /metrics. */
  stats(): { running: number; concurrency: number; pool: Record<string, { idle: number; starting: number; target: number }> };
  start(): Promise<void>;
  /** Graceful stop: stop claiming, let running jobs finish within graceMs, then cancel them. */
  stop(graceMs: number): Promise<void>;
}
