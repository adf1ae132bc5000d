// Shared setup for runner tests: a temp root with homes, a SQLite store, notebooks.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import type { Job } from '../../src/store/job-store.js';
import type { JobEvent } from '../../src/runner/runner-api.js';
import type { Runner } from '../../src/runner/runner.js';

export interface Env {
  root: string;
  homes: string;
  home: string;
  dbPath: string;
  store: SqliteJobStore;
  homeFor: (u: string) => string;
}

export function makeEnv(t: { after(fn: () => unknown): void }, name = 'runner'): Env {
  const root = realpathSync(mkdtempSync(join(tmpdir(), `hubmill-${name}-`)));
  const homes = join(root, 'homes');
  const home = join(homes, 'alice');
  mkdirSync(join(home, 'work'), { recursive: true });
  const dbPath = join(root, 'data', 'jobs.sqlite');
  const store = new SqliteJobStore({ path: dbPath });
  t.after(async () => {
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });
  return { root, homes, home, dbPath, store, homeFor: (u) => join(homes, u) };
}

export function notebookJson(sources: string[], opts: { kernel?: string | null; metadata?: Record<string, unknown>; parametersCell?: boolean } = {}): string {
  const kernel = opts.kernel === undefined ? 'python3' : opts.kernel;
  const cells = sources.map((src, i) => ({
    cell_type: 'code',
    id: `cell-${i}`,
    metadata: opts.parametersCell && i === 0 ? { tags: ['parameters'] } : {},
    execution_count: null,
    outputs: [],
    source: src,
  }));
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      ...(kernel ? { kernelspec: { name: kernel, display_name: 'Python 3', language: 'python' } } : {}),
      language_info: { name: 'python' },
      ...opts.metadata,
    },
    cells,
  });
}

export function writeNotebook(home: string, rel: string, content: string): string {
  const p = join(home, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, content);
  return p;
}

/** Collects a job's events from now on. */
export function record(runner: Runner, jobId: string): { events: JobEvent[]; stop: () => void } {
  const events: JobEvent[] = [];
  const stop = runner.subscribe(jobId, (e) => events.push(e));
  return { events, stop };
}

/** Resolves with the first event of the job that satisfies `pred` (rejects after timeoutMs). */
export function nextEvent(runner: Runner, jobId: string, pred: (e: JobEvent) => boolean, timeoutMs = 10_000): Promise<JobEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no matching event for job ${jobId} within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = runner.subscribe(jobId, (e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      stop();
      resolve(e);
    });
  });
}

export const isState = (status: Job['status']) => (e: JobEvent) => e.type === 'state' && e.status === status;
