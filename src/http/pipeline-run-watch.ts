/**
 * Watching pipeline runs for the HTTP layer: the SSE stream of a run's task and
 * item state changes, and the bounded wait of `POST …/runs?wait=true`.
 *
 * A run advances in the store (in the transaction that records a job's end, on
 * whichever node ran the job), so its changes are read from the store: each
 * watched run is re-read when one of its jobs' state events arrives on the
 * event bus (the runner's, in process or shared by nodes) and every `pollMs`
 * as a fallback, and the difference with the last reading becomes numbered
 * events (`item` for a job's state, `task` for a task's, `run` for the run's).
 *
 * As with a job's events, the numbered events are kept in this process in a
 * bounded log per run, so a client that reconnects with `Last-Event-ID` gets
 * exactly the events it missed; an id this process no longer keeps (another
 * node, an evicted log: ids carry the log's epoch) gets the current state. A
 * change made while nobody watched is seen at the next reading, as one event
 * per task or item that changed (its intermediate states are not replayed).
 */
import { randomBytes } from 'node:crypto';
import type { Job, JobStatus, JobStore } from '../store/job-store.js';
import { isTerminal } from '../store/job-store.js';
import type { PipelineRun, PipelineStore } from '../store/pipeline-store.js';
import type { PipelineRunStatus, TaskStatus } from '../pipelines/types.js';
import type { JobRunner } from '../runner/runner-api.js';
import { renderRun, runSettled } from './pipeline-render.js';
import type { RunViewT } from './pipeline-schemas.js';

export type RunEvent =
  | { type: 'run'; run_id: string; status: PipelineRunStatus; run: RunViewT }
  | { type: 'task'; run_id: string; key: string; status: TaskStatus; items_total: number | null; items_done: number; error: string | null }
  | { type: 'item'; run_id: string; task_key: string; item_index: number | null; job_id: string; attempt: number; status: JobStatus };

export type RunEventListener = (event: RunEvent, id: string) => void;

/** A run as read from the store: the run and every job of it. */
export interface RunReading {
  run: PipelineRun;
  jobs: Job[];
}

/** Jobs listed per page when a run's jobs are read, and the most pages read. */
const JOBS_PAGE = 500;
const MAX_JOB_PAGES = 40;

/** Every job of a run (every attempt), read page by page from the job store. */
export async function listRunJobs(store: JobStore, runId: string): Promise<Job[]> {
  const jobs: Job[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_JOB_PAGES; page++) {
    const res = await store.list({ pipeline_run_id: runId, cursor, limit: JOBS_PAGE });
    jobs.push(...res.jobs);
    if (!res.next_cursor) break;
    cursor = res.next_cursor;
  }
  return jobs;
}

export interface RunWatchOptions {
  pipelines: PipelineStore;
  jobs: JobStore;
  runner: Pick<JobRunner, 'subscribe'>;
  prefix: string;
  /** The store is re-read this often while someone watches (default 250 ms). */
  pollMs?: number;
  /** Events kept per run (default 5000) and runs whose logs are kept (default 200). */
  perRun?: number;
  keepRuns?: number;
  onError?: (runId: string, err: unknown) => void;
}

/** One run's numbered events, and the last reading they were computed from. */
export class RunLog {
  /** Part of every id, so an id from an evicted log (or another process) is never taken for one of this log. */
  readonly epoch = randomBytes(4).toString('hex');
  last = 0;
  private readonly events: RunEvent[] = [];
  private readonly listeners = new Set<RunEventListener>();
  reading: RunReading | null = null;
  /** The run and all its jobs had ended at the last reading. */
  settled = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly jobSubs = new Map<string, () => void>();
  private syncing: Promise<void> | null = null;
  private again = false;

  constructor(
    readonly runId: string,
    private readonly o: Required<Pick<RunWatchOptions, 'pollMs' | 'perRun'>> & RunWatchOptions,
  ) {}

  idOf(n: number): string {
    return `${this.epoch}.${n}`;
  }

  /** The event number of an id of this log, or null (another log's, or not ours). */
  numberOf(id: string | undefined): number | null {
    const m = id === undefined ? null : /^([0-9a-f]{8})\.(\d{1,15})$/.exec(id.trim());
    return m && m[1] === this.epoch ? Number(m[2]) : null;
  }

  /** The oldest number a resume may start after. */
  get firstKept(): number {
    return this.last - this.events.length;
  }

  get watched(): boolean {
    return this.listeners.size > 0;
  }

  /**
   * Listens from event `after` on (kept events after it first, synchronously); the log is re-read while
   * anyone listens. Returns the unsubscribe.
   */
  subscribe(listener: RunEventListener, after: number): () => void {
    for (let n = Math.max(after, this.firstKept) + 1; n <= this.last; n++) listener(this.events[n - this.firstKept - 1]!, this.idOf(n));
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.startWatching();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopWatching();
    };
  }

  private publish(ev: RunEvent): void {
    this.last++;
    this.events.push(ev);
    if (this.events.length > this.o.perRun) this.events.splice(0, this.events.length - this.o.perRun);
    for (const l of [...this.listeners]) {
      try {
        l(ev, this.idOf(this.last));
      } catch (err) {
        this.o.onError?.(this.runId, err);
      }
    }
  }

  private startWatching(): void {
    this.timer = setInterval(() => void this.sync().catch((err: unknown) => this.o.onError?.(this.runId, err)), this.o.pollMs);
    this.timer.unref();
    this.followJobs();
  }

  private stopWatching(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const unsub of this.jobSubs.values()) unsub();
    this.jobSubs.clear();
  }

  /** A state event of a running job re-reads the run at once (its end may have started the next tasks). */
  private followJobs(): void {
    if (!this.watched) return;
    for (const j of this.reading?.jobs ?? []) {
      if (isTerminal(j.status) || this.jobSubs.has(j.id)) continue;
      this.jobSubs.set(
        j.id,
        this.o.runner.subscribe(j.id, (ev) => {
          if (ev.type === 'state') void this.sync().catch((err: unknown) => this.o.onError?.(this.runId, err));
        }),
      );
    }
    for (const [id, unsub] of this.jobSubs) {
      const j = this.reading?.jobs.find((x) => x.id === id);
      if (j && isTerminal(j.status)) {
        unsub();
        this.jobSubs.delete(id);
      }
    }
  }

  /** Re-reads the run and publishes what changed since the last reading (coalesced: one reading at a time). */
  sync(): Promise<void> {
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.again = false;
          await this.readOnce();
        } while (this.again);
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  private async readOnce(): Promise<void> {
    const run = await this.o.pipelines.getRun(this.runId);
    if (!run) return;
    const jobs = await listRunJobs(this.o.jobs, this.runId);
    const before = this.reading;
    this.reading = { run, jobs };
    this.settled = runSettled(run, jobs);
    if (before) {
      const oldJobs = new Map(before.jobs.map((j) => [j.id, j]));
      for (const j of [...jobs].sort((a, b) => a.created_at_ms - b.created_at_ms || a.id.localeCompare(b.id))) {
        if (oldJobs.get(j.id)?.status === j.status) continue;
        this.publish({ type: 'item', run_id: run.id, task_key: j.task_key ?? '', item_index: j.item_index, job_id: j.id, attempt: j.attempt, status: j.status });
      }
      const oldTasks = new Map(before.run.tasks.map((t) => [t.key, t]));
      for (const t of run.tasks) {
        const o = oldTasks.get(t.key);
        if (o && o.status === t.status && o.items_done === t.items_done && o.items_total === t.items_total && o.error === t.error) continue;
        this.publish({ type: 'task', run_id: run.id, key: t.key, status: t.status, items_total: t.items_total, items_done: t.items_done, error: t.error });
      }
      if (before.run.status !== run.status || (this.settled && !runSettled(before.run, before.jobs))) {
        this.publish({ type: 'run', run_id: run.id, status: run.status, run: renderRun(run, jobs, this.o.prefix) });
      }
    }
    this.followJobs();
  }
}

/** The logs of the runs this process serves, bounded (the least recently opened unwatched ones are dropped). */
export class RunWatch {
  private readonly logs = new Map<string, RunLog>();
  private readonly o: Required<Pick<RunWatchOptions, 'pollMs' | 'perRun' | 'keepRuns'>> & RunWatchOptions;

  constructor(opts: RunWatchOptions) {
    this.o = { ...opts, pollMs: Math.max(10, opts.pollMs ?? 250), perRun: Math.max(1, opts.perRun ?? 5000), keepRuns: Math.max(1, opts.keepRuns ?? 200) };
  }

  /** The run's log, read up to the store's current state. */
  async open(runId: string): Promise<RunLog> {
    let log = this.logs.get(runId);
    if (log) this.logs.delete(runId);
    else log = new RunLog(runId, this.o);
    this.logs.set(runId, log);
    this.evict();
    await log.sync();
    return log;
  }

  private evict(): void {
    for (const [id, log] of this.logs) {
      if (this.logs.size <= this.o.keepRuns) break;
      if (!log.watched) this.logs.delete(id);
    }
  }

  /** Resolves with the run once it and its jobs ended, or with its state after `timeoutMs` (or on abort). */
  async waitSettled(runId: string, timeoutMs: number, signal?: AbortSignal): Promise<RunReading | null> {
    const log = await this.open(runId);
    if (!log.reading || log.settled || signal?.aborted || timeoutMs <= 0) return log.reading;
    let done!: () => void;
    const woke = new Promise<void>((r) => (done = r));
    const unsubscribe = log.subscribe(() => {
      if (log.settled) done();
    }, log.last);
    const timer = setTimeout(done, timeoutMs);
    signal?.addEventListener('abort', done, { once: true });
    try {
      await woke;
      return log.reading;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      unsubscribe();
    }
  }
}
