/**
 * An in-memory JobStore for tests of the layers above the store (HTTP routes,
 * fake runners). It passes the same conformance suite as SqliteJobStore
 * (test/store/fake-job-store.test.ts), so tests built on it see the real
 * contract: transitions, FIFO claims, paging, quotas, recovery, pruning.
 */
import { InvalidTransitionError, NotFoundError, RunQuotaError, UsageError } from '../../src/errors.js';
import { newJobId } from '../../src/store/job-id.js';
import {
  JOB_STATUSES,
  JOB_TRANSITIONS,
  isTerminal,
  type ActiveCounts,
  type ClaimOptions,
  type FinalStatus,
  type Job,
  type JobPage,
  type JobProgress,
  type JobStatus,
  type JobStore,
  type ListJobsQuery,
  type NewJob,
} from '../../src/store/job-store.js';
import type { RunError } from '../../src/engine/run-types.js';

/** A copy the caller may change without changing the store. */
function copy(j: Job): Job {
  return { ...j, progress: { ...j.progress }, error: j.error && { ...j.error }, result: j.result && { ...j.result } };
}

export class FakeStore implements JobStore {
  /** The stored jobs by id; fake runners may change them directly. */
  readonly jobs = new Map<string, Job>();
  /** When true, countByStatus and countActive fail as a locked database would (health checks). */
  down = false;
  /** Last heartbeat (or change) of each job. */
  private readonly touched = new Map<string, number>();
  private readonly now: () => number;

  constructor(opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
  }

  private transition(j: Job, to: JobStatus): void {
    if (!JOB_TRANSITIONS[j.status].includes(to)) {
      throw new InvalidTransitionError(`job ${j.id} cannot go from ${j.status} to ${to}`);
    }
    j.status = to;
  }

  async enqueue(n: NewJob): Promise<{ job: Job; created: boolean }> {
    if (n.idempotency_key != null) {
      for (const j of this.jobs.values()) if (j.username === n.username && j.idempotency_key === n.idempotency_key) return { job: copy(j), created: false };
    }
    if (n.max_active != null) {
      const mine = [...this.jobs.values()].filter((j) => j.username === n.username);
      const running = mine.filter((j) => j.status === 'running').length;
      const queued = mine.filter((j) => j.status === 'queued').length;
      if (running + queued >= n.max_active) throw new RunQuotaError(n.username, { running, queued, maxActive: n.max_active });
    }
    const now = this.now();
    const job: Job = {
      id: newJobId(now),
      status: 'queued',
      username: n.username,
      notebook: n.notebook,
      parameters: n.parameters ?? {},
      kernel: n.kernel ?? null,
      kernel_language: n.kernel_language ?? null,
      timeout_s: n.timeout_s ?? null,
      cell_timeout_s: n.cell_timeout_s ?? null,
      idempotency_key: n.idempotency_key ?? null,
      submitted_by: n.submitted_by,
      created_at_ms: now,
      started_at_ms: null,
      finished_at_ms: null,
      output_path: n.output_path ?? null,
      progress: { cells_total: 0, cells_done: 0 },
      error: null,
      result: null,
      cancel_requested: false,
      source: n.source ?? 'api',
      worker_id: null,
      attempts: 0,
      target: n.target ?? 'local',
      server_name: n.server_name || null,
      schedule_id: n.schedule_id ?? null,
      scheduled_for_ms: n.scheduled_for_ms ?? null,
      attempt: n.attempt ?? 1,
      pipeline_id: n.pipeline_id ?? null,
      pipeline_run_id: n.pipeline_run_id ?? null,
      task_key: n.task_key ?? null,
      item_index: n.item_index ?? null,
      item: n.item ?? null,
      not_before_ms: n.not_before_ms ?? null,
    };
    this.jobs.set(job.id, job);
    this.touched.set(job.id, now);
    return { job: copy(job), created: true };
  }

  async get(id: string): Promise<Job | null> {
    const j = this.jobs.get(id);
    return j ? copy(j) : null;
  }

  async list(q: ListJobsQuery): Promise<JobPage> {
    const newestFirst = (a: Job, b: Job) => b.created_at_ms - a.created_at_ms || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
    let all = [...this.jobs.values()].sort(newestFirst);
    if (q.username !== undefined) all = all.filter((j) => j.username === q.username);
    if (q.status !== undefined && q.status.length > 0) all = all.filter((j) => q.status!.includes(j.status));
    if (q.notebook !== undefined) all = all.filter((j) => j.notebook === q.notebook);
    if (q.schedule_id !== undefined) all = all.filter((j) => j.schedule_id === q.schedule_id);
    if (q.pipeline_run_id !== undefined) all = all.filter((j) => j.pipeline_run_id === q.pipeline_run_id);
    if (q.cursor) {
      const after = this.jobs.get(Buffer.from(q.cursor, 'base64url').toString('utf8'));
      if (!after) throw new UsageError('invalid cursor');
      all = all.filter((j) => newestFirst(after, j) < 0);
    }
    const limit = Math.max(1, Math.min(1000, Math.floor(q.limit) || 1));
    const page = all.slice(0, limit);
    const last = page[page.length - 1];
    return { jobs: page.map(copy), next_cursor: all.length > limit && last ? Buffer.from(last.id, 'utf8').toString('base64url') : null };
  }

  async claimNext(workerId: string, opts: ClaimOptions = {}): Promise<Job | null> {
    const max = opts.maxRunningPerUser ?? null;
    const running = (u: string) => [...this.jobs.values()].filter((j) => j.username === u && j.status === 'running').length;
    const now = this.now();
    const oldest = [...this.jobs.values()]
      .filter((j) => j.status === 'queued' && (j.not_before_ms === null || j.not_before_ms <= now) && (max === null || running(j.username) < max))
      .sort((a, b) => a.created_at_ms - b.created_at_ms || (a.id < b.id ? -1 : 1))[0];
    if (!oldest) return null;
    this.transition(oldest, 'running');
    Object.assign(oldest, { worker_id: workerId, started_at_ms: now, attempts: oldest.attempts + 1 });
    this.touched.set(oldest.id, now);
    return copy(oldest);
  }

  async updateProgress(id: string, progress: JobProgress, outputPath?: string | null): Promise<void> {
    const j = this.jobs.get(id);
    if (!j || j.status !== 'running') return;
    j.progress = { ...progress };
    if (outputPath !== undefined) j.output_path = outputPath;
    this.touched.set(id, this.now());
  }

  async markFinished(
    id: string,
    status: FinalStatus,
    fields: { error?: RunError | null; result?: Record<string, unknown> | null; progress?: JobProgress; output_path?: string | null; worker_id?: string; attempt?: number },
  ): Promise<Job> {
    const j = this.jobs.get(id);
    if (!j) throw new NotFoundError(`job ${id} not found`);
    // A writer whose claim is no longer the current one (its lease was reclaimed) is refused.
    if (fields.worker_id !== undefined && (j.status !== 'running' || j.worker_id !== fields.worker_id || (fields.attempt !== undefined && j.attempts !== fields.attempt))) {
      throw new InvalidTransitionError(`job ${id} is no longer held by worker ${fields.worker_id}`);
    }
    this.transition(j, status);
    j.finished_at_ms = this.now();
    if (fields.error !== undefined) j.error = fields.error;
    if (fields.result !== undefined) j.result = fields.result;
    if (fields.progress !== undefined) j.progress = { ...fields.progress };
    if (fields.output_path !== undefined) j.output_path = fields.output_path;
    return copy(j);
  }

  async requestCancel(id: string): Promise<Job | null> {
    const j = this.jobs.get(id);
    if (!j) return null;
    if (j.status === 'queued') {
      this.transition(j, 'cancelled');
      Object.assign(j, { cancel_requested: true, finished_at_ms: this.now() });
    } else if (j.status === 'running') {
      j.cancel_requested = true;
    }
    return copy(j);
  }

  async heartbeat(workerId: string, ids: string[]): Promise<string[]> {
    const now = this.now();
    const lost: string[] = [];
    for (const id of ids) {
      const j = this.jobs.get(id);
      if (j?.status === 'running' && j.worker_id === workerId) this.touched.set(id, now);
      else lost.push(id);
    }
    return lost;
  }

  async recoverInterrupted(opts: { staleBeforeMs: number; exceptWorkerId?: string; requeue: boolean; reason: string }): Promise<Job[]> {
    const hit = (j: Job) => (this.touched.get(j.id) ?? 0) < opts.staleBeforeMs && (opts.exceptWorkerId === undefined || j.worker_id !== opts.exceptWorkerId);
    const rows = [...this.jobs.values()]
      .filter((j) => j.status === 'running' && hit(j))
      .sort((a, b) => a.created_at_ms - b.created_at_ms || (a.id < b.id ? -1 : 1));
    const now = this.now();
    for (const j of rows) {
      if (opts.requeue && !j.cancel_requested) {
        this.transition(j, 'queued');
        Object.assign(j, { worker_id: null, started_at_ms: null, progress: { cells_total: 0, cells_done: 0 } });
      } else {
        this.transition(j, j.cancel_requested ? 'cancelled' : 'failed');
        Object.assign(j, { error: { ename: 'JobInterrupted', evalue: opts.reason, traceback: [], cell_index: null }, finished_at_ms: now });
      }
      this.touched.set(j.id, now);
    }
    return rows.map(copy);
  }

  async countByStatus(): Promise<Record<JobStatus, number>> {
    if (this.down) throw new Error('database is locked');
    this.countByStatusCalls++;
    const out = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    for (const j of this.jobs.values()) out[j.status]++;
    return out;
  }

  /** Counted: the health test checks /health never walks every job. */
  countByStatusCalls = 0;

  async countActive(): Promise<ActiveCounts> {
    if (this.down) throw new Error('database is locked');
    const all = [...this.jobs.values()];
    return { queued: all.filter((j) => j.status === 'queued').length, running: all.filter((j) => j.status === 'running').length };
  }

  private finishedOldestFirst(): Job[] {
    return [...this.jobs.values()]
      .filter((j) => isTerminal(j.status))
      .sort((a, b) => (a.finished_at_ms ?? 0) - (b.finished_at_ms ?? 0) || (a.id < b.id ? -1 : 1));
  }

  private remove(jobs: Job[]): Job[] {
    for (const j of jobs) {
      this.jobs.delete(j.id);
      this.touched.delete(j.id);
    }
    return jobs.map(copy);
  }

  async pruneFinishedBefore(cutoffMs: number, limit: number): Promise<Job[]> {
    return this.remove(this.finishedOldestFirst().filter((j) => (j.finished_at_ms ?? 0) < cutoffMs).slice(0, Math.max(0, Math.floor(limit))));
  }

  async pruneFinishedBeyond(keep: number, limit: number): Promise<Job[]> {
    const newestFirst = this.finishedOldestFirst().reverse();
    return this.remove(newestFirst.slice(Math.max(0, Math.floor(keep))).slice(0, Math.max(0, Math.floor(limit))));
  }

  async close(): Promise<void> {}
}
