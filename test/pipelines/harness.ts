/**
 * A tiny in-memory applier of the advance's actions, as a store would apply
 * them, and builders of plans and runs. `step` advances, applies, and checks
 * that advancing again changes nothing (the advance's idempotency) on every call.
 */
import assert from 'node:assert/strict';
import type { ParameterValue } from '../../src/notebook/notebook-types.js';
import { advance } from '../../src/pipelines/advance.js';
import type { AdvanceAction, PlannedTask, RunJobView, RunView } from '../../src/pipelines/types.js';

export const T0 = Date.parse('2026-12-05T12:00:00Z');

export function task(key: string, over: Partial<PlannedTask> = {}): PlannedTask {
  return {
    key,
    notebook: `${key}.ipynb`,
    parameters: {},
    depends_on: [],
    run_if: 'all_succeeded',
    kernel: 'python3',
    kernel_language: 'python',
    timeout_s: null,
    cell_timeout_s: null,
    max_retries: 0,
    retry_backoff_s: 60,
    declared_parameters: [],
    ...over,
  };
}

export function run(tasks: PlannedTask[], over: Partial<RunView> = {}): RunView {
  return {
    id: 'run-1',
    pipeline_id: 'pl-1',
    status: 'running',
    parameters: {},
    scheduled_for_ms: null,
    created_at_ms: T0,
    started_at_ms: T0,
    cancel_requested: false,
    plan: { parameters: {}, tasks, default_concurrency: 4 },
    tasks: {},
    jobs: [],
    ...over,
  };
}

export type StartJob = Extract<AdvanceAction, { kind: 'start_job' }>;

export interface Sim {
  view: RunView;
  now: number;
  /** Every start_job ever applied, in order. */
  started: (StartJob & { id: string })[];
  /** Job ids whose cancel was requested while running. */
  cancelRequested: Set<string>;
  /** The most that were queued or running at once, per task. */
  maxActive: Map<string, number>;
}

export function sim(view: RunView): Sim {
  return { view, now: T0, started: [], cancelRequested: new Set(), maxActive: new Map() };
}

export function apply(s: Sim, actions: AdvanceAction[]): void {
  for (const a of actions) {
    switch (a.kind) {
      case 'start_job': {
        const id = `j${s.started.length + 1}`;
        s.started.push({ ...a, id });
        s.view.jobs.push({ id, task_key: a.task_key, item_index: a.item_index, status: 'queued', attempt: a.attempt, result: null, finished_at_ms: null });
        break;
      }
      case 'set_task':
        s.view.tasks[a.state.key] = a.state;
        break;
      case 'cancel_job': {
        const j = job(s, a.job_id);
        if (j.status === 'queued') j.status = 'cancelled';
        else s.cancelRequested.add(j.id);
        break;
      }
      case 'set_run':
        s.view.status = a.status;
        break;
    }
  }
  const active = new Map<string, number>();
  for (const j of s.view.jobs) if (j.status === 'queued' || j.status === 'running') active.set(j.task_key, (active.get(j.task_key) ?? 0) + 1);
  for (const [k, n] of active) s.maxActive.set(k, Math.max(n, s.maxActive.get(k) ?? 0));
}

/** Advance at `s.now`, apply, and check a second advance changes nothing. Returns the first call's actions. */
export function step(s: Sim): AdvanceAction[] {
  const actions = advance(s.view, s.now);
  apply(s, actions);
  const again = advance(s.view, s.now);
  assert.deepEqual(again, [], `advancing twice changed something: ${JSON.stringify(again.map((a) => a.kind))}`);
  return actions;
}

export function job(s: Sim, id: string): RunJobView {
  const j = s.view.jobs.find((x) => x.id === id);
  assert.ok(j, `no job ${id}`);
  return j;
}

/** The newest job of a task item. */
export function jobOf(s: Sim, key: string, item: number | null = null): RunJobView {
  const js = s.view.jobs.filter((j) => j.task_key === key && j.item_index === item).sort((a, b) => b.attempt - a.attempt);
  assert.ok(js[0], `no job for ${key}[${item}]`);
  return js[0];
}

/** A job ends (running first, as a runner would), then the run advances as the store's transaction does. */
export function end(s: Sim, j: RunJobView, status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled', result: Record<string, ParameterValue> | null = null): AdvanceAction[] {
  j.status = status;
  j.result = status === 'succeeded' ? (result ?? {}) : null;
  j.finished_at_ms = s.now;
  return step(s);
}

export function active(s: Sim, key?: string): RunJobView[] {
  return s.view.jobs.filter((j) => (j.status === 'queued' || j.status === 'running') && (key === undefined || j.task_key === key));
}

export function statuses(s: Sim): Record<string, string> {
  return Object.fromEntries(s.view.plan.tasks.map((t) => [t.key, s.view.tasks[t.key]?.status ?? 'pending']));
}

export function starts(actions: AdvanceAction[]): StartJob[] {
  return actions.filter((a): a is StartJob => a.kind === 'start_job');
}
