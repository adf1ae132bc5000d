/**
 * In-memory JobStore and a scriptable JobRunner for routing/schema tests of the
 * HTTP layer. The real store and runner are exercised by test/e2e.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import type { Job, JobPage, JobStatus, JobStore, ListJobsQuery, NewJob } from '../../src/store/job-store.js';
import { TERMINAL_STATUSES } from '../../src/store/job-store.js';
import type { JobEvent, JobRunner } from '../../src/runner/runner-api.js';
import { JobEventLog } from '../../src/runner/job-events.js';
import type { KernelSpec } from '../../src/kernel/kernelspecs.js';
import { RunQuotaError } from '../../src/errors.js';
import { loadConfig, type Config, type ConfigFlags } from '../../src/config.js';
import { buildApp, type AppDeps } from '../../src/http/app.js';

export class FakeStore implements JobStore {
  jobs = new Map<string, Job>();
  seq = 0;
  down = false;
  async enqueue(n: NewJob): Promise<{ job: Job; created: boolean }> {
    if (n.idempotency_key) {
      for (const j of this.jobs.values()) if (j.username === n.username && j.idempotency_key === n.idempotency_key) return { job: j, created: false };
    }
    if (n.max_active != null) {
      const mine = [...this.jobs.values()].filter((j) => j.username === n.username);
      const running = mine.filter((j) => j.status === 'running').length;
      const queued = mine.filter((j) => j.status === 'queued').length;
      if (running + queued >= n.max_active) throw new RunQuotaError(n.username, { running, queued, maxActive: n.max_active });
    }
    const id = `job${String(++this.seq).padStart(4, '0')}`;
    const job: Job = {
      id,
      status: 'queued',
      username: n.username,
      notebook: n.notebook,
      parameters: n.parameters,
      kernel: n.kernel ?? null,
      timeout_s: n.timeout_s ?? null,
      cell_timeout_s: n.cell_timeout_s ?? null,
      idempotency_key: n.idempotency_key ?? null,
      submitted_by: n.submitted_by,
      created_at_ms: Date.now(),
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
    };
    this.jobs.set(id, job);
    return { job: { ...job }, created: true };
  }
  async get(id: string) {
    const j = this.jobs.get(id);
    return j ? { ...j } : null;
  }
  async list(q: ListJobsQuery): Promise<JobPage> {
    let all = [...this.jobs.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
    if (q.username) all = all.filter((j) => j.username === q.username);
    if (q.status) all = all.filter((j) => q.status!.includes(j.status));
    if (q.notebook) all = all.filter((j) => j.notebook === q.notebook);
    if (q.cursor) all = all.filter((j) => j.id < q.cursor!);
    const page = all.slice(0, q.limit);
    return { jobs: page, next_cursor: all.length > q.limit ? page[page.length - 1]!.id : null };
  }
  async claimNext() {
    return null;
  }
  async updateProgress() {}
  async markFinished(id: string, status: Extract<JobStatus, 'succeeded' | 'failed' | 'cancelled' | 'timed_out'>, f: Partial<Job>) {
    const j = this.jobs.get(id)!;
    Object.assign(j, { status, finished_at_ms: Date.now(), error: f.error ?? null, result: f.result ?? null });
    if (f.progress) j.progress = f.progress;
    return { ...j };
  }
  async requestCancel(id: string) {
    const j = this.jobs.get(id);
    if (!j) return null;
    if (j.status === 'queued') Object.assign(j, { status: 'cancelled', finished_at_ms: Date.now() });
    else if (j.status === 'running') j.cancel_requested = true;
    return { ...j };
  }
  async recoverInterrupted() {
    return [];
  }
  async countByStatus() {
    if (this.down) throw new Error('database is locked');
    const out: Record<JobStatus, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, timed_out: 0 };
    for (const j of this.jobs.values()) out[j.status]++;
    return out;
  }
  async pruneFinishedBefore() {
    return [];
  }
  async pruneFinishedBeyond() {
    return [];
  }
  async heartbeat() {}
  async close() {}
}

export type Outcome = { status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'stay'; delayMs?: number; error?: Job['error'] };

/** Runs nothing: each submitted job finishes after `delayMs` with the scripted outcome, writing a small output notebook. */
export class FakeRunner implements JobRunner {
  events = new JobEventLog();
  outcome: (job: Job) => Outcome = () => ({ status: 'succeeded' });
  submitted: NewJob[] = [];
  submitError: Error | null = null;
  constructor(readonly store: FakeStore, readonly homeOf: (u: string) => string) {}

  emit(ev: JobEvent) {
    this.events.publish(ev);
  }
  async start() {}
  async stop() {}
  stats() {
    return { running: 0, concurrency: 2, pool: { python3: { idle: 1, starting: 0, target: 1 } } };
  }
  subscribe(id: string, l: (e: JobEvent, eventId: number) => void, opts?: { after?: number }) {
    return this.events.subscribe(id, l, opts);
  }
  eventCursor(id: string) {
    return this.events.cursor(id);
  }
  async submit(n: NewJob) {
    if (this.submitError) throw this.submitError;
    this.submitted.push(n);
    const r = await this.store.enqueue(n);
    if (r.created) void this.run(r.job);
    return r;
  }
  async run(job: Job) {
    const o = this.outcome(job);
    await new Promise((r) => setTimeout(r, o.delayMs ?? 5));
    const j = this.store.jobs.get(job.id)!;
    if (j.status !== 'queued') return;
    Object.assign(j, { status: 'running', started_at_ms: Date.now(), progress: { cells_total: 2, cells_done: 0 } });
    if (!j.output_path) j.output_path = job.notebook.replace(/\.ipynb$/, '.out.ipynb');
    this.emit({ type: 'state', job_id: j.id, status: 'running', job: { ...j } });
    this.emit({ type: 'cell_started', job_id: j.id, cell_index: 0, cells_total: 2 });
    await writeFile(join(this.homeOf(j.username), j.output_path), JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] }));
    if (o.status === 'stay') return;
    this.emit({ type: 'cell_finished', job_id: j.id, cell_index: 0, status: 'completed', duration_ms: 1, cells_done: 1, cells_total: 2 });
    await this.finish(j.id, o.status, o.error ?? null);
  }
  async finish(id: string, status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled', error: Job['error'] = null) {
    const done = await this.store.markFinished(id, status, { error, progress: { cells_total: 2, cells_done: status === 'succeeded' ? 2 : 1 } });
    this.emit({ type: 'state', job_id: id, status, job: done });
  }
  async cancel(id: string) {
    const j = await this.store.requestCancel(id);
    if (j?.status === 'running') await this.finish(id, 'cancelled');
    return this.store.get(id);
  }
  async waitFor(id: string, timeoutMs: number, signal?: AbortSignal) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const j = await this.store.get(id);
      if (!j || TERMINAL_STATUSES.includes(j.status) || Date.now() >= deadline || signal?.aborted) return j;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

export const KERNELSPECS: KernelSpec[] = [
  { name: 'python3', argv: ['python3'], display_name: 'Python 3', language: 'python', interrupt_mode: 'signal', env: {}, metadata: {}, resource_dir: '/usr/share/jupyter/kernels/python3' },
];

export const TOKEN = 'test-token-0123456789';

export async function makeApp(flags: ConfigFlags, extra: Partial<AppDeps> = {}) {
  const config: Config = loadConfig({ apiToken: TOKEN, poolSizes: 'python3:1', ...flags }, {});
  const store = new FakeStore();
  const runner = new FakeRunner(store, (u) => config.homeTemplate.replace('{username}', u));
  const app = await buildApp({
    config,
    store,
    runner,
    kernelspecs: async () => KERNELSPECS,
    logger: pino({ level: 'silent' }),
    ...extra,
  });
  return { app, store, runner, config };
}

export const auth = { authorization: `token ${TOKEN}` };
