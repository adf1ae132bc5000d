/**
 * The pipelines API for the pages: pipelines, their runs, repair, results. The
 * answers' types are the server's schemas' (type-only imports, as api.ts does);
 * the spec a user writes is the pipelines contract's (src/pipelines/types.ts).
 */
import type { PipelineViewT, ResultRowT, RunTaskViewT, RunViewT } from '../../src/http/pipeline-schemas.js';
import type { PipelineProblem, PipelineRunStatus, PipelineSpec, TaskSpec, TaskStatus } from '../../src/pipelines/types.js';
import { api, ApiError, q, url } from './api';
import { RawJson } from './json-text';

export type Pipeline = PipelineViewT;
export type Run = RunViewT;
export type RunTask = RunTaskViewT;
export type RunJob = RunTaskViewT['jobs'][number];
export type ResultRow = ResultRowT;
export type { PipelineProblem, PipelineRunStatus, PipelineSpec, TaskSpec, TaskStatus };

/** A task's or run's state has ended (no more changes without a repair). */
export const taskEnded = (s: TaskStatus) => s !== 'pending' && s !== 'running';
export const runEnded = (s: PipelineRunStatus) => s === 'succeeded' || s === 'failed' || s === 'cancelled';
/** Task states a default repair re-runs. */
export const REPAIRABLE: readonly TaskStatus[] = ['failed', 'timed_out', 'cancelled', 'upstream_failed'];

/** One live change of a run (GET …/runs/{run_id}/events). */
export type RunEvent =
  | { type: 'run'; run_id: string; status: PipelineRunStatus; run: Run }
  | { type: 'task'; run_id: string; key: string; status: TaskStatus; items_total: number | null; items_done: number; error: string | null }
  | { type: 'item'; run_id: string; task_key: string; item_index: number | null; job_id: string; attempt: number; status: RunJob['status'] };

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;
/** Numbers whose text says more than a JS number (`1.0`, digits beyond 2^53) kept as that text (where the browser tells the source). */
const keepNumbers: Reviver = (_k, v, ctx) => (typeof v === 'number' && ctx?.source !== undefined && ctx.source !== String(v) ? new RawJson(ctx.source) : v);
/** JSON text with each number kept as written (see keepNumbers). */
export const parseLossless = (text: string): unknown => JSON.parse(text, keepNumbers as (this: unknown, key: string, value: unknown) => unknown);
const lossless = { reviver: keepNumbers as (this: unknown, key: string, value: unknown) => unknown };

const pl = (id: string, tail = '') => `api/v1/pipelines/${encodeURIComponent(id)}${tail}`;
const rn = (id: string, runId: string, tail = '') => pl(id, `/runs/${encodeURIComponent(runId)}${tail}`);

export const listPipelines = (username: string | null, shared = false) =>
  api<{ pipelines: Pipeline[]; next_cursor: string | null }>(`api/v1/pipelines${q({ username, limit: 500, shared: shared ? 'true' : null })}`);
/** Its parameters and tasks with each number as written (1.0 stays a float when edited and saved again). */
export const getPipeline = (id: string) => api<Pipeline>(pl(id), lossless);
export const createPipeline = (body: unknown) => api<Pipeline>('api/v1/pipelines', { method: 'POST', body });
export const patchPipeline = (id: string, body: unknown) => api<Pipeline>(pl(id), { method: 'PATCH', body });
export const deletePipeline = (id: string) => api<null>(pl(id), { method: 'DELETE' });
export const startRun = (id: string, parameters: Record<string, unknown>) => api<Run>(pl(id, '/runs'), { method: 'POST', body: { parameters } });
export const listRuns = (id: string, limit = 20) => api<{ runs: Run[]; next_cursor: string | null }>(pl(id, `/runs${q({ limit })}`));
export const getRun = (id: string, runId: string) => api<Run>(rn(id, runId));
export const cancelRun = (id: string, runId: string) => api<Run>(rn(id, runId, '/cancel'), { method: 'POST' });
export const repairRun = (id: string, runId: string, body: { tasks?: string[]; items?: Record<string, number[]> }) => api<Run>(rn(id, runId, '/repair'), { method: 'POST', body });
export const runResults = (id: string, runId: string, task?: string) => api<{ run_id: string; status: string; rows: ResultRow[] }>(rn(id, runId, `/results${q({ task })}`));
export const resultsCsvUrl = (id: string, runId: string, task?: string) => url(rn(id, runId, `/results${q({ format: 'csv', task })}`));
export const runEventsUrl = (id: string, runId: string) => url(rn(id, runId, '/events'));

/** The `problems` of a 422 (each {task, path, message}); empty for any other error. */
export function problemsOf(err: unknown): PipelineProblem[] {
  const list = err instanceof ApiError ? err.problem?.problems : undefined;
  if (!Array.isArray(list)) return [];
  return (list as Partial<PipelineProblem>[])
    .filter((p) => typeof p.message === 'string')
    .map((p) => ({ task: typeof p.task === 'string' ? p.task : null, path: typeof p.path === 'string' ? p.path : '', message: p.message! }));
}

/** A run's task with one event applied (a new object when it changed). */
export function applyEvent(run: Run, ev: RunEvent): Run {
  if (ev.type === 'run') return ev.run;
  if (ev.type === 'task') {
    return {
      ...run,
      tasks: run.tasks.map((t) => (t.key === ev.key ? { ...t, status: ev.status, items_total: t.for_each ? ev.items_total : t.items_total, items_done: t.for_each ? ev.items_done : t.items_done, error: ev.error } : t)),
    };
  }
  return {
    ...run,
    tasks: run.tasks.map((t) => {
      if (t.key !== ev.task_key) return t;
      const i = t.jobs.findIndex((j) => j.id === ev.job_id);
      const job: RunJob =
        i >= 0
          ? { ...t.jobs[i]!, status: ev.status }
          : { id: ev.job_id, item_index: ev.item_index, attempt: ev.attempt, status: ev.status, started_at: null, finished_at: null, links: { self: url(`api/v1/jobs/${encodeURIComponent(ev.job_id)}`) } };
      const jobs = i >= 0 ? t.jobs.map((j, k) => (k === i ? job : j)) : [...t.jobs, job].sort((a, b) => (a.item_index ?? -1) - (b.item_index ?? -1) || a.attempt - b.attempt);
      return { ...t, jobs };
    }),
  };
}

/** Each item's latest job of a task (by item index; null outside for_each). */
export function latestJobs(t: RunTask): Map<number | null, RunJob> {
  const m = new Map<number | null, RunJob>();
  for (const j of t.jobs) {
    const had = m.get(j.item_index);
    if (!had || had.attempt <= j.attempt) m.set(j.item_index, j);
  }
  return m;
}

/** `n/N` of a for_each task, or null. */
export const progressOf = (t: RunTask) => (t.for_each && t.items_total !== null ? `${t.items_done ?? 0}/${t.items_total}` : null);

/** The task specs of a pipeline as saved (the server answers them as plain objects). */
export const specTasks = (p: Pipeline) => p.tasks as unknown as TaskSpec[];
