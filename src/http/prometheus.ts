/**
 * Prometheus metrics. One `Metrics` object per service (its own registry, so
 * tests can build many apps). The runner and the kernel pool call the
 * `observe*` / `kernel*` methods; gauges that mirror state (jobs by status,
 * queue depth, pool size) are read from the store and runner at scrape time.
 *
 * `hubmill_jobs` (every status) counts the whole jobs table, about 100 ms at a
 * million jobs: its answer is kept `jobCountsTtlMs` (5 s), so any number of
 * scrapers (and both gauges of one scrape) cost one count per interval and the
 * value is at most that old. `hubmill_queue_depth` reads the index-backed
 * `countActive` on each scrape: fresh and cheap.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActiveCounts, JobStatus } from '../store/job-store.js';
import { ttlCached } from '../ttl-cache.js';

/** How often the event-loop lag histogram samples (prom-client's `eventLoopMonitoringPrecision`). */
const LAG_SAMPLE_MS = 100;

export interface MetricsSources {
  countByStatus(): Promise<Record<JobStatus, number>>;
  countActive(): Promise<ActiveCounts>;
  stats(): { running: number; concurrency: number; pool: Record<string, { idle: number; starting: number; target: number }> };
}

/** How long the counts of every status are kept (see the file comment). */
export const JOB_COUNTS_TTL_MS = 5000;

export class Metrics {
  readonly registry = new Registry();
  #sources: MetricsSources | null = null;
  #countByStatus: (() => Promise<Record<JobStatus, number>>) | null = null;
  readonly #countsTtl: { ttlMs: number; now?: () => number };

  readonly runDuration = new Histogram({
    name: 'hubmill_job_run_duration_seconds',
    help: 'Wall time of finished job runs, by final status',
    labelNames: ['status'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });
  readonly kernelStarts = new Counter({
    name: 'hubmill_kernel_starts_total',
    help: 'Kernels started, by kernelspec',
    labelNames: ['kernel'] as const,
    registers: [this.registry],
  });
  readonly kernelFailures = new Counter({
    name: 'hubmill_kernel_failures_total',
    help: 'Kernels that failed to start or died, by kernelspec and reason',
    labelNames: ['kernel', 'reason'] as const,
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'hubmill_http_requests_total',
    help: 'HTTP requests, by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly scheduleEvents = new Counter({
    name: 'hubmill_schedule_events_total',
    help: 'Schedule fires (fired), missed fires run late (caught_up), missed fires skipped by catch-up (missed), fires skipped by overlap (overlap_skipped), retries scheduled (retried)',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  /** The scheduler's hooks (ScheduleMetrics). */
  readonly schedules = {
    fired: (n: number) => this.scheduleEvents.inc({ event: 'fired' }, n),
    caughtUp: (n: number) => this.scheduleEvents.inc({ event: 'caught_up' }, n),
    missed: (n: number) => this.scheduleEvents.inc({ event: 'missed' }, n),
    overlapSkipped: (n: number) => this.scheduleEvents.inc({ event: 'overlap_skipped' }, n),
    retried: (n: number) => this.scheduleEvents.inc({ event: 'retried' }, n),
  };

  /** `jobCountsTtlMs` and `now`: how long, on which clock, the counts of every status are kept (tests). */
  constructor(opts: { defaultMetrics?: boolean; jobCountsTtlMs?: number; now?: () => number } = {}) {
    this.#countsTtl = { ttlMs: opts.jobCountsTtlMs ?? JOB_COUNTS_TTL_MS, now: opts.now };
    const self = this;
    new Gauge({
      name: 'hubmill_jobs',
      help: 'Jobs in the store, by status',
      labelNames: ['status'] as const,
      registers: [this.registry],
      async collect() {
        if (!self.#sources) return;
        this.reset();
        const counts = await self.#countByStatus!();
        for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'hubmill_queue_depth',
      help: 'Jobs waiting to run',
      registers: [this.registry],
      async collect() {
        if (!self.#sources) return;
        this.set((await self.#sources.countActive()).queued);
      },
    });
    new Gauge({
      name: 'hubmill_jobs_running',
      help: 'Jobs running in this process',
      registers: [this.registry],
      collect() {
        if (self.#sources) this.set(self.#sources.stats().running);
      },
    });
    new Gauge({
      name: 'hubmill_concurrency',
      help: 'Maximum jobs running at once in this process',
      registers: [this.registry],
      collect() {
        if (self.#sources) this.set(self.#sources.stats().concurrency);
      },
    });
    new Gauge({
      name: 'hubmill_pool_kernels',
      help: 'Warm kernels in the pool, by kernelspec and state (idle, starting, target)',
      labelNames: ['kernel', 'state'] as const,
      registers: [this.registry],
      collect() {
        if (!self.#sources) return;
        this.reset();
        for (const [kernel, p] of Object.entries(self.#sources.stats().pool)) {
          this.set({ kernel, state: 'idle' }, p.idle);
          this.set({ kernel, state: 'starting' }, p.starting);
          this.set({ kernel, state: 'target' }, p.target);
        }
      },
    });
    // The event-loop lag histogram samples with a native timer: prom-client's default (10 ms) woke an idle
    // service 100 times a second, most of its idle CPU (each wake is an epoll round and a pass of Node's checks).
    // Every 100 ms still sees any stall long enough to matter.
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'hubmill_process_', eventLoopMonitoringPrecision: LAG_SAMPLE_MS });
  }

  /** Where scrape-time gauges read from (the app binds its store and runner). */
  bind(sources: MetricsSources): void {
    this.#sources = sources;
    const cached = ttlCached(() => sources.countByStatus(), { ...this.#countsTtl, maxKeys: 1 });
    this.#countByStatus = () => cached('all');
  }

  /** A job run finished (runner). */
  observeRun(status: JobStatus, durationSeconds: number): void {
    this.runDuration.observe({ status }, durationSeconds);
  }

  /** RunnerMetrics hook: a job reached a final state after running. */
  jobFinished(status: JobStatus, durationMs: number): void {
    this.observeRun(status, durationMs / 1000);
  }

  /** KernelPool `onKernelStart` hook. */
  onKernelStart(kernel: string, ok: boolean): void {
    if (ok) this.kernelStarted(kernel);
    else this.kernelFailed(kernel, 'start');
  }

  /** A kernel process was started (pool or engine). */
  kernelStarted(kernel: string): void {
    this.kernelStarts.inc({ kernel });
  }

  /** A kernel failed to start or died (`reason`: 'start', 'died', 'preload'...). */
  kernelFailed(kernel: string, reason = 'start'): void {
    this.kernelFailures.inc({ kernel, reason });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
