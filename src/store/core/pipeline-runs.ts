/**
 * Pipeline runs advancing in the store, written once for both databases (as
 * steps, core/steps.ts, that each backend drives inside its own transaction):
 * load what the pure advance (pipelines/advance.ts) needs of a run, call it,
 * apply its actions, and start the next queued runs of a pipeline when a run
 * ends. The job stores run `afterJobsEnded` in the transaction that records a
 * pipeline job's end; the pipeline stores run the rest.
 *
 * Nodes take turns per run: the run's row is locked first (PostgreSQL: FOR
 * UPDATE; SQLite: the write lock), and the starts of queued runs lock their
 * pipeline's row. The unique indexes jobs_task_attempt and jobs_task_active
 * stand behind that: a job inserted twice is inserted once (ON CONFLICT DO
 * NOTHING).
 */
import { NotFoundError } from '../../errors.js';
import type { Parameters } from '../../notebook/notebook-types.js';
import { decodeParameters } from '../../notebook/parameters-json.js';
import { advance, newTaskState, sameState } from '../../pipelines/advance.js';
import { planRepair } from '../../pipelines/repair.js';
import type { AdvanceAction, PipelinePlan, PlannedTask, RepairEntry, RunJobView, RunView, TaskState } from '../../pipelines/types.js';
import { isTerminal, type JobTarget, type NewJob } from '../job-store.js';
import { RunConflictError, type NewPipelineRun, type PipelineRun, type RepairRequest } from '../pipeline-store.js';
import { newJobId } from '../job-id.js';
import type { JobRow } from './job-row.js';
import { JobSql } from './job-sql.js';
import { SqlArgs, type Sql, type SqlDialect } from './dialect.js';
import { firstOf, rowsOf, type Steps } from './steps.js';
import { OutboxSql, outboxTargets } from './outbox-sql.js';
import {
  decodePlan,
  isRunTerminal,
  rowToPipeline,
  newRunId,
  PipelineSql,
  rowToRun,
  rowToRunJob,
  rowToTask,
  type PipelineRow,
  type RunJobRow,
  type RunRow,
  type TaskRow,
} from './pipeline-sql.js';

/** What a transaction did to pipelines, for its driver: jobs queued (to wake runners) and runs changed. */
export interface RunEffects {
  queued: number;
  changed: number;
}

export const noEffects = (): RunEffects => ({ queued: 0, changed: 0 });

/** A run's view with what the store keeps beside it: its jobs by id, and whether each one's cancel was asked. */
type LiveView = Omit<RunView, 'jobs'> & { jobs: (RunJobView & { cancel_requested: boolean })[] };

/** The advance is idempotent; a further round only runs when the last one changed something (a queued job cancelled). */
const MAX_ROUNDS = 4;
/** Decoded plans kept per run (a plan never changes once the run exists). */
const PLAN_CACHE = 64;

/** The pipeline's defaults, then the run's own (a name in both keeps its place, with the run's value). */
export function mergeRunParameters(defaults: Parameters, own: Parameters): Parameters {
  const out: Parameters = {};
  for (const src of [defaults, own]) {
    for (const k of Object.keys(src)) Object.defineProperty(out, k, { value: src[k], enumerable: true, writable: true, configurable: true });
  }
  return out;
}

export class PipelineRuns {
  readonly sql: PipelineSql;
  private readonly jobs: JobSql;
  private readonly outbox: OutboxSql;
  private readonly plans = new Map<string, { plan: PipelinePlan; tasks: Map<string, { task: PlannedTask; position: number }> }>();

  constructor(readonly d: SqlDialect) {
    this.sql = new PipelineSql(d);
    this.jobs = new JobSql(d);
    this.outbox = new OutboxSql(d);
  }

  /** In the transaction that ends a run: the outbox rows of its pipeline's `notify` (default on: failed). */
  private *notifyEnd(pipelineId: string, runId: string, status: string, now: number): Steps<void> {
    const p = yield* firstOf<PipelineRow>(this.sql.pipeline(pipelineId));
    const notify = p ? rowToPipeline(p).notify : null;
    const targets = outboxTargets(notify, status, ['failed'], Boolean(notify?.secret));
    for (const q of this.outbox.inserts({ kind: 'pipeline', subjectId: pipelineId, refId: runId, event: status }, targets, now)) yield q;
  }

  private planOf(row: RunRow): { plan: PipelinePlan; tasks: Map<string, { task: PlannedTask; position: number }> } {
    let p = this.plans.get(row.id);
    if (!p) {
      const plan = decodePlan(row.plan);
      p = { plan, tasks: new Map(plan.tasks.map((task, position) => [task.key, { task, position }])) };
      if (this.plans.size >= PLAN_CACHE) this.plans.delete(this.plans.keys().next().value!);
      this.plans.set(row.id, p);
    }
    return p;
  }

  /** In the transaction that changed these jobs (ended, cancelled, re-queued): advance the runs of the pipeline jobs among them. */
  *afterJobsEnded(rows: readonly Pick<JobRow, 'pipeline_run_id'>[], now: number, fx: RunEffects): Steps<void> {
    const runs = [...new Set(rows.map((r) => r.pipeline_run_id).filter((id): id is string => id != null))].sort();
    for (const id of runs) yield* this.advance(id, now, fx);
  }

  /**
   * A pipeline job's end (or cancel) on PostgreSQL, after the one-statement path (which leaves pipeline jobs
   * out) changed nothing: the run locked first (as every advance locks it before its jobs), then `change`
   * (the job's finish or cancel statement, RETURNING *), then the advance. Undefined: no such job, not a
   * pipeline job, or `change` refused.
   */
  *changePipelineJob(jobId: string, change: Sql, now: number, fx: RunEffects): Steps<JobRow | undefined> {
    const run = yield* firstOf<RunRow>(this.sql.runOfJob(jobId));
    if (!run) return undefined;
    const r = yield* firstOf<JobRow>(change);
    if (r) yield* this.advance(run.id, now, fx, run);
    return r;
  }

  /**
   * Advances one running run (locked first; with 'skip', not when another transaction holds it; `locked`: the
   * caller locked it, this is its row). True when something changed.
   */
  *advance(runId: string, now: number, fx: RunEffects, lock: 'wait' | 'skip' | RunRow = 'wait'): Steps<boolean> {
    const row = typeof lock === 'object' ? lock : yield* firstOf<RunRow>(this.sql.run(runId, lock));
    if (!row || row.status !== 'running') return false;
    const view = yield* this.view(row);
    let changed = false;
    for (let round = 0; round < MAX_ROUNDS && view.status === 'running'; round++) {
      if (!(yield* this.apply(row, view, advance(view, now), now, fx))) break;
      changed = true;
    }
    if (now > row.advanced_at_ms) yield this.sql.markAdvanced(runId, now);
    if (changed) fx.changed++;
    if (isRunTerminal(view.status)) yield* this.startQueued(row.pipeline_id, now, fx);
    return changed;
  }

  private *view(row: RunRow): Steps<LiveView> {
    const tasks: Record<string, TaskState> = Object.create(null) as Record<string, TaskState>;
    for (const t of yield* rowsOf<TaskRow>(this.sql.tasksOf([row.id]))) tasks[t.task_key] = rowToTask(t);
    const jobs = (yield* rowsOf<RunJobRow>(this.sql.jobsOfRun(row.id))).map(rowToRunJob);
    return {
      id: row.id,
      pipeline_id: row.pipeline_id,
      status: row.status,
      parameters: decodeParameters(row.parameters),
      scheduled_for_ms: row.scheduled_for_ms,
      created_at_ms: row.created_at_ms,
      started_at_ms: row.started_at_ms,
      cancel_requested: row.cancel_requested === true || row.cancel_requested === 1,
      plan: this.planOf(row).plan,
      tasks,
      jobs,
    };
  }

  /** Applies the advance's actions in order, keeping `view` as the database now is; true when something changed. */
  private *apply(row: RunRow, view: LiveView, actions: AdvanceAction[], now: number, fx: RunEffects): Steps<boolean> {
    const { tasks } = this.planOf(row);
    const byId = new Map(view.jobs.map((j) => [j.id, j]));
    let changed = false;
    for (const a of actions) {
      switch (a.kind) {
        case 'start_job': {
          const task = tasks.get(a.task_key)?.task;
          if (!task) throw new Error(`the advance started unknown task '${a.task_key}' of run ${row.id}`);
          const args = new SqlArgs(this.d);
          // ON CONFLICT DO NOTHING: the task item already has this attempt, or a job queued or running.
          const text = `${this.jobs.insert(args, this.taskJob(row, task, a), newJobId(now), now, true)} RETURNING *`;
          const r = yield* firstOf<JobRow>({ text, args: args.values });
          if (!r) break;
          const j = rowToRunJob(r as unknown as RunJobRow);
          view.jobs.push(j);
          byId.set(j.id, j);
          fx.queued++;
          changed = true;
          break;
        }
        case 'set_task': {
          const cur = view.tasks[a.state.key];
          if (cur && sameState(cur, a.state)) break;
          yield this.sql.upsertTask(row.id, tasks.get(a.state.key)?.position ?? tasks.size, a.state);
          view.tasks[a.state.key] = a.state;
          changed = true;
          break;
        }
        case 'cancel_job': {
          const j = byId.get(a.job_id);
          if (!j || isTerminal(j.status) || j.cancel_requested) break;
          // The JobStore's cancel: a queued job ends at once, a running one is flagged for its runner.
          const r = yield* firstOf<JobRow>(this.jobs.cancel(a.job_id, now));
          if (!r) break;
          Object.assign(j, { status: r.status, finished_at_ms: r.finished_at_ms, cancel_requested: true });
          if (isTerminal(r.status)) changed = true;
          break;
        }
        case 'set_run': {
          if (view.status === a.status) break;
          yield this.sql.setRunStatus(row.id, a.status, a.finished_at_ms, now);
          if (isRunTerminal(a.status)) yield* this.notifyEnd(row.pipeline_id, row.id, a.status, now);
          view.status = a.status;
          changed = true;
          break;
        }
      }
    }
    return changed;
  }

  /** The job of one task item: the run owner's, on the task's notebook, kernel and limits; never refused by the quota (it waits). */
  private taskJob(row: RunRow, task: PlannedTask, a: Extract<AdvanceAction, { kind: 'start_job' }>): NewJob {
    return {
      username: row.owner,
      notebook: task.notebook,
      parameters: a.parameters,
      kernel: task.kernel,
      kernel_language: task.kernel_language,
      timeout_s: task.timeout_s ?? null,
      cell_timeout_s: task.cell_timeout_s ?? null,
      submitted_by: row.submitted_by,
      source: 'pipeline',
      target: row.job_target,
      attempt: a.attempt,
      pipeline_id: row.pipeline_id,
      pipeline_run_id: row.id,
      task_key: a.task_key,
      item_index: a.item_index,
      item: a.item,
      not_before_ms: a.not_before_ms,
      secrets: task.secret_refs ?? task.secrets?.map((name) => ({ name })) ?? null,
    };
  }

  /** Starts the oldest queued runs of the pipeline while fewer than its max_concurrent_runs run (the pipeline's row locked). */
  *startQueued(pipelineId: string, now: number, fx: RunEffects): Steps<void> {
    const p = yield* firstOf<PipelineRow>(this.sql.pipeline(pipelineId, true));
    const max = Math.max(1, p?.max_concurrent_runs ?? 1);
    const running = (yield* firstOf<{ n: number }>(this.sql.runningCount(pipelineId)))?.n ?? 0;
    if (running >= max) return;
    for (const q of yield* rowsOf<{ id: string }>(this.sql.queuedRuns(pipelineId, max - running))) {
      // A run started (and ended) by an advance below may have started this one already.
      if (!(yield* firstOf(this.sql.startRun(q.id, now)))) continue;
      fx.changed++;
      yield* this.advance(q.id, now, fx);
    }
  }

  /** Creates a run (queued), its pending task states, and starts it when the pipeline has room; returns its id. */
  *createRun(r: NewPipelineRun, jobTarget: JobTarget, now: number, fx: RunEffects): Steps<string> {
    const p = yield* firstOf<PipelineRow>(this.sql.pipeline(r.pipeline_id, true));
    if (!p) throw new NotFoundError(`pipeline ${r.pipeline_id} not found`);
    const scheduleId = r.schedule_id ?? null;
    const scheduledFor = r.scheduled_for_ms ?? null;
    if (scheduleId !== null && scheduledFor !== null) {
      // One run per fire time: a fire carried out again (another node, a retry) finds its run.
      const existing = yield* firstOf<RunRow>(this.sql.runOfFire(scheduleId, scheduledFor));
      if (existing) return existing.id;
    }
    const plan = decodePlan(p.plan);
    const id = newRunId(now);
    yield this.sql.insertRun(
      {
        id,
        pipeline_id: p.id,
        owner: p.owner,
        parameters: mergeRunParameters(plan.parameters ?? {}, r.parameters ?? {}),
        plan: p.plan,
        job_target: jobTarget,
        schedule_id: scheduleId,
        scheduled_for_ms: scheduledFor,
        submitted_by: r.submitted_by,
      },
      now,
    );
    for (const q of this.sql.insertTasks(id, plan.tasks.map((t) => newTaskState(t.key)))) yield q;
    fx.changed++;
    yield* this.startQueued(p.id, now, fx);
    return id;
  }

  /** Cancels a run: a queued one at once; a running one stops its jobs and ends once they have. False: no such run. */
  *cancelRun(id: string, now: number, fx: RunEffects): Steps<boolean> {
    const row = yield* firstOf<RunRow>(this.sql.run(id, 'wait'));
    if (!row) return false;
    if (row.status === 'queued') {
      for (const q of this.sql.cancelQueuedRun(id, now)) yield q;
      yield* this.notifyEnd(row.pipeline_id, id, 'cancelled', now);
      fx.changed++;
    } else if (row.status === 'running') {
      if (!(row.cancel_requested === true || row.cancel_requested === 1)) yield this.sql.requestRunCancel(id, now);
      fx.changed++;
      yield* this.advance(id, now, fx);
    }
    return true;
  }

  /**
   * Re-runs a finished run in place: pipelines/repair.ts chooses the task states to reset, the entry is appended
   * to `repairs`, and the run is queued again (it starts at once when its pipeline has room). False: no such run.
   */
  *repairRun(id: string, req: RepairRequest, now: number, fx: RunEffects): Steps<boolean> {
    const row = yield* firstOf<RunRow>(this.sql.run(id, 'wait'));
    if (!row) return false;
    if (!isRunTerminal(row.status)) throw new RunConflictError(id, row.status);
    const view = yield* this.view(row);
    const choice = planRepair(view, { tasks: req.tasks, items: req.items });
    if (choice.tasks.length === 0) return true;
    const { tasks } = this.planOf(row);
    for (const t of choice.tasks) yield this.sql.upsertTask(id, tasks.get(t.key)?.position ?? tasks.size, t);
    const entry: RepairEntry = { at_ms: now, by: req.by, tasks: choice.tasks_rerun, items: choice.items_rerun };
    yield this.sql.reopenRun(id, [...(JSON.parse(row.repairs) as RepairEntry[]), entry], now);
    fx.changed++;
    yield* this.startQueued(row.pipeline_id, now, fx);
    return true;
  }

  /** Cancels the queued runs of a pipeline being deleted (they would never start). */
  *cancelQueuedRuns(pipelineId: string, now: number, fx: RunEffects): Steps<void> {
    for (const r of yield* rowsOf<{ id: string }>(this.sql.queuedRunIds(pipelineId))) {
      for (const q of this.sql.cancelQueuedRun(r.id, now)) yield q;
      fx.changed++;
    }
  }

  /** Runs with their task states, in the order given. */
  *loadRuns(rows: readonly RunRow[]): Steps<PipelineRun[]> {
    if (rows.length === 0) return [];
    const byRun = new Map<string, TaskState[]>(rows.map((r) => [r.id, []]));
    for (const t of yield* rowsOf<TaskRow>(this.sql.tasksOf(rows.map((r) => r.id)))) byRun.get(t.run_id)?.push(rowToTask(t));
    // Each caller gets its own plan (the cached one is the advance's).
    return rows.map((r) => rowToRun(r, byRun.get(r.id)!));
  }

  *loadRun(id: string): Steps<PipelineRun | null> {
    const row = yield* firstOf<RunRow>(this.sql.run(id));
    return row ? (yield* this.loadRuns([row]))[0]! : null;
  }
}
