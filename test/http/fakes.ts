/**
 * A scriptable JobRunner (over the in-memory FakeStore of test/store) for
 * routing/schema tests of the HTTP layer. The real runner is exercised by test/e2e.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { isTerminal, type FinalStatus, type Job, type NewJob } from '../../src/store/job-store.js';
import { FakeStore } from '../store/fake-job-store.js';
import type { JobEvent, JobRunner } from '../../src/runner/runner-api.js';
import { JobEventLog } from '../../src/runner/job-event-log.js';
import type { KernelSpec } from '../../src/kernel/kernelspec-discovery.js';
import { loadConfig, type Config, type ConfigFlags } from '../../src/config.js';
import { buildApp, type AppDeps } from '../../src/http/app.js';
import { NoSuchKernelError } from '../../src/errors.js';
import { readNotebookFile } from '../../src/notebook/read.js';
import type { CheckOptions, Intake } from '../../src/runner/intake.js';
import { intakeFor } from '../../src/runner/intake-for.js';
import { limitsFromSettings } from '../../src/runner/time-limits.js';
import { JobProducer, type SubmitOptions } from '../../src/runner/producer.js';
import { NO_QUOTA, quotaFromSettings, type RunQuota } from '../../src/runner/quota.js';
import { homePathFor } from '../../src/users/home-path.js';

export { FakeStore };

export type Outcome = { status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'stay'; delayMs?: number; error?: Job['error'] };

/**
 * Runs nothing: each submitted job finishes after `delayMs` with the scripted outcome, writing a small output notebook.
 * Submissions pass the real runner's producer: its intake (home, notebook, kernel, limits, output path) and quota.
 */
export class FakeRunner implements JobRunner {
  events = new JobEventLog();
  outcome: (job: Job) => Outcome = () => ({ status: 'succeeded' });
  submitted: NewJob[] = [];
  submitError: Error | null = null;
  readonly producer: JobProducer;
  constructor(
    readonly store: FakeStore,
    readonly homeOf: (u: string) => string,
    readonly intake: Intake,
    quota: RunQuota = NO_QUOTA,
  ) {
    // Each checked job is recorded as the intake answered it (before the quota and the store).
    const check = async (n: NewJob, opts?: CheckOptions) => {
      const c = await intake.check(n, opts);
      this.submitted.push(c.job);
      return c;
    };
    this.producer = new JobProducer({ intake: { check }, store, quota, onQueued: (job) => this.track(job) });
  }

  emit(ev: JobEvent) {
    this.events.publish(ev);
  }
  /** Scripted runs still going: stop() waits for them, so a test's cleanup never races their output files. */
  private readonly inflight = new Set<Promise<void>>();
  private track(job: Job): void {
    const p = this.run(job).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }
  async start() {}
  async stop() {
    await Promise.allSettled([...this.inflight]);
  }
  stats() {
    return { running: 0, concurrency: 2, pool: { python3: { idle: 1, starting: 0, target: 1 } } };
  }
  subscribe(id: string, l: (e: JobEvent, eventId: number) => void, opts?: { after?: number }) {
    return this.events.subscribe(id, l, opts);
  }
  async eventCursor(id: string) {
    return this.events.cursor(id);
  }
  check(n: NewJob, opts?: CheckOptions) {
    return this.producer.check(n, opts);
  }
  wake() {}
  async submit(n: NewJob, opts?: SubmitOptions) {
    if (this.submitError) throw this.submitError;
    return this.producer.submit(n, opts);
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
  async finish(id: string, status: FinalStatus, error: Job['error'] = null) {
    // Already ended (e.g. cancelled while the scripted run went on): the store would refuse the transition.
    if (this.store.jobs.get(id)?.status !== 'running') return;
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
      if (!j || isTerminal(j.status) || Date.now() >= deadline || signal?.aborted) return j;
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
  // As src/server.ts wires it: the template, or the service user's own home (AppDeps.ownHome).
  const homeOf = (u: string) => homePathFor(u, config.homeTemplate, extra.ownHome ?? null);
  const intake = intakeFor({
    homeFor: homeOf,
    limits: limitsFromSettings(config),
    readNotebook: readNotebookFile,
    getKernelSpec: async (name) => {
      const spec = KERNELSPECS.find((k) => k.name === name);
      if (!spec) throw new NoSuchKernelError(`No such kernel named ${name}`);
      return spec;
    },
    runAsFor: async () => null,
    userServers: null,
  });
  const runner = new FakeRunner(store, homeOf, intake, quotaFromSettings(config));
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
