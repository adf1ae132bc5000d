/**
 * The state machine of a pipeline run, as a pure function: given what the store
 * knows of a run (its tasks' states and every job of it) and the time, the
 * actions that carry it on. The store calls it in the transaction that records a
 * job's end (and at run start, cancel, repair and its periodic sweep) and
 * applies the actions in order in that same transaction.
 *
 * It is idempotent: applying its actions and calling it again yields no
 * start_job, no cancel_job and no changed set_task. That rests on two facts: a
 * task goes `running` in the same batch as its first start_job, and an item
 * whose current attempt has a job is never started again (see attempts.ts).
 *
 * Tasks are visited in the plan's topological order, so a skip or an
 * upstream_failed runs down the whole graph in one call.
 */
import type { ParameterValue, Parameters } from '../notebook/notebook-types.js';
import { encodeJsonValue } from '../notebook/parameters-json.js';
import { HubmillError } from '../errors.js';
import { attemptBase, itemOutcome, retryDelayMs, RunJobs, type ItemOutcome } from './attempts.js';
import { forEachItems } from './grid.js';
import { resolveParameters, resolveValue, scheduledForIso, type RefScope } from './refs.js';
import { TERMINAL_TASK_STATUSES, type AdvanceAction, type PipelineRunStatus, type PlannedTask, type RunIf, type RunView, type TaskState, type TaskStatus } from './types.js';

const FAILED_UPSTREAM: readonly TaskStatus[] = ['failed', 'timed_out', 'upstream_failed', 'cancelled'];

/** A task's state before anything happened to it. */
export function newTaskState(key: string): TaskState {
  return { key, status: 'pending', items: null, items_total: null, items_done: 0, error: null, result: null, started_at_ms: null, finished_at_ms: null };
}

export function isTerminalTask(status: TaskStatus): boolean {
  return TERMINAL_TASK_STATUSES.includes(status);
}

/**
 * What a task does once all its upstream tasks are terminal: run, or end
 * `skipped` / `upstream_failed` without a job. A task without upstream runs,
 * except `any_failed` (nothing failed): skipped.
 */
export function runIfDecision(runIf: RunIf, upstream: readonly TaskStatus[]): 'run' | 'skipped' | 'upstream_failed' {
  switch (runIf) {
    case 'all_done':
      return 'run';
    case 'any_failed':
      return upstream.some((s) => FAILED_UPSTREAM.includes(s)) ? 'run' : 'skipped';
    case 'none_failed':
      return upstream.every((s) => s === 'succeeded' || s === 'skipped') ? 'run' : 'upstream_failed';
    case 'all_succeeded': {
      const notSucceeded = upstream.filter((s) => s !== 'succeeded');
      if (notSucceeded.length === 0) return 'run';
      return notSucceeded.every((s) => s === 'skipped') ? 'skipped' : 'upstream_failed';
    }
  }
}

/**
 * The run's end once every task is terminal, from its leaf tasks (those no task
 * depends on): `failed` when a leaf failed, timed out or was upstream_failed;
 * else `cancelled` when a leaf's job was cancelled; else `succeeded`.
 */
export function runOutcome(plan: RunView['plan'], statuses: ReadonlyMap<string, TaskStatus>): PipelineRunStatus {
  const upstreamOfSome = new Set(plan.tasks.flatMap((t) => t.depends_on));
  const leaves = plan.tasks.filter((t) => !upstreamOfSome.has(t.key)).map((t) => statuses.get(t.key));
  if (leaves.some((s) => s === 'failed' || s === 'timed_out' || s === 'upstream_failed')) return 'failed';
  if (leaves.some((s) => s === 'cancelled')) return 'cancelled';
  return 'succeeded';
}

export function advance(view: RunView, nowMs: number): AdvanceAction[] {
  if (view.status === 'succeeded' || view.status === 'failed' || view.status === 'cancelled') return [];
  if (view.status === 'queued' && !view.cancel_requested) return [];
  const ctx = new Advance(view, nowMs);
  return ctx.run();
}

class Advance {
  private readonly actions: AdvanceAction[] = [];
  private readonly jobs: RunJobs;
  private readonly states = new Map<string, TaskState>();
  private readonly runParameters: Parameters;
  private readonly cancelling: boolean;

  constructor(
    private readonly view: RunView,
    private readonly now: number,
  ) {
    this.jobs = new RunJobs(view.jobs);
    this.runParameters = mergeParameters(view.plan.parameters, view.parameters);
    this.cancelling = view.cancel_requested;
  }

  run(): AdvanceAction[] {
    for (const task of this.view.plan.tasks) {
      const before = this.view.tasks[task.key] ?? newTaskState(task.key);
      const after = isTerminalTask(before.status) ? before : this.step(task, before);
      this.states.set(task.key, after);
      if (!sameState(before, after)) this.actions.push({ kind: 'set_task', state: after });
    }
    this.finishRun();
    return this.actions;
  }

  private step(task: PlannedTask, st: TaskState): TaskState {
    if (this.view.status === 'queued') return this.end(st, 'cancelled', null);
    if (st.status === 'pending') {
      if (this.cancelling) return this.end(st, 'cancelled', null);
      const upstream = task.depends_on.map((k) => this.states.get(k)?.status ?? 'pending');
      if (upstream.some((s) => !isTerminalTask(s))) return st;
      const decision = runIfDecision(task.run_if, upstream);
      if (decision !== 'run') return this.end(st, decision, null);
      const started = this.begin(task, st);
      if (started.status !== 'running') return started;
      st = started;
    }
    return this.proceed(task, st);
  }

  /** pending → running: the for_each's items fixed, every item's references checked (a missing one fails the task, no job). */
  private begin(task: PlannedTask, st: TaskState): TaskState {
    try {
      let items = st.items;
      if (task.for_each && items === null) items = forEachItems(task.for_each, (v) => resolveValue(v, this.scope(null)));
      for (const item of task.for_each ? (items ?? []) : [null]) this.parametersFor(task, task.for_each ? { value: item } : null);
      return {
        ...st,
        status: 'running',
        items: task.for_each ? items : null,
        items_total: task.for_each ? (items ?? []).length : null,
        error: null,
        started_at_ms: this.now,
        finished_at_ms: null,
      };
    } catch (e) {
      if (e instanceof HubmillError) return this.end(st, 'failed', e.message);
      throw e;
    }
  }

  /** A running task: start what may start (retries, unstarted items under the concurrency), or end it when every item has. */
  private proceed(task: PlannedTask, st: TaskState): TaskState {
    const indexes: (number | null)[] = task.for_each ? (st.items ?? []).map((_, i) => i) : [null];
    const outcomes = indexes.map((i) => itemOutcome(this.jobs.of(task.key, i), attemptBase(st, i), task.max_retries));
    const done = outcomes.filter((o) => o.kind === 'done').length;
    const waiting = indexes.filter((_, n) => outcomes[n]!.kind === 'unstarted' || outcomes[n]!.kind === 'retry');
    const active = outcomes.filter((o) => o.kind === 'active') as Extract<ItemOutcome, { kind: 'active' }>[];

    if (this.cancelling) {
      if (active.length === 0 && waiting.length === 0) return this.finish(task, st, outcomes);
      for (const o of active) this.actions.push({ kind: 'cancel_job', job_id: o.job.id });
      return this.end({ ...st, items_done: done }, 'cancelled', null);
    }
    if (active.length === 0 && waiting.length === 0) return this.finish(task, st, outcomes);

    const limit = task.for_each ? Math.max(1, task.for_each.concurrency ?? this.view.plan.default_concurrency) : 1;
    const starts: AdvanceAction[] = [];
    for (const index of waiting.slice(0, Math.max(0, limit - active.length))) {
      const o = outcomes[index ?? 0] as Extract<ItemOutcome, { kind: 'unstarted' | 'retry' }>;
      const item = index === null ? null : { value: st.items![index] as ParameterValue };
      let parameters: Parameters;
      try {
        parameters = this.parametersFor(task, item);
      } catch (e) {
        // Checked when the task began, and its upstream cannot change while it runs: only a damaged state gets here.
        // Never throw into the store's transaction: the task fails once nothing of it is running.
        if (!(e instanceof HubmillError)) throw e;
        if (active.length === 0 && starts.length === 0) return this.end({ ...st, items_done: done }, 'failed', e.message);
        continue;
      }
      const delay = o.kind === 'retry' ? retryDelayMs(task.retry_backoff_s, o.retry) : 0;
      starts.push({
        kind: 'start_job',
        task_key: task.key,
        item_index: index,
        item: item ? item.value : null,
        attempt: o.next_attempt,
        parameters,
        not_before_ms: delay > 0 ? this.now + delay : null,
      });
    }
    this.actions.push(...starts);
    return { ...st, status: 'running', items_done: done };
  }

  /** Every item is final: the task ends with its items' outcome and, when it succeeded, its result. */
  private finish(task: PlannedTask, st: TaskState, outcomes: ItemOutcome[]): TaskState {
    const final = outcomes as Extract<ItemOutcome, { kind: 'done' }>[];
    const items_done = final.length;
    if (!task.for_each) {
      const o = final[0]!;
      const result = o.status === 'succeeded' ? (o.job.result ?? {}) : null;
      return { ...this.end({ ...st, items_done }, o.status, null), result };
    }
    const bad = final.map((o, i) => ({ i, status: o.status })).filter((o) => o.status !== 'succeeded');
    if (bad.length === 0) return { ...this.end({ ...st, items_done }, 'succeeded', null), result: forEachResult(final.map((o) => o.job.result ?? {})) };
    const status = (['failed', 'timed_out', 'cancelled'] as const).find((s) => bad.some((b) => b.status === s))!;
    const named = bad.slice(0, 10).map((b) => `${b.i} (${b.status})`).join(', ');
    const error = `${bad.length} of ${final.length} items did not succeed: ${named}${bad.length > 10 ? ', …' : ''}`;
    return this.end({ ...st, items_done }, status, error);
  }

  private end(st: TaskState, status: TaskStatus, error: string | null): TaskState {
    return { ...st, status, error, result: null, finished_at_ms: this.now };
  }

  /**
   * A job's parameters: the run's parameters its notebook declares (pushed down),
   * then a grid item's keys, then the task's own (references resolved); each later
   * source overrides the earlier ones.
   */
  private parametersFor(task: PlannedTask, item: { value: ParameterValue } | null): Parameters {
    const own = task.parameters ? resolveParameters(task.parameters, this.scope(item)) : {};
    const out: Parameters = {};
    const put = (k: string, v: ParameterValue): void => {
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    };
    for (const name of task.declared_parameters) {
      if (Object.hasOwn(this.runParameters, name) && !Object.hasOwn(own, name)) put(name, this.runParameters[name] as ParameterValue);
    }
    if (task.for_each?.grid !== undefined && item && isObject(item.value)) {
      for (const [k, v] of Object.entries(item.value)) if (!Object.hasOwn(own, k)) put(k, v);
    }
    for (const [k, v] of Object.entries(own)) put(k, v);
    return out;
  }

  private scope(item: { value: ParameterValue } | null): RefScope {
    return {
      parameters: this.runParameters,
      result: (k) => this.states.get(k)?.result ?? null,
      item,
      runId: this.view.id,
      scheduledFor: scheduledForIso(this.view),
    };
  }

  private finishRun(): void {
    const statuses = new Map([...this.states].map(([k, s]) => [k, s.status]));
    if (this.cancelling) {
      // A queued job is cancelled at once by its cancel_job; a running one ends later, and its end advances the run again.
      if (!this.view.jobs.some((j) => j.status === 'running')) this.actions.push({ kind: 'set_run', status: 'cancelled', finished_at_ms: this.now });
      return;
    }
    if ([...statuses.values()].every(isTerminalTask)) {
      this.actions.push({ kind: 'set_run', status: runOutcome(this.view.plan, statuses), finished_at_ms: this.now });
    }
  }
}

/**
 * A for_each task's result downstream: for each name every item recorded, the
 * list of its items' values in item order. A name some item lacks is left out, so
 * a reference to it fails as missing instead of reading a hole.
 */
export function forEachResult(results: readonly Record<string, ParameterValue>[]): Record<string, ParameterValue> {
  const out: Record<string, ParameterValue> = {};
  if (results.length === 0) return out;
  for (const name of Object.keys(results[0]!)) {
    if (!results.every((r) => Object.hasOwn(r, name))) continue;
    Object.defineProperty(out, name, { value: results.map((r) => r[name] as ParameterValue), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function mergeParameters(defaults: Parameters, own: Parameters): Parameters {
  const out: Parameters = {};
  for (const src of [defaults, own]) {
    for (const [k, v] of Object.entries(src)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function isObject(v: ParameterValue): v is { [key: string]: ParameterValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

const FIELDS = ['key', 'status', 'items_total', 'items_done', 'error', 'started_at_ms', 'finished_at_ms'] as const;

/** Two task states alike (values compared exactly: a PyFloat 1.0 is not the int 1). */
export function sameState(a: TaskState, b: TaskState): boolean {
  if (a === b) return true;
  if (FIELDS.some((f) => a[f] !== b[f])) return false;
  return sameValue(a.items, b.items) && sameValue(a.result, b.result) && sameValue(a.attempt_base ?? null, b.attempt_base ?? null);
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || encodeJsonValue(a) === encodeJsonValue(b);
}
