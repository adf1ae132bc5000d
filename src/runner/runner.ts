/**
 * The runner: claims queued jobs from the store and runs them with the engine,
 * at most `concurrency` at a time, each on its own kernel (a warm one from the
 * pool when it fits). It owns cancellation (one AbortController per running
 * job), whole-run and per-cell time limits (clamped to the server's maximums),
 * live job events, recovery after a restart, and retention.
 *
 * Several runners (processes) may share one store: the store's atomic
 * `claimNext` hands each job to exactly one of them, heartbeats tell live jobs
 * from abandoned ones, and a short poll picks up jobs enqueued elsewhere.
 *
 * Output files: a job without an explicit `output_path` writes
 * `<notebook folder>/hubmill-outputs/<stem>-<job id>.ipynb` — next to the user's
 * files, visible in Jupyter, out of the way of the notebooks themselves. Retention
 * deletes an output file only when its name contains the job id (i.e. hubmill
 * chose the name), never a path the caller picked or a seed `/execute` output.
 *
 * Target `user-server`: the kernel runs in the user's own single-user server
 * through JupyterHub (started if needed; see kernel/user-server.ts), started in
 * the notebook's folder given relative to the user's home, which is taken to be
 * the server's root (the simple/local spawners' default). hubmill still reads
 * the notebook and writes the output itself, from and to the home on this
 * machine: the homes are assumed shared between hubmill and the user's server
 * (one machine, or one shared filesystem mounted at the same paths).
 */
import { EventEmitter } from 'node:events';
import { mkdir, stat, unlink } from 'node:fs/promises';
import { cpus, hostname } from 'node:os';
import { basename, dirname, sep } from 'node:path';
import { pino, type Logger } from 'pino';
import { AbortedError, HubmillError, NoSuchKernelError, NotFoundError, UsageError } from '../errors.js';
import { executeNotebook } from '../engine/execute.js';
import type { EngineEvent, RunAs, RunError, RunOptions, RunResult } from '../engine/types.js';
import { getKernelSpec } from '../kernel/kernelspecs.js';
import type { ExecutionKernel } from '../kernel/execution-kernel.js';
import { startUserServer, UserServerNotConfiguredError } from '../kernel/user-server.js';
import { checkParametersForNotebook } from '../notebook/check-parameters.js';
import { readNotebookFile } from '../notebook/read.js';
import type { Notebook } from '../notebook/types.js';
import { TERMINAL_STATUSES, type Job, type JobProgress, type JobStatus, type JobStore, type NewJob } from '../store/job-store.js';
import { validateUsername } from '../users/home.js';
import { relativeToHome, resolveInside } from '../users/paths.js';
import { chownToUser, lookupRunAs } from '../users/run-as.js';
import type { JobEvent, JobRunner } from './runner-api.js';

type KernelClientLike = NonNullable<RunOptions['kernel']>;

/** What the runner needs from a kernel pool (KernelPool satisfies it). */
export interface KernelSource {
  acquire(
    kernelName: string,
    opts: { cwd?: string; runAs?: RunAs; env?: Record<string, string>; startTimeoutMs?: number; signal?: AbortSignal },
  ): Promise<KernelClientLike>;
  stats(): Record<string, { idle: number; starting: number; target: number }>;
}

/** How to reach users' own servers (jobs with target `user-server`). */
export interface UserServerConfig {
  /** JUPYTERHUB_API_URL, e.g. http://127.0.0.1:8081/hub/api */
  hubApiUrl: string;
  /** A hub token with admin:servers and access:servers (hubmill's service token). */
  token: string;
  /** The hub's public URL (its proxy) as hubmill reaches it. */
  publicUrl: string;
  /** Bound of starting the user's server (default 60 s). */
  startTimeoutMs?: number;
}

/** Optional hooks for Prometheus (or anything else); exceptions in them are ignored. */
export interface RunnerMetrics {
  /** A job reached a final state after running (durationMs from claim to finish). */
  jobFinished?(status: JobStatus, durationMs: number, job: Job): void;
  /** A job was claimed and is about to run. */
  jobStarted?(job: Job): void;
}

export interface RetentionPolicy {
  /** Delete finished jobs (and their hubmill-named outputs) older than this many days. */
  days?: number | null;
  /** Keep at most this many finished jobs. */
  maxJobs?: number | null;
  /** How often to prune (default 1 h; also once at start). */
  intervalMs?: number;
}

export interface RunnerOptions {
  store: JobStore;
  /** Warm kernels; null/absent: the engine launches a kernel per job. */
  pool?: KernelSource | null;
  /** The home folder of a user (e.g. from the home template); may throw InvalidUsernameError. */
  homeFor(username: string): string;
  /** Jobs running at once (default: number of CPU cores). */
  concurrency?: number;
  /** Server-side maximum for a whole run, seconds (null: unlimited). */
  maxTimeoutS?: number | null;
  /** Server-side maximum for one cell, seconds (null: unlimited). */
  maxCellTimeoutS?: number | null;
  /** Whole-run limit when the job gives none (default: maxTimeoutS). */
  defaultTimeoutS?: number | null;
  /** Per-cell limit when the job gives none (default: maxCellTimeoutS). */
  defaultCellTimeoutS?: number | null;
  kernelStartTimeoutMs?: number;
  /** Stable across restarts of the same service so its interrupted jobs are recovered at once (default: host name). */
  workerId?: string;
  logger?: Logger;
  metrics?: RunnerMetrics;
  /** At start, re-queue jobs this worker left running instead of failing them. */
  requeueInterruptedOnStart?: boolean;
  /** Output path relative to the home for a job without one (default: see the file comment). */
  outputNameFor?(job: Job, notebookRelPath: string): string;
  /** Extra kernel environment per job (a non-empty env means a fresh kernel instead of a warm one). */
  kernelEnv?(job: Job): Record<string, string> | undefined;
  retention?: RetentionPolicy;
  /** Users' own servers through JupyterHub; null/absent: jobs with target `user-server` are refused (422). */
  userServer?: UserServerConfig | null;
  /** Poll for jobs enqueued by other processes and cancels requested elsewhere (default 500 ms). */
  pollIntervalMs?: number;
  /** Heartbeat of running jobs (default 5 s). */
  heartbeatIntervalMs?: number;
  /** Another worker's running job whose heartbeat is older than this is taken as abandoned (default 60 s). */
  leaseMs?: number;
  /** Minimum interval between progress writes to the store (default 250 ms). */
  progressIntervalMs?: number;
  /** Passed to the engine: minimum interval between output saves. */
  saveIntervalMs?: number;
  /** Bound for a cancelled run to wind down during stop() after its grace (default 15 s). */
  stopKillWaitMs?: number;
  // Seams for tests; the real implementations are the defaults.
  execute?: (opts: RunOptions) => Promise<RunResult>;
  readNotebook?: (path: string) => Promise<Notebook>;
  getKernelSpec?: (name: string) => Promise<{ name: string; language: string }>;
  runAsFor?: (username: string) => Promise<RunAs | null>;
  /** Opens a kernel in the user's own server (default: startUserServer + ServerKernel.start). */
  openUserServerKernel?: (
    job: Job,
    o: { kernelName: string; path: string; cwd: string; startTimeoutMs?: number; signal: AbortSignal },
  ) => Promise<ExecutionKernel>;
}

interface RunningJob {
  job: Job;
  controller: AbortController;
  done: Promise<void>;
  shutdown: boolean;
}

interface Prepared {
  home: string;
  notebookAbs: string;
  notebook: Notebook;
  kernelName: string;
  outputAbs: string;
  outputRel: string;
  runAs: RunAs | null;
}

const isTerminal = (s: JobStatus): boolean => TERMINAL_STATUSES.includes(s);

function positiveOrNull(v: number | null | undefined): number | null {
  return v !== undefined && v !== null && Number.isFinite(v) && v > 0 ? v : null;
}

/** The effective limit in ms: the job's (or the default), never above the maximum; undefined = unlimited. */
export function effectiveLimitMs(requested: number | null, dflt: number | null | undefined, max: number | null | undefined): number | undefined {
  const m = positiveOrNull(max);
  let s = positiveOrNull(requested) ?? positiveOrNull(dflt) ?? m;
  if (s !== null && m !== null) s = Math.min(s, m);
  return s === null ? undefined : Math.round(s * 1000);
}

function notebookKernelName(nb: Notebook): string | null {
  const ks = (nb.metadata as Record<string, unknown> | undefined)?.kernelspec as { name?: unknown } | undefined;
  return typeof ks?.name === 'string' && ks.name !== '' ? ks.name : null;
}

function toRunError(err: unknown): RunError {
  const e = err instanceof Error ? err : new Error(String(err));
  return { ename: e.name || 'Error', evalue: e.message, traceback: [], cell_index: null };
}

/** The default output: `<notebook folder>/hubmill-outputs/<stem>-<job id>.ipynb`, relative to the home. */
export function defaultOutputPath(job: Job, notebookRelPath: string): string {
  const dir = dirname(notebookRelPath);
  const name = basename(notebookRelPath);
  const stem = name.endsWith('.ipynb') ? name.slice(0, -6) : name;
  const rel = `hubmill-outputs/${stem}-${job.id}.ipynb`;
  return dir === '.' ? rel : `${dir}/${rel}`;
}

export class Runner implements JobRunner {
  readonly workerId: string;
  readonly concurrency: number;
  private readonly store: JobStore;
  private readonly pool: KernelSource | null;
  private readonly log: Logger;
  private readonly opts: RunnerOptions;
  private readonly execute: (opts: RunOptions) => Promise<RunResult>;
  private readonly readNotebook: (path: string) => Promise<Notebook>;
  private readonly kernelSpec: (name: string) => Promise<{ name: string; language: string }>;
  private readonly runAsFor: (username: string) => Promise<RunAs | null>;
  private readonly events = new EventEmitter();
  private readonly running = new Map<string, RunningJob>();
  /** Kernels still shutting down after their job ended (the engine does not wait for them). */
  private readonly kernelsClosing = new Set<Promise<void>>();
  /** Jobs someone waits for, with the number of waiters (checked in the poll for jobs run elsewhere). */
  private readonly waited = new Map<string, number>();
  private readonly timers: NodeJS.Timeout[] = [];
  private started = false;
  private stopping = false;
  private filling = false;
  private fillAgain = false;
  private polling = false;
  private pruning = false;

  constructor(opts: RunnerOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.pool = opts.pool ?? null;
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? cpus().length ?? 1));
    this.workerId = opts.workerId ?? hostname();
    this.log = (opts.logger ?? pino({ enabled: false })).child({ component: 'runner', workerId: this.workerId });
    this.execute = opts.execute ?? executeNotebook;
    this.readNotebook = opts.readNotebook ?? readNotebookFile;
    this.kernelSpec = opts.getKernelSpec ?? ((name) => getKernelSpec(name));
    this.runAsFor = opts.runAsFor ?? ((u) => lookupRunAs(u));
    this.events.setMaxListeners(0);
  }

  // ---------------------------------------------------------------- public API

  async submit(newJob: NewJob): Promise<{ job: Job; created: boolean }> {
    const username = validateUsername(newJob.username);
    const home = await this.existingHome(username);
    const notebookAbs = await resolveInside(home, newJob.notebook, { mustExist: true });
    const st = await stat(notebookAbs);
    if (!st.isFile()) throw new NotFoundError(`notebook not found: ${newJob.notebook}`);
    const nb = await this.readNotebook(notebookAbs);
    const kernelName = newJob.kernel ?? notebookKernelName(nb);
    if (!kernelName) {
      throw new NoSuchKernelError('the notebook names no kernel (metadata.kernelspec.name) and the request gives none');
    }
    if ((newJob.target ?? 'local') === 'user-server') {
      // The kernel is the user's server's business: its kernelspecs are checked when the job starts.
      if (!this.opts.userServer && !this.opts.openUserServerKernel) {
        throw new UserServerNotConfiguredError(
          "target 'user-server' needs JupyterHub: set JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN (a token with admin:servers and access:servers) " +
            "and the hub's public URL (HUBMILL_HUB_PUBLIC_URL, JUPYTERHUB_PUBLIC_URL or JUPYTERHUB_HOST)",
        );
      }
    } else {
      await this.kernelSpec(kernelName);
    }
    // Names and values the engine could not inject are refused now (422), as `hubmill run` refuses them.
    await checkParametersForNotebook(nb, newJob.parameters, { kernelName, specLanguage: () => this.kernelSpec(kernelName).then((s) => s.language) });
    for (const [field, v] of [['timeout_s', newJob.timeout_s], ['cell_timeout_s', newJob.cell_timeout_s]] as const) {
      if (v !== undefined && v !== null && !(Number.isFinite(v) && v > 0)) throw new UsageError(`${field} must be a positive number of seconds`);
    }
    let outputPath = newJob.output_path ?? null;
    if (outputPath !== null) {
      const abs = await resolveInside(home, outputPath);
      outputPath = await relativeToHome(home, abs);
    }
    const notebook = await relativeToHome(home, notebookAbs);
    const res = await this.store.enqueue({ ...newJob, username, notebook, output_path: outputPath });
    if (res.created) {
      this.log.info({ jobId: res.job.id, username, notebook }, 'job queued');
      this.emitState(res.job);
      this.kick();
    }
    return res;
  }

  async cancel(id: string): Promise<Job | null> {
    const job = await this.store.requestCancel(id);
    if (!job) return null;
    const r = this.running.get(id);
    if (r && !r.controller.signal.aborted) {
      this.log.info({ jobId: id }, 'cancelling running job');
      r.controller.abort(new AbortedError('cancelled on request'));
    } else if (job.status === 'cancelled') {
      this.emitState(job);
    }
    return job;
  }

  async waitFor(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Job | null> {
    let resolveWait!: () => void;
    const woke = new Promise<void>((r) => (resolveWait = r));
    const unsubscribe = this.subscribe(id, (ev) => {
      if (ev.type === 'state' && isTerminal(ev.status)) resolveWait();
    });
    this.waited.set(id, (this.waited.get(id) ?? 0) + 1);
    const timer = setTimeout(resolveWait, Math.max(0, timeoutMs));
    const onAbort = () => resolveWait();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const first = await this.store.get(id);
      if (!first) return null;
      if (isTerminal(first.status) || signal?.aborted) return first;
      await woke;
      return await this.store.get(id);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      unsubscribe();
      const n = (this.waited.get(id) ?? 1) - 1;
      if (n <= 0) this.waited.delete(id);
      else this.waited.set(id, n);
    }
  }

  subscribe(jobId: string, listener: (event: JobEvent) => void): () => void {
    const safe = (ev: JobEvent) => {
      try {
        listener(ev);
      } catch (err) {
        this.log.warn({ jobId, err: (err as Error).message }, 'job event listener failed');
      }
    };
    this.events.on(jobId, safe);
    return () => this.events.off(jobId, safe);
  }

  stats(): { running: number; concurrency: number; pool: Record<string, { idle: number; starting: number; target: number }> } {
    return { running: this.running.size, concurrency: this.concurrency, pool: this.pool?.stats() ?? {} };
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    const leaseMs = this.opts.leaseMs ?? 60_000;
    const recovered = await this.store.recoverInterrupted({
      workerId: this.workerId,
      staleBeforeMs: Date.now() - leaseMs,
      requeue: this.opts.requeueInterruptedOnStart ?? false,
      reason: 'hubmill stopped while the job was running (the service restarted or its process died)',
    });
    for (const j of recovered) {
      this.log.warn({ jobId: j.id, status: j.status }, 'recovered an interrupted job');
      this.emitState(j);
    }
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.opts.pollIntervalMs ?? 500, () => void this.poll());
    every(this.opts.heartbeatIntervalMs ?? 5000, () => void this.heartbeat());
    every(Math.max(1000, Math.floor(leaseMs / 2)), () => void this.recoverStale(leaseMs));
    const retention = this.opts.retention;
    if (retention && (positiveOrNull(retention.days) !== null || positiveOrNull(retention.maxJobs) !== null)) {
      every(retention.intervalMs ?? 3_600_000, () => void this.prune());
      void this.prune();
    }
    this.kick();
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const t of this.timers.splice(0)) clearInterval(t);
    const all = () => Promise.all([...this.running.values()].map((r) => r.done));
    if (this.running.size > 0) {
      this.log.info({ running: this.running.size, graceMs }, 'stopping: waiting for running jobs');
      await within(all(), graceMs);
    }
    if (this.running.size > 0) {
      this.log.warn({ running: this.running.size }, 'stopping: cancelling running jobs');
      for (const r of this.running.values()) {
        r.shutdown = true;
        if (!r.controller.signal.aborted) r.controller.abort(new AbortedError('hubmill is shutting down'));
      }
      await within(all(), this.opts.stopKillWaitMs ?? 15_000);
    }
    // Let finished jobs' kernels finish shutting down, so none outlives the service.
    await within(Promise.all([...this.kernelsClosing]), 10_000);
    this.started = false;
  }

  /** Deletes old finished jobs and the outputs hubmill named for them; returns how many jobs were deleted. */
  async prune(nowMs: number = Date.now()): Promise<number> {
    const policy = this.opts.retention;
    if (!policy || this.pruning) return 0;
    this.pruning = true;
    let deleted = 0;
    try {
      const batch = 500;
      const days = positiveOrNull(policy.days);
      if (days !== null) {
        for (;;) {
          const jobs = await this.store.pruneFinishedBefore(nowMs - days * 86_400_000, batch);
          deleted += jobs.length;
          await this.deleteOutputs(jobs);
          if (jobs.length < batch) break;
        }
      }
      const maxJobs = policy.maxJobs;
      if (maxJobs !== undefined && maxJobs !== null && maxJobs >= 0) {
        for (;;) {
          const jobs = await this.store.pruneFinishedBeyond(maxJobs, batch);
          deleted += jobs.length;
          await this.deleteOutputs(jobs);
          if (jobs.length < batch) break;
        }
      }
      if (deleted > 0) this.log.info({ deleted }, 'retention: pruned finished jobs');
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'retention: pruning failed');
    } finally {
      this.pruning = false;
    }
    return deleted;
  }

  // ---------------------------------------------------------------- the loop

  /** Claims jobs while there is room; safe to call often (coalesced). */
  private kick(): void {
    if (!this.started || this.stopping) return;
    if (this.filling) {
      this.fillAgain = true;
      return;
    }
    this.filling = true;
    void this.fill().finally(() => {
      this.filling = false;
    });
  }

  private async fill(): Promise<void> {
    do {
      this.fillAgain = false;
      while (this.running.size < this.concurrency && !this.stopping) {
        let job: Job | null;
        try {
          job = await this.store.claimNext(this.workerId);
        } catch (err) {
          this.log.error({ err: (err as Error).message }, 'claiming a job failed');
          return;
        }
        if (!job) break;
        this.launch(job);
      }
    } while (this.fillAgain && !this.stopping);
  }

  private launch(job: Job): void {
    const controller = new AbortController();
    const entry: RunningJob = { job, controller, done: Promise.resolve(), shutdown: false };
    this.running.set(job.id, entry);
    entry.done = this.runJob(entry)
      .catch((err: unknown) => {
        // runJob handles its own errors; this is a last line of defence for the loop.
        this.log.error({ jobId: job.id, err: (err as Error).message }, 'runner bug while running a job');
      })
      .finally(() => {
        this.running.delete(job.id);
        this.kick();
      });
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopping) return;
    this.polling = true;
    try {
      this.kick();
      // Cancels requested through another process's store handle.
      for (const r of this.running.values()) {
        if (r.controller.signal.aborted) continue;
        const j = await this.store.get(r.job.id);
        if (j?.cancel_requested) r.controller.abort(new AbortedError('cancelled on request'));
      }
      // Jobs someone here waits for but that run elsewhere.
      for (const id of this.waited.keys()) {
        if (this.running.has(id)) continue;
        const j = await this.store.get(id);
        if (j && isTerminal(j.status)) this.emitState(j);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'poll failed');
    } finally {
      this.polling = false;
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.running.size === 0) return;
    await this.store.heartbeat([...this.running.keys()]).catch((err: Error) => this.log.warn({ err: err.message }, 'heartbeat failed'));
  }

  private async recoverStale(leaseMs: number): Promise<void> {
    try {
      const jobs = await this.store.recoverInterrupted({
        staleBeforeMs: Date.now() - leaseMs,
        exceptWorkerId: this.workerId,
        requeue: this.opts.requeueInterruptedOnStart ?? false,
        reason: 'the worker running the job stopped responding',
      });
      for (const j of jobs) {
        this.log.warn({ jobId: j.id, worker: j.worker_id, status: j.status }, 'recovered a job abandoned by another worker');
        this.emitState(j);
      }
      if (jobs.length > 0) this.kick();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'recovering stale jobs failed');
    }
  }

  // ---------------------------------------------------------------- one job

  private emit(ev: JobEvent): void {
    this.events.emit(ev.job_id, ev);
  }

  private emitState(job: Job): void {
    this.emit({ type: 'state', job_id: job.id, status: job.status, job });
  }

  private async existingHome(username: string): Promise<string> {
    const home = this.opts.homeFor(username);
    const st = await stat(home).catch(() => null);
    if (!st?.isDirectory()) throw new NotFoundError(`user ${username} not found (no home folder)`);
    return home;
  }

  private async prepare(job: Job): Promise<Prepared> {
    const home = await this.existingHome(validateUsername(job.username));
    const notebookAbs = await resolveInside(home, job.notebook, { mustExist: true });
    const notebook = await this.readNotebook(notebookAbs);
    const kernelName = job.kernel ?? notebookKernelName(notebook);
    if (!kernelName) throw new NoSuchKernelError('the notebook names no kernel (metadata.kernelspec.name) and the job gives none');
    const runAs = await this.runAsFor(job.username);
    const notebookRel = await relativeToHome(home, notebookAbs);
    const wanted = job.output_path ?? (this.opts.outputNameFor ?? defaultOutputPath)(job, notebookRel);
    let outputAbs = await resolveInside(home, wanted);
    const outDir = dirname(outputAbs);
    const dirSt = await stat(outDir).catch(() => null);
    if (!dirSt) {
      if (job.output_path !== null) throw new NotFoundError(`output folder does not exist: ${dirname(job.output_path)}`);
      // Only hubmill's own default folder is created, one level, owned by the user.
      await mkdir(outDir, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      await chownToUser(outDir, runAs);
      // Re-check: the folder may have been swapped for a symlink meanwhile.
      outputAbs = await resolveInside(home, wanted);
    } else if (!dirSt.isDirectory()) {
      throw new NotFoundError(`output folder is not a folder: ${dirname(wanted)}`);
    }
    return { home, notebookAbs, notebook, kernelName, outputAbs, outputRel: await relativeToHome(home, outputAbs), runAs };
  }

  private async runJob(entry: RunningJob): Promise<void> {
    const { job, controller } = entry;
    const log = this.log.child({ jobId: job.id });
    const claimedAt = job.started_at_ms ?? Date.now();
    log.info({ username: job.username, notebook: job.notebook, attempt: job.attempts }, 'job started');
    this.emitState(job);
    safeCall(() => this.opts.metrics?.jobStarted?.(job));

    let status: Extract<JobStatus, 'succeeded' | 'failed' | 'cancelled' | 'timed_out'>;
    let error: RunError | null = null;
    let result: Record<string, unknown> | null = null;
    let progress: JobProgress | undefined;
    let outputRel: string | null = job.output_path;
    let runAs: RunAs | null = null;
    let outputAbs: string | null = null;
    const tracker = new ProgressTracker(this.store, job.id, this.opts.progressIntervalMs ?? 250, (err) =>
      log.warn({ err: err.message }, 'progress update failed'),
    );

    try {
      const p = await this.prepare(job);
      runAs = p.runAs;
      outputAbs = p.outputAbs;
      outputRel = p.outputRel;
      tracker.setOutputPath(p.outputRel);
      if (job.cancel_requested) controller.abort(new AbortedError('cancelled on request'));
      let kernel: KernelClientLike | undefined;
      const env = this.opts.kernelEnv?.(job);
      const startTimeoutMs = this.opts.kernelStartTimeoutMs;
      if (job.target === 'user-server') {
        if (controller.signal.aborted) throw new AbortedError('cancelled on request');
        const cwd = dirname(p.notebookAbs);
        const rel = await relativeToHome(p.home, cwd);
        const path = rel === '.' || rel === '' ? '' : rel.split(sep).join('/');
        log.info({ kernelName: p.kernelName, path }, 'opening a kernel in the user\'s own server');
        kernel = await this.openUserServerKernel(job, { kernelName: p.kernelName, path, cwd, startTimeoutMs, signal: controller.signal });
      } else if (this.pool && !controller.signal.aborted) {
        kernel = await this.pool.acquire(p.kernelName, {
          cwd: dirname(p.notebookAbs),
          runAs: p.runAs ?? undefined,
          env,
          startTimeoutMs,
          signal: controller.signal,
        });
      }
      let cellsTotal = p.notebook.cells.length;
      const onEvent = (ev: EngineEvent) => {
        switch (ev.type) {
          case 'run_started':
            cellsTotal = ev.cellsTotal;
            tracker.update({ cells_total: cellsTotal, cells_done: 0 }, true);
            break;
          case 'cell_started':
            this.emit({ type: 'cell_started', job_id: job.id, cell_index: ev.index, cells_total: cellsTotal });
            break;
          case 'output':
            this.emit({ type: 'output', job_id: job.id, cell_index: ev.index, output: ev.output, appended: ev.appended });
            break;
          case 'cell_finished':
            tracker.update({ cells_total: cellsTotal, cells_done: ev.cellsDone }, false);
            this.emit({
              type: 'cell_finished',
              job_id: job.id,
              cell_index: ev.index,
              status: ev.status,
              duration_ms: ev.durationMs,
              cells_done: ev.cellsDone,
              cells_total: cellsTotal,
            });
            break;
          case 'run_finished':
            break;
        }
      };
      const res = await this.execute({
        notebook: p.notebook,
        inputPath: p.notebookAbs,
        outputPath: p.outputAbs,
        parameters: job.parameters,
        kernelName: p.kernelName,
        cwd: dirname(p.notebookAbs),
        cellTimeoutMs: effectiveLimitMs(job.cell_timeout_s, this.opts.defaultCellTimeoutS, this.opts.maxCellTimeoutS),
        runTimeoutMs: effectiveLimitMs(job.timeout_s, this.opts.defaultTimeoutS, this.opts.maxTimeoutS),
        startTimeoutMs,
        kernel,
        runAs: p.runAs ?? undefined,
        env,
        signal: controller.signal,
        onEvent,
        saveIntervalMs: this.opts.saveIntervalMs,
        hubmillMetadata: { job_id: job.id, username: job.username, submitted_by: job.submitted_by, source: job.source },
      });
      if (res.kernelClosed) {
        this.kernelsClosing.add(res.kernelClosed);
        void res.kernelClosed.finally(() => this.kernelsClosing.delete(res.kernelClosed));
      }
      status = res.status;
      error = res.error;
      result = res.results;
      progress = { cells_total: res.cellsTotal, cells_done: res.cellsDone };
    } catch (err) {
      if (controller.signal.aborted) {
        status = 'cancelled';
        const reason = controller.signal.reason as Error | undefined;
        error = { ename: 'Cancelled', evalue: `Run cancelled before it started: ${reason?.message ?? 'cancelled'}`, traceback: [], cell_index: null };
      } else {
        status = 'failed';
        error = toRunError(err);
        if (!(err instanceof HubmillError)) log.error({ err: (err as Error).stack }, 'unexpected error while running a job');
      }
    }
    if (entry.shutdown && status === 'cancelled' && error) {
      error = { ...error, evalue: `${error.evalue} (hubmill was shutting down)` };
    }
    await tracker.close();

    if (outputAbs) {
      await chownToUser(outputAbs, runAs).catch((err: Error) => log.warn({ err: err.message }, 'could not give the output to the user'));
    }
    let final: Job | null;
    try {
      final = await this.store.markFinished(job.id, status, { error, result, progress, output_path: outputRel });
    } catch (err) {
      // E.g. another process declared this job abandoned meanwhile: its record wins.
      log.warn({ err: (err as Error).message }, 'could not record the end of the job');
      final = await this.store.get(job.id).catch(() => null);
    }
    const durationMs = Date.now() - claimedAt;
    log.info({ status, durationMs, ename: error?.ename }, 'job finished');
    // Leave the running set before announcing the end, so a waiter sees consistent stats.
    this.running.delete(job.id);
    if (final) {
      safeCall(() => this.opts.metrics?.jobFinished?.(status, durationMs, final!));
      this.emitState(final);
    }
  }

  private openUserServerKernel(
    job: Job,
    o: { kernelName: string; path: string; cwd: string; startTimeoutMs?: number; signal: AbortSignal },
  ): Promise<ExecutionKernel> {
    if (this.opts.openUserServerKernel) return this.opts.openUserServerKernel(job, o);
    const us = this.opts.userServer;
    if (!us) return Promise.reject(new UserServerNotConfiguredError("target 'user-server' needs JupyterHub (see the job's submit error)"));
    return (async () => {
      const server = await startUserServer(us.hubApiUrl, us.token, job.username, {
        publicUrl: us.publicUrl,
        timeoutMs: us.startTimeoutMs ?? 60_000,
        signal: o.signal,
      });
      this.log.info({ jobId: job.id, baseUrl: server.baseUrl, started: server.started }, 'user server ready');
      // Loaded on first use: @jupyterlab/services costs ~23 MB of RSS that local-only installs never need.
      const { ServerKernel } = await import('../kernel/server-kernel.js');
      return ServerKernel.start({
        baseUrl: server.baseUrl,
        token: us.token,
        kernelName: o.kernelName,
        path: o.path,
        cwd: o.cwd,
        startTimeoutMs: o.startTimeoutMs ?? 60_000,
        signal: o.signal,
      });
    })();
  }

  private async deleteOutputs(jobs: Job[]): Promise<void> {
    for (const j of jobs) {
      if (!j.output_path || !basename(j.output_path).includes(j.id)) continue;
      try {
        const home = this.opts.homeFor(j.username);
        const abs = await resolveInside(home, j.output_path, { mustExist: true });
        const st = await stat(abs);
        if (st.isFile()) await unlink(abs);
      } catch {
        // Already gone, home removed, or no longer a safe path: leave it.
      }
    }
  }
}

/** Throttled, ordered progress writes: at most one per interval, the last one always written. */
class ProgressTracker {
  private chain: Promise<void> = Promise.resolve();
  private lastWriteMs = 0;
  private pending: JobProgress | null = null;
  private timer: NodeJS.Timeout | undefined;
  private outputPath: string | null | undefined;
  private closed = false;

  constructor(
    private readonly store: JobStore,
    private readonly id: string,
    private readonly intervalMs: number,
    private readonly onError: (err: Error) => void,
  ) {}

  setOutputPath(p: string): void {
    this.outputPath = p;
  }

  update(progress: JobProgress, force: boolean): void {
    if (this.closed) return;
    this.pending = progress;
    const now = Date.now();
    if (force || now - this.lastWriteMs >= this.intervalMs) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs - (now - this.lastWriteMs));
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    this.lastWriteMs = Date.now();
    const out = this.outputPath;
    this.outputPath = undefined;
    this.chain = this.chain.then(() => this.store.updateProgress(this.id, p, out)).catch(this.onError);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.pending = null;
    await this.chain;
  }
}

function safeCall(fn: () => void): void {
  try {
    fn();
  } catch {
    // Metrics hooks must never break a run.
  }
}

/** Resolves when `p` settles or after `ms`, whichever comes first; the timer never outlives the wait. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
