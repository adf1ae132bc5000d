/**
 * Pipelines in the stores without notebooks: hand-built plans, both backends
 * (SQLite in a temporary file, PostgreSQL in a fresh schema), and jobs driven
 * through claimNext / markFinished as a runner would.
 */
import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelinePlan, PlannedTask } from '../../src/pipelines/types.js';
import type { Job, JobStore } from '../../src/store/job-store.js';
import type { NewPipeline, PipelineStore } from '../../src/store/pipeline-store.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { SqlitePipelineStore } from '../../src/store/sqlite-pipeline-store.js';
import { PgPipelineStore } from '../../src/store/pg/pg-pipeline-store.js';
import { freshSchema, pgStore } from '../helpers/pg.js';

export interface Stores {
  jobs: JobStore;
  pipelines: PipelineStore;
  /** Runs SQL straight on the database (a crash between commit points, a broken invariant). */
  raw(sql: string, args?: unknown[]): Promise<unknown[]>;
}

export interface Backend {
  name: 'SQLite' | 'PostgreSQL';
  /** Stores on a fresh database; with `schema` (PostgreSQL), on that one (another node). */
  open(t: TestContext, opts?: { now?: () => number; schema?: string }): Promise<Stores>;
}

export const SQLITE_BACKEND: Backend = {
  name: 'SQLite',
  async open(t, opts = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'hubmill-pl-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const jobs = new SqliteJobStore({ path: join(dir, 'jobs.sqlite'), now: opts.now });
    t.after(() => jobs.close());
    const db = jobs.connection();
    return {
      jobs,
      pipelines: new SqlitePipelineStore(jobs, { now: opts.now }),
      async raw(sql, args = []) {
        const st = db.prepare(sql.replace(/\$\d+/g, '?'));
        return st.reader ? st.all(...args) : (st.run(...args), []);
      },
    };
  },
};

export const PG_BACKEND: Backend = {
  name: 'PostgreSQL',
  async open(t, opts = {}) {
    const jobs = await pgStore(t, { schema: opts.schema ?? freshSchema(t), now: opts.now });
    return {
      jobs,
      pipelines: new PgPipelineStore(jobs, { now: opts.now }),
      async raw(sql, args = []) {
        return (await jobs.pool.query(sql, args)).rows;
      },
    };
  },
};

export const BACKENDS: readonly Backend[] = [SQLITE_BACKEND, PG_BACKEND];

/** A planned task: its notebook `<key>.ipynb`, no retry, all_succeeded. */
export function task(key: string, over: Partial<PlannedTask> = {}): PlannedTask {
  return {
    key,
    notebook: `${key}.ipynb`,
    depends_on: [],
    run_if: 'all_succeeded',
    kernel: 'python3',
    kernel_language: 'python',
    max_retries: 0,
    retry_backoff_s: 0,
    declared_parameters: [],
    ...over,
  };
}

export function plan(tasks: PlannedTask[], parameters: PipelinePlan['parameters'] = {}): PipelinePlan {
  return { parameters, tasks, default_concurrency: 4 };
}

export function newPipeline(p: PipelinePlan, over: Partial<NewPipeline> = {}): NewPipeline {
  return {
    name: 'p',
    owner: 'alice',
    created_by: 'alice',
    parameters: p.parameters,
    tasks: p.tasks.map(({ kernel_language: _l, declared_parameters: _d, ...spec }) => spec),
    plan: p,
    ...over,
  };
}

/** Claims every job there is to claim now. */
export async function claimAll(jobs: JobStore, worker = 'w1'): Promise<Job[]> {
  const out: Job[] = [];
  for (let j = await jobs.claimNext(worker); j; j = await jobs.claimNext(worker)) out.push(j);
  return out;
}

/** Records a claimed job's end as its runner would. */
export function finish(jobs: JobStore, job: Job, status: 'succeeded' | 'failed' | 'cancelled' = 'succeeded', result: Record<string, unknown> | null = null): Promise<Job> {
  return jobs.markFinished(job.id, status, { worker_id: job.worker_id!, attempt: job.attempts, result });
}

/** The task keys (with item index) of jobs, sorted: `a`, `fan[2]`. */
export function keysOf(jobs: readonly Job[]): string[] {
  return jobs.map((j) => (j.item_index === null ? j.task_key! : `${j.task_key}[${j.item_index}]`)).sort();
}

/** Every job of a run, oldest first. */
export async function jobsOfRun(jobs: JobStore, runId: string): Promise<Job[]> {
  const page = await jobs.list({ pipeline_run_id: runId, limit: 1000 });
  return page.jobs.reverse();
}
