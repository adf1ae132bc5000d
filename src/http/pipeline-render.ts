/**
 * Renders pipelines, their runs and a run's results for the API: times as ISO
 * 8601 UTC, links under the service prefix, values as the store keeps them (the
 * routes answer with `losslessReply`, so 1.0 stays 1.0 and big integers keep
 * every digit). The CSV of results writes the same values as text.
 */
import type { Parameters } from '../notebook/notebook-types.js';
import { PyFloat } from '../notebook/py-float.js';
import { toJsonText } from '../notebook/write.js';
import { RunJobs } from '../pipelines/attempts.js';
import { taskItems } from '../pipelines/items.js';
import { TERMINAL_TASK_STATUSES, type Pipeline, type RunJobView, type TaskState } from '../pipelines/types.js';
import { isTerminal, type Job } from '../store/job-store.js';
import type { PipelineRun } from '../store/pipeline-store.js';
import type { PipelineViewT, ResultRowT, RunTaskViewT, RunViewT } from './pipeline-schemas.js';
import { iso } from './render.js';

export function pipelineLink(prefix: string, id: string): string {
  return `${prefix}api/v1/pipelines/${encodeURIComponent(id)}`;
}

export function runLink(prefix: string, pipelineId: string, runId: string): string {
  return `${pipelineLink(prefix, pipelineId)}/runs/${encodeURIComponent(runId)}`;
}

export function renderPipeline(p: Pipeline, prefix: string): PipelineViewT {
  const self = pipelineLink(prefix, p.id);
  return {
    id: p.id,
    owner: p.owner,
    created_by: p.created_by,
    name: p.name,
    parameters: p.parameters ?? {},
    tasks: p.tasks as unknown as PipelineViewT['tasks'],
    max_concurrent_runs: p.max_concurrent_runs ?? 1,
    notify: p.notify
      ? { ...(p.notify.webhook_url ? { webhook_url: p.notify.webhook_url } : {}), ...(p.notify.email ? { email: p.notify.email } : {}), on: p.notify.on ?? ['failed'] }
      : null,
    plan: {
      tasks: p.plan.tasks.map((t) => ({
        key: t.key,
        notebook: t.notebook,
        depends_on: t.depends_on,
        kernel: t.kernel,
        kernel_language: t.kernel_language,
        declared_parameters: t.declared_parameters,
      })),
      default_concurrency: p.plan.default_concurrency,
    },
    created_at: iso(p.created_at_ms)!,
    updated_at: iso(p.updated_at_ms)!,
    links: { self, runs: `${self}/runs` },
  };
}

/** The run's jobs of one task, by item then attempt. */
function jobsOf(jobs: readonly Job[], key: string): Job[] {
  return jobs.filter((j) => j.task_key === key).sort((a, b) => (a.item_index ?? -1) - (b.item_index ?? -1) || a.attempt - b.attempt);
}

function renderTask(prefix: string, run: PipelineRun, state: TaskState | undefined, key: string, jobs: readonly Job[]): RunTaskViewT {
  const planned = run.plan.tasks.find((t) => t.key === key)!;
  const forEach = planned.for_each !== undefined && planned.for_each !== null;
  return {
    key,
    notebook: planned.notebook,
    status: state?.status ?? 'pending',
    depends_on: planned.depends_on,
    run_if: planned.run_if,
    for_each: forEach,
    items_total: forEach ? (state?.items_total ?? null) : null,
    items_done: forEach ? (state?.items_done ?? 0) : null,
    error: state?.error ?? null,
    result: (state?.result ?? null) as RunTaskViewT['result'],
    started_at: iso(state?.started_at_ms ?? null),
    finished_at: iso(state?.finished_at_ms ?? null),
    jobs: jobsOf(jobs, key).map((j) => ({
      id: j.id,
      item_index: j.item_index,
      attempt: j.attempt,
      status: j.status,
      started_at: iso(j.started_at_ms),
      finished_at: iso(j.finished_at_ms),
      links: { self: `${prefix}api/v1/jobs/${encodeURIComponent(j.id)}` },
    })),
  };
}

/** A run with its tasks in topological order, each with its jobs (`jobs`: every job of the run). */
export function renderRun(run: PipelineRun, jobs: readonly Job[], prefix: string): RunViewT {
  const self = runLink(prefix, run.pipeline_id, run.id);
  const states = new Map(run.tasks.map((t) => [t.key, t]));
  return {
    id: run.id,
    pipeline_id: run.pipeline_id,
    owner: run.owner,
    status: run.status,
    parameters: run.parameters,
    schedule_id: run.schedule_id,
    scheduled_for: iso(run.scheduled_for_ms),
    submitted_by: run.submitted_by,
    created_at: iso(run.created_at_ms)!,
    started_at: iso(run.started_at_ms),
    finished_at: iso(run.finished_at_ms),
    cancel_requested: run.cancel_requested,
    repairs: run.repairs.map((r) => ({ at: iso(r.at_ms)!, by: r.by, tasks: r.tasks, items: r.items })),
    tasks: run.plan.tasks.map((t) => renderTask(prefix, run, states.get(t.key), t.key, jobs)),
    links: {
      self,
      events: `${self}/events`,
      results: `${self}/results`,
      cancel: `${self}/cancel`,
      repair: `${self}/repair`,
      jobs: `${prefix}api/v1/jobs?pipeline_run_id=${encodeURIComponent(run.id)}`,
    },
  };
}

/** Whether the run and every job of it ended (a run's status may end before a cancelled job has stopped). */
export function runSettled(run: PipelineRun, jobs: readonly Job[]): boolean {
  return ['succeeded', 'failed', 'cancelled'].includes(run.status) && jobs.every((j) => isTerminal(j.status));
}

/**
 * One row per task item (for_each) or task, read as the advance reads them (pipelines/items.ts): the
 * item's deciding job of its current (re)run, with its parameters, state, result and duration. An item
 * without a job in a task that ended shows the task's state (skipped, upstream_failed, cancelled); a
 * for_each task whose items were never known gets one row.
 */
export function resultRows(run: PipelineRun, jobs: readonly Job[]): ResultRowT[] {
  const rows: ResultRowT[] = [];
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const view = {
    plan: run.plan,
    tasks: Object.fromEntries(run.tasks.map((t) => [t.key, t])),
    jobs: jobs.filter((j) => j.task_key !== null) as unknown as RunJobView[],
  };
  const all = new RunJobs(view.jobs);
  for (const task of run.plan.tasks) {
    const state = view.tasks[task.key];
    const items = taskItems(view, task.key, all);
    const ended = state !== undefined && TERMINAL_TASK_STATUSES.includes(state.status);
    if (items.length === 0) items.push({ index: null, item: null, status: 'pending', job: null, jobs: [] });
    for (const it of items) {
      const job = it.job ? byId.get(it.job.id) : undefined;
      rows.push({
        task: task.key,
        item_index: it.index,
        item: it.item as ResultRowT['item'],
        parameters: (job?.parameters ?? {}) as ResultRowT['parameters'],
        status: job ? it.status : ended ? state.status : it.status,
        job_id: job?.id ?? null,
        attempt: job?.attempt ?? null,
        result: (job?.result ?? null) as ResultRowT['result'],
        duration_s: job && job.started_at_ms !== null && job.finished_at_ms !== null ? (job.finished_at_ms - job.started_at_ms) / 1000 : null,
        error: job?.error ? `${job.error.ename}: ${job.error.evalue}` : job ? null : (state?.error ?? null),
      });
    }
  }
  return rows;
}

/** A cell's text: strings as they are, numbers as Python writes them (1.0, exact big integers), lists and objects as JSON. */
function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (v instanceof PyFloat) return v.repr();
  if (typeof v === 'object') return toJsonText(v);
  return String(v);
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The rows as CSV (RFC 4180): task, item_index, status, job_id, attempt, duration_s, then one column per
 * item key (`item.NAME`, or `item` for items that are not objects), parameter (`param.NAME`) and result
 * (`result.NAME`) found in any row, in order of first appearance; then error.
 */
export function resultsCsv(rows: readonly ResultRowT[]): string {
  const itemKeys: string[] = [];
  const paramKeys: string[] = [];
  const resultKeys: string[] = [];
  let plainItem = false;
  const add = (list: string[], keys: string[]) => {
    for (const k of keys) if (!list.includes(k)) list.push(k);
  };
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof PyFloat);
  for (const r of rows) {
    if (isObj(r.item)) add(itemKeys, Object.keys(r.item));
    else if (r.item !== null && r.item !== undefined) plainItem = true;
    add(paramKeys, Object.keys(r.parameters as Parameters));
    if (r.result) add(resultKeys, Object.keys(r.result));
  }
  const header = [
    'task', 'item_index', 'status', 'job_id', 'attempt', 'duration_s',
    ...(plainItem ? ['item'] : []),
    ...itemKeys.map((k) => `item.${k}`),
    ...paramKeys.map((k) => `param.${k}`),
    ...resultKeys.map((k) => `result.${k}`),
    'error',
  ];
  const lines = [header.map(csvField).join(',')];
  for (const r of rows) {
    const item = r.item as unknown;
    const cells: unknown[] = [
      r.task, r.item_index, r.status, r.job_id, r.attempt, r.duration_s,
      ...(plainItem ? [isObj(item) ? null : item] : []),
      ...itemKeys.map((k) => (isObj(item) ? item[k] : null)),
      ...paramKeys.map((k) => (r.parameters as Record<string, unknown>)[k]),
      ...resultKeys.map((k) => (r.result as Record<string, unknown> | null)?.[k]),
      r.error,
    ];
    lines.push(cells.map((c) => csvField(cellText(c))).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
