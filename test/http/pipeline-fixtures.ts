/**
 * An app with the pipelines API over real stores (SQLite in memory: the job
 * store and the pipeline store on it) and the real Runner, whose engine is a
 * stand-in driven by each notebook's `metadata.fake`:
 * - `glue`: values recorded as the job's result (by name); `"$param:NAME"` records that parameter's value;
 * - `fail_if`: {NAME: value}: the run fails when the parameter NAME has that value (compared as JSON text);
 * - `block`: true: the run waits until it is cancelled.
 * Notebooks are written in a temp home with their parameters cell, so the save-time
 * check reads their declared parameters as it would a real notebook's.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import type { RunOptions, RunResult } from '../../src/engine/run-types.js';
import { NoSuchKernelError } from '../../src/errors.js';
import { buildApp } from '../../src/http/app.js';
import { StaticTokenAuthenticator, type Authenticator, type Identity } from '../../src/http/auth.js';
import { toJsonText } from '../../src/notebook/write.js';
import { Runner } from '../../src/runner/runner.js';
import type { JobStore } from '../../src/store/job-store.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { pgStore } from '../helpers/pg.js';
import { outboxStoreFor, pipelineStoreFor } from '../../src/store/open.js';
import type { OutboxStore } from '../../src/store/outbox-store.js';
import type { PipelineStore } from '../../src/store/pipeline-store.js';
import { code, makeNotebook } from '../helpers/notebooks.js';
import { KERNELSPECS, TOKEN } from './fakes.js';

export { TOKEN };
export const auth = { authorization: `token ${TOKEN}` };
/** `token user-<name>` is that (non-admin) user. */
export const as = (u: string) => ({ authorization: `token user-${u}` });
const usersByToken: Authenticator = {
  authenticate(req): Identity | null {
    const m = /^token user-(\w+)$/.exec(req.headers.authorization ?? '');
    return m ? { name: m[1]!, admin: false, kind: 'user', scopes: [] } : null;
  },
};

export interface FakeBehaviour {
  glue?: Record<string, unknown>;
  fail_if?: Record<string, unknown>;
  block?: boolean;
}

/** The stand-in engine: records every call, answers as the notebook's metadata.fake says. */
export class PipelineEngine {
  calls: RunOptions[] = [];

  execute = async (opts: RunOptions): Promise<RunResult> => {
    this.calls.push(opts);
    const fake = ((opts.notebook.metadata as Record<string, unknown>).fake ?? {}) as FakeBehaviour;
    const startedAtMs = Date.now();
    const base = { notebook: opts.notebook, cellsTotal: 1, startedAtMs, kernelName: opts.kernelName, warnings: [], kernelClosed: Promise.resolve() };
    opts.onEvent?.({ type: 'run_started', cellsTotal: 1, kernelName: opts.kernelName, outputPath: opts.outputPath });
    if (fake.block) {
      await new Promise<void>((r) => {
        if (opts.signal?.aborted) r();
        opts.signal?.addEventListener('abort', () => r(), { once: true });
      });
      return { ...base, status: 'cancelled', error: { ename: 'Cancelled', evalue: 'cancelled', traceback: [], cell_index: 0 }, cellsDone: 0, results: {}, finishedAtMs: Date.now() };
    }
    for (const [name, value] of Object.entries(fake.fail_if ?? {})) {
      if (Object.hasOwn(opts.parameters, name) && toJsonText(opts.parameters[name]) === toJsonText(value)) {
        return { ...base, status: 'failed', error: { ename: 'RuntimeError', evalue: `${name} is ${toJsonText(value)}`, traceback: [], cell_index: 0 }, cellsDone: 0, results: {}, finishedAtMs: Date.now() };
      }
    }
    const results: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(fake.glue ?? {})) {
      results[name] = typeof value === 'string' && value.startsWith('$param:') ? opts.parameters[value.slice(7)] : value;
    }
    return { ...base, status: 'succeeded', error: null, cellsDone: 1, results, finishedAtMs: Date.now() };
  };
}

export interface PipelineApp {
  app: FastifyInstance;
  root: string;
  homeOf: (u: string) => string;
  jobs: JobStore;
  pipelines: PipelineStore;
  /** The notifications outbox (`GET /api/v1/pipelines/{id}/deliveries` is mounted on it). */
  outbox: OutboxStore;
  runner: Runner;
  engine: PipelineEngine;
  /** Writes a python3 notebook whose parameters cell declares `params` (name → Python literal). */
  notebook(user: string, path: string, params: Record<string, string>, fake?: FakeBehaviour): Promise<void>;
  close(): Promise<void>;
}

export type Backend = 'SQLite' | 'PostgreSQL';

/** The app over SQLite (in memory) or PostgreSQL (a fresh schema, dropped by close). */
export async function makePipelineApp(backend: Backend = 'SQLite', opts: { webhookAllow?: string } = {}): Promise<PipelineApp> {
  const cleanups: Array<() => void | Promise<void>> = [];
  const root = await mkdtemp(join(tmpdir(), 'hubmill-pipelines-'));
  const homeOf = (u: string) => join(root, u);
  for (const u of ['alice', 'bob']) await mkdir(homeOf(u), { recursive: true });
  const config = loadConfig({ apiToken: TOKEN, poolSizes: 'python3:0', homeTemplate: join(root, '{username}'), concurrency: 4, waitMaxS: 20, ...(opts.webhookAllow ? { webhookAllow: opts.webhookAllow } : {}) }, {});
  const jobs: JobStore = backend === 'SQLite' ? new SqliteJobStore({ path: ':memory:' }) : await pgStore({ after: (fn) => cleanups.push(fn) });
  const pipelines = pipelineStoreFor(jobs);
  const outbox = outboxStoreFor(jobs);
  const engine = new PipelineEngine();
  const runner = new Runner({
    store: jobs,
    homeFor: homeOf,
    concurrency: 4,
    workerId: 'pipelines-test',
    execute: engine.execute,
    getKernelSpec: async (name) => {
      const spec = KERNELSPECS.find((k) => k.name === name);
      if (!spec) throw new NoSuchKernelError(`No such kernel named ${name}`);
      return spec;
    },
    runAsFor: async () => null,
    pollIntervalMs: 20,
  });
  const app = await buildApp({ config, store: jobs, runner, kernelspecs: async () => KERNELSPECS, logger: pino({ level: 'silent' }),
    authenticators: [new StaticTokenAuthenticator(TOKEN), usersByToken],
    pipelines,
    outbox,
    runWatchPollMs: 20,
  });
  await runner.start();
  return {
    app,
    root,
    homeOf,
    jobs,
    pipelines,
    outbox,
    runner,
    engine,
    async notebook(user, path, params, fake = {}) {
      const source = Object.entries(params).map(([k, v]) => `${k} = ${v}`).join('\n');
      const nb = makeNotebook([code(source, ['parameters']), code('pass')]);
      (nb.metadata as Record<string, unknown>).fake = fake;
      const abs = join(homeOf(user), path);
      await mkdir(dirname(abs), { recursive: true });
      await writeFile(abs, JSON.stringify(nb));
    },
    async close() {
      await runner.stop(1000);
      await app.close();
      if (backend === 'SQLite') await jobs.close();
      // The PostgreSQL store closes, then its schema is dropped.
      for (const fn of cleanups.reverse()) await fn();
      await rm(root, { recursive: true, force: true });
    },
  };
}
