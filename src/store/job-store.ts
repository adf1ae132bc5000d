/**
 * The job store: the only way the runner and the HTTP layer touch persisted jobs.
 * SqliteJobStore implements it (one file, shared by the processes of one machine),
 * and PgJobStore (store/pg/: PostgreSQL, shared by the nodes of many machines);
 * `openStores` (store/open.ts) picks one from the configuration.
 * Times are epoch milliseconds (`*_ms`); the HTTP layer renders ISO strings.
 */
import type { ParameterValue, Parameters } from '../notebook/notebook-types.js';
import type { RunError } from '../engine/run-types.js';
import type { SecretRef } from './secret-store.js';

import type { Visibility } from './sharing-store.js';

export { JOB_STATUSES, JOB_TRANSITIONS, TERMINAL_STATUSES, isTerminal, type FinalStatus, type JobStatus } from '../job-states.js';
import type { FinalStatus, JobStatus } from '../job-states.js';

/** Where a job's kernel runs: a local kernel (default) or the user's own single-user server through JupyterHub. */
export type JobTarget = 'local' | 'user-server';
export const JOB_TARGETS: readonly JobTarget[] = ['local', 'user-server'];

export interface JobProgress {
  cells_total: number;
  cells_done: number;
}

export interface Job {
  id: string;
  status: JobStatus;
  username: string;
  /** Relative to the user's home. */
  notebook: string;
  parameters: Parameters;
  /**
   * The kernel the job runs on: resolved at submission (the job's own, else the notebook's) when the home
   * reads the notebook then; the requested one (or null: the notebook's) when it is read only at run time.
   */
  kernel: string | null;
  /** The kernel's language as resolved at submission (the notebook's, else its kernelspec's); null when read only at run time. */
  kernel_language: string | null;
  timeout_s: number | null;
  cell_timeout_s: number | null;
  idempotency_key: string | null;
  /** Who submitted it (may differ from username for admins). */
  submitted_by: string;
  created_at_ms: number;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  /** Relative to the user's home. */
  output_path: string | null;
  progress: JobProgress;
  error: RunError | null;
  result: Record<string, unknown> | null;
  cancel_requested: boolean;
  /** Where it came from: 'api', 'seed-execute' or 'seed-run-notebook'. */
  source: string;
  worker_id: string | null;
  attempts: number;
  target: JobTarget;
  /** Target `user-server`: the user's named server to run in; null = the default server. */
  server_name: string | null;
  /** The schedule that started it (kept after the schedule is deleted); null for other jobs. */
  schedule_id: string | null;
  /** The cron time it runs for; null for jobs not started by a schedule's cron (including "run now"). */
  scheduled_for_ms: number | null;
  /** 1 for the first run of a fire (or of a pipeline task item), 2.. for its retries (and a task's repairs). */
  attempt: number;
  /** The pipeline whose run started it (kept after the pipeline is deleted); null outside pipelines. */
  pipeline_id: string | null;
  pipeline_run_id: string | null;
  /** The task of the pipeline run it runs; null outside pipelines. */
  task_key: string | null;
  /** Its item's place in the task's for_each (from 0); null outside for_each. */
  item_index: number | null;
  /** Its for_each item; null outside for_each. */
  item: ParameterValue | null;
  /** A task retry waits its backoff: not claimed before this time; null = at once. */
  not_before_ms: number | null;
  /** The secrets the run gets as environment variables, each with the scope it was resolved in at submission ([] or absent = none). */
  secrets?: SecretRef[];
}

export interface NewJob {
  username: string;
  notebook: string;
  parameters: Parameters;
  kernel?: string | null;
  /** Set by the producer (runner/producer.ts) from what the intake read; callers leave it out. */
  kernel_language?: string | null;
  timeout_s?: number | null;
  cell_timeout_s?: number | null;
  idempotency_key?: string | null;
  submitted_by: string;
  output_path?: string | null;
  source?: string;
  /** Default 'local'. */
  target?: JobTarget;
  /** Target `user-server`: the user's named server; null/absent/'' = the default server. */
  server_name?: string | null;
  schedule_id?: string | null;
  scheduled_for_ms?: number | null;
  /** Default 1. */
  attempt?: number;
  /** A pipeline task's job (the pipeline store sets these; null/absent otherwise). */
  pipeline_id?: string | null;
  pipeline_run_id?: string | null;
  task_key?: string | null;
  item_index?: number | null;
  item?: ParameterValue | null;
  /** Not claimed before this time (a task retry's backoff); null/absent = at once. */
  not_before_ms?: number | null;
  /** Secrets the run gets as environment variables; names without a scope are resolved by the producer (runner/producer.ts). */
  secrets?: SecretRef[] | null;
  /**
   * Not stored: the hub groups of `username` when the caller is that user (their group secrets may be named);
   * absent: only the user's own secrets resolve.
   */
  owner_groups?: readonly string[];
  /**
   * Not stored: the most jobs `username` may have queued and running together,
   * this one included; null/absent = no limit. Counted in the same transaction
   * as the insert, so parallel submissions (from any process) cannot exceed it.
   * Set by the producer from the quota rule of the job's entry (runner/quota.ts).
   */
  max_active?: number | null;
  /**
   * Not stored: refuse parameters the notebook's parameters cell does not declare, or whose
   * value does not fit the declared/inferred type (checked at intake; default false).
   */
  strict_parameters?: boolean;
}

export interface ListJobsQuery {
  username?: string;
  status?: JobStatus[];
  notebook?: string;
  /** Only the jobs this schedule started. */
  schedule_id?: string;
  /** Only the jobs of this pipeline run (every task, item and attempt). */
  pipeline_run_id?: string;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  limit: number;
  /** A caller's own jobs and those shared with it (sharing-store.ts); absent: `username` alone filters. */
  visible?: Visibility;
}

export interface JobPage {
  jobs: Job[];
  next_cursor: string | null;
}

export interface ClaimOptions {
  /** Claim no job of a user who already has this many running; null/absent = no bound. */
  maxRunningPerUser?: number | null;
}

/** The jobs waiting and running now (`JobStore.countActive`). */
export interface ActiveCounts {
  queued: number;
  running: number;
}

export interface JobStore {
  /**
   * Creates a queued job; with an idempotency key already used by the same user, returns the existing job and created=false.
   * Throws RunQuotaError when the user already has `max_active` jobs queued or running.
   */
  enqueue(job: NewJob): Promise<{ job: Job; created: boolean }>;
  get(id: string): Promise<Job | null>;
  list(query: ListJobsQuery): Promise<JobPage>;
  /**
   * Atomically takes the oldest queued job (FIFO) whose `not_before_ms` has passed, for this worker, and marks it running. With
   * `maxRunningPerUser`, only a job whose user has fewer jobs running (counted across every process; exact on
   * PostgreSQL too): the jobs of a user at the limit wait, and others' are taken meanwhile.
   */
  claimNext(workerId: string, opts?: ClaimOptions): Promise<Job | null>;
  updateProgress(id: string, progress: JobProgress, outputPath?: string | null): Promise<void>;
  /**
   * Records a job's end. With `worker_id` (and `attempt`, the job's `attempts`
   * when it was claimed), only while that claim still holds (running, its lease
   * not reclaimed): otherwise InvalidTransitionError, and the record of whoever
   * reclaimed the job stands.
   */
  markFinished(
    id: string,
    status: FinalStatus,
    fields: { error?: RunError | null; result?: Record<string, unknown> | null; progress?: JobProgress; output_path?: string | null; worker_id?: string; attempt?: number },
  ): Promise<Job>;
  /** Queued: cancelled at once. Running: flags cancel_requested (the runner stops it). Terminal: unchanged. */
  requestCancel(id: string): Promise<Job | null>;
  /**
   * Renews the leases of `workerId`'s running jobs `ids` (refreshes their
   * `updated_at_ms`). Returns the ids it no longer holds: no longer running, or
   * running for another worker (their lease expired and was reclaimed).
   */
  heartbeat(workerId: string, ids: string[]): Promise<string[]>;
  /**
   * Reclaims running jobs whose lease expired: last heartbeat older than
   * `staleBeforeMs`, except those of `exceptWorkerId` (a live runner's own jobs).
   * They become failed (error ename `JobInterrupted`, evalue `reason`) or
   * re-queued (a running job with a pending cancel becomes cancelled instead).
   * A job whose lease is still live is never touched, whoever holds it.
   */
  recoverInterrupted(opts: {
    staleBeforeMs: number;
    exceptWorkerId?: string;
    requeue: boolean;
    reason: string;
  }): Promise<Job[]>;
  /** Jobs by status, every status present. Walks every job (about 100 ms at a million): callers cache it (/metrics). */
  countByStatus(): Promise<Record<JobStatus, number>>;
  /** The queued and running jobs only, read through their indexes: cheap at any history size (/health, queue depth). */
  countActive(): Promise<ActiveCounts>;
  /** Deletes finished jobs older than the cutoff (oldest first, at most `limit`); returns the deleted ones (so outputs can be pruned). */
  pruneFinishedBefore(cutoffMs: number, limit: number): Promise<Job[]>;
  /** Deletes the oldest finished jobs beyond the newest `keep` finished ones (at most `limit`); returns them. */
  pruneFinishedBeyond(keep: number, limit: number): Promise<Job[]>;
  /**
   * Optional: calls `listener` soon after a job is queued (or re-queued) by any
   * process sharing the store, so an idle worker claims at once (PostgreSQL:
   * LISTEN/NOTIFY). Returns the unsubscribe. Without it, workers rely on their poll.
   */
  onJobQueued?(listener: () => void): () => void;
  close(): Promise<void>;
}
