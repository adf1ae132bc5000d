/**
 * The job store: the only way the runner and the HTTP layer touch persisted jobs.
 * SQLite (embedded, default) and PostgreSQL (scale-out) implement it.
 * Times are epoch milliseconds (`*_ms`); the HTTP layer renders ISO strings.
 */
import type { Parameters } from '../notebook/types.js';
import type { RunError } from '../engine/types.js';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'timed_out';
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled', 'timed_out'];

/** Allowed transitions: one table, checked by every implementation. */
export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ['running', 'cancelled'],
  running: ['succeeded', 'failed', 'cancelled', 'timed_out', 'queued' /* re-queued after a restart */],
  succeeded: [],
  failed: [],
  cancelled: [],
  timed_out: [],
};

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
  kernel: string | null;
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
  /** Free-form: where it came from ('api', 'seed-execute', 'schedule:<id>'), worker id, attempts... */
  source: string;
  worker_id: string | null;
  attempts: number;
  target: JobTarget;
  /** The schedule that started it (kept after the schedule is deleted); null for other jobs. */
  schedule_id: string | null;
  /** The cron time it runs for; null for jobs not started by a schedule's cron (including "run now"). */
  scheduled_for_ms: number | null;
  /** 1 for the first run of a fire, 2.. for its retries. */
  attempt: number;
}

export interface NewJob {
  username: string;
  notebook: string;
  parameters: Parameters;
  kernel?: string | null;
  timeout_s?: number | null;
  cell_timeout_s?: number | null;
  idempotency_key?: string | null;
  submitted_by: string;
  output_path?: string | null;
  source?: string;
  /** Default 'local'. */
  target?: JobTarget;
  schedule_id?: string | null;
  scheduled_for_ms?: number | null;
  /** Default 1. */
  attempt?: number;
}

export interface ListJobsQuery {
  username?: string;
  status?: JobStatus[];
  notebook?: string;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  limit: number;
}

export interface JobPage {
  jobs: Job[];
  next_cursor: string | null;
}

export interface JobStore {
  /** Creates a queued job; with an idempotency key already used by the same user, returns the existing job and created=false. */
  enqueue(job: NewJob): Promise<{ job: Job; created: boolean }>;
  get(id: string): Promise<Job | null>;
  list(query: ListJobsQuery): Promise<JobPage>;
  /** Atomically takes the oldest queued job (FIFO) for this worker and marks it running. */
  claimNext(workerId: string): Promise<Job | null>;
  updateProgress(id: string, progress: JobProgress, outputPath?: string | null): Promise<void>;
  markFinished(
    id: string,
    status: Extract<JobStatus, 'succeeded' | 'failed' | 'cancelled' | 'timed_out'>,
    fields: { error?: RunError | null; result?: Record<string, unknown> | null; progress?: JobProgress; output_path?: string | null },
  ): Promise<Job>;
  /** Queued: cancelled at once. Running: flags cancel_requested (the runner stops it). Terminal: unchanged. */
  requestCancel(id: string): Promise<Job | null>;
  /**
   * Marks running jobs as alive (their runner still owns them). Runners call it
   * every few seconds so other processes can tell a live job from an abandoned one.
   */
  heartbeat(ids: string[]): Promise<void>;
  /**
   * After a restart, or when another worker died: running jobs become failed (error
   * ename `JobInterrupted`, evalue `reason`) or re-queued (a running job with a
   * pending cancel becomes cancelled instead). Which running jobs: those claimed by
   * `workerId`, plus those whose last heartbeat is older than `staleBeforeMs`
   * (except those of `exceptWorkerId`: a live runner knows its own jobs are alive);
   * with neither given, every running job (single node).
   */
  recoverInterrupted(opts: {
    workerId?: string;
    staleBeforeMs?: number;
    exceptWorkerId?: string;
    requeue: boolean;
    reason: string;
  }): Promise<Job[]>;
  countByStatus(): Promise<Record<JobStatus, number>>;
  /** Deletes finished jobs older than the cutoff (oldest first, at most `limit`); returns the deleted ones (so outputs can be pruned). */
  pruneFinishedBefore(cutoffMs: number, limit: number): Promise<Job[]>;
  /** Deletes the oldest finished jobs beyond the newest `keep` finished ones (at most `limit`); returns them. */
  pruneFinishedBeyond(keep: number, limit: number): Promise<Job[]>;
  close(): Promise<void>;
}
