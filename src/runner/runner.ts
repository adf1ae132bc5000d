/**
 * The runner: claims queued jobs from the store and runs them with the engine,
 * at most `concurrency` at a time, each on its own kernel. This file only
 * wires the parts, one per role:
 *
 * - `producer.ts`: the one door of submissions (intake, quota, enqueue);
 * - `intake.ts`: checks a submitted job once (home, notebook, kernel, limits,
 *   output path) and resolves a claimed job for its run;
 * - `queue.ts`: the claim loop, concurrency, cancellation, the poll for what
 *   other processes did;
 * - `lease.ts`: this process's worker identity, lease renewal (heartbeat) and
 *   reclaiming the jobs of processes whose lease expired;
 * - homes/ (built by `intake-for.ts`): where a job's files are and where its
 *   kernel comes from (a local home: warm pool, fresh launch, a Jupyter
 *   gateway; the user's own server), handed to the engine;
 * - `run-job.ts`: one job from start to its recorded end (engine events → job
 *   events and progress);
 * - `job-events.ts`: live job events and waits; `retention.ts`: pruning;
 *   `limits.ts`: the whole-run and per-cell limits.
 *
 * Output files: a job without an explicit `output_path` writes
 * `<notebook folder>/hubmill-outputs/<stem>-<job id>.ipynb` (homes/home.ts).
 */
import { cpus } from 'node:os';
import { pino, type Logger } from 'pino';
import { executeNotebook } from '../engine/execute.js';
import type { Job, JobStore, NewJob } from '../store/job-store.js';
import type { CheckedJob, CheckOptions, Intake } from './intake.js';
import { intakeFor } from './intake-for.js';
import { JobEvents } from './job-event-waits.js';
import { Lease, newWorkerId } from './lease.js';
import { UNLIMITED } from './time-limits.js';
import { within, type RunnerOptions } from './options.js';
import { Queue } from './queue.js';
import { Retention } from './retention.js';
import { runJob } from './run-job.js';
import { JobProducer, type SubmitOptions } from './producer.js';
import type { JobEvent, JobEventCursor, JobRunner } from './runner-api.js';
import { plainDefault } from '../settings/table.js';

export { defaultOutputPath } from '../homes/home.js';
export type { GatewayKernels, RetentionPolicy, RunnerMetrics, RunnerOptions, WarmKernels } from './options.js';
export { UserServers, type UserServerConfig } from '../homes/user-servers.js';

export class Runner implements JobRunner {
  readonly workerId: string;
  readonly concurrency: number;
  private readonly store: JobStore;
  private readonly opts: RunnerOptions;
  private readonly log: Logger;
  private readonly events: JobEvents;
  private readonly intake: Intake;
  /** The one door of submissions (producer.ts): intake, resolution, quota, enqueue. */
  readonly producer: JobProducer;
  private readonly queue: Queue;
  private readonly lease: Lease;
  private readonly retention: Retention;
  /** Kernels still shutting down after their job ended (the engine does not wait for them). */
  private readonly kernelsClosing = new Set<Promise<void>>();
  private started = false;

  constructor(opts: RunnerOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? cpus().length ?? 1));
    this.workerId = opts.workerId ?? newWorkerId();
    this.log = (opts.logger ?? pino({ enabled: false })).child({ component: 'runner', workerId: this.workerId });
    this.events = new JobEvents(this.log, { bus: opts.eventBus, waitPollMs: opts.waitPollMs });
    const limits = opts.limits ?? UNLIMITED;
    this.intake = intakeFor(opts, { log: this.log });
    this.producer = new JobProducer({
      intake: this.intake,
      store: this.store,
      quota: opts.quota,
      log: this.log,
      secrets: opts.secrets,
      onQueued: (job) => {
        this.events.emitState(job);
        this.queue.kick();
      },
    });
    this.queue = new Queue({
      store: this.store,
      workerId: this.workerId,
      concurrency: this.concurrency,
      maxRunningPerUser: opts.quota?.maxRunningPerUser ?? null,
      pollIntervalMs: opts.pollIntervalMs ?? 500,
      stopKillWaitMs: opts.stopKillWaitMs ?? 15_000,
      log: this.log,
      run: (entry, leave) =>
        runJob(
          entry,
          {
            store: this.store,
            workerId: this.workerId,
            intake: this.intake,
            events: this.events,
            limits,
            execute: opts.execute ?? executeNotebook,
            log: this.log,
            metrics: opts.metrics,
            progressIntervalMs: opts.progressIntervalMs ?? 250,
            saveIntervalMs: opts.saveIntervalMs,
            maxOutputBytes: opts.maxOutputBytes,
            kernelEnv: opts.kernelEnv,
            secrets: opts.secrets,
            kernelClosing: (p) => {
              this.kernelsClosing.add(p);
              void p.finally(() => this.kernelsClosing.delete(p));
            },
          },
          leave,
        ),
    });
    const leaseMs = opts.leaseMs ?? plainDefault('leaseS') * 1000;
    this.lease = new Lease({
      store: this.store,
      workerId: this.workerId,
      leaseMs,
      heartbeatMs: opts.heartbeatIntervalMs ?? Math.min(5000, Math.max(50, Math.floor(leaseMs / 6))),
      requeue: opts.requeueInterruptedOnStart ?? false,
      log: this.log,
      held: () => [...this.queue.running.keys()],
      onLost: (ids) => {
        for (const id of ids) this.queue.abort(id, 'another worker reclaimed this job after its lease expired');
      },
      onReclaimed: (jobs) => {
        for (const j of jobs) this.events.emitState(j);
        this.queue.kick();
      },
    });
    this.retention = new Retention(this.store, opts.homeFor, opts.retention, this.log);
  }

  submit(newJob: NewJob, opts?: SubmitOptions): Promise<{ job: Job; created: boolean }> {
    return this.producer.submit(newJob, opts);
  }

  check(newJob: NewJob, opts?: CheckOptions): Promise<CheckedJob> {
    return this.producer.check(newJob, opts);
  }

  wake(): void {
    this.queue.kick();
  }

  async cancel(id: string): Promise<Job | null> {
    const job = await this.store.requestCancel(id);
    if (!job) return null;
    if (this.queue.abort(id, 'cancelled on request')) this.log.info({ jobId: id }, 'cancelling running job');
    else if (job.status === 'cancelled') this.events.emitState(job);
    return job;
  }

  waitFor(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Job | null> {
    return this.events.waitFor(this.store, id, timeoutMs, signal);
  }

  subscribe(jobId: string, listener: (event: JobEvent, id: number) => void, opts?: { after?: number }): () => void {
    return this.events.subscribe(jobId, listener, opts);
  }

  eventCursor(jobId: string): Promise<JobEventCursor | null> {
    return this.events.cursor(jobId);
  }

  stats(): { running: number; concurrency: number; pool: Record<string, { idle: number; starting: number; target: number }> } {
    return { running: this.queue.running.size, concurrency: this.concurrency, pool: this.opts.pool?.stats() ?? {} };
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.lease.start();
    this.queue.start();
    this.retention.start();
  }

  async stop(graceMs: number): Promise<void> {
    this.retention.stop();
    // Leases are renewed until the last run here has ended, so no other process reclaims them meanwhile.
    await this.queue.stop(graceMs);
    this.lease.stop();
    // Let finished jobs' kernels finish shutting down, so none outlives the service.
    await within(Promise.all([...this.kernelsClosing]), 10_000);
    this.started = false;
  }

  /** Deletes old finished jobs and the outputs hubmill named for them; returns how many jobs were deleted. */
  prune(nowMs: number = Date.now()): Promise<number> {
    return this.retention.prune(nowMs);
  }
}
