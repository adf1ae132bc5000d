/**
 * The pipeline statements and row codecs both pipeline stores share (the store
 * core; dialect differences are in core/dialect.ts): pipelines, their runs,
 * the runs' task states, and what the advance reads of a run's jobs. Every
 * JSON value (parameters, plans, items, results) is the exact encoding of job
 * parameters, so a PyFloat stays a float and a bigint keeps its digits.
 */
import { decodeJsonValue, decodeParameters, encodeJsonValue, encodeParameters } from '../../notebook/parameters-json.js';
import type { ParameterValue, Parameters } from '../../notebook/notebook-types.js';
import type { Pipeline, PipelineNotify, PipelinePlan, PipelineRunStatus, PipelineSpec, RepairEntry, RunJobView, TaskState, TaskStatus } from '../../pipelines/types.js';
import type { JobStatus, JobTarget } from '../job-store.js';
import type { NewPipeline, PageQuery, PipelineRun } from '../pipeline-store.js';
import { SqlArgs, type Sql, type SqlDialect } from './dialect.js';
import { ACTIVE_SQL } from './job-rules.js';
import type { Visibility } from '../sharing-store.js';
import { visibleCondition } from './sharing-sql.js';
import { newestFirstQuery } from './page.js';
import { timeOrderedId } from './ids.js';

export interface PipelineRow {
  id: string;
  owner: string;
  created_by: string;
  name: string;
  spec: string;
  plan: string;
  max_concurrent_runs: number;
  notify: string | null;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface RunRow {
  id: string;
  pipeline_id: string;
  owner: string;
  status: PipelineRunStatus;
  parameters: string;
  plan: string;
  job_target: JobTarget;
  schedule_id: string | null;
  scheduled_for_ms: number | null;
  submitted_by: string;
  created_at_ms: number;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  cancel_requested: number | boolean;
  repairs: string;
  advanced_at_ms: number;
  notified: number | boolean;
  updated_at_ms: number;
}

export interface TaskRow {
  run_id: string;
  task_key: string;
  position: number;
  status: TaskStatus;
  items: string | null;
  items_total: number | null;
  items_done: number;
  error: string | null;
  result: string | null;
  attempt_base: string | null;
  started_at_ms: number | null;
  finished_at_ms: number | null;
}

/** What the advance reads of a run's job, and whether a cancel is already asked of it. */
export interface RunJobRow {
  id: string;
  task_key: string;
  item_index: number | null;
  status: JobStatus;
  attempt: number;
  result: string | null;
  finished_at_ms: number | null;
  cancel_requested: number | boolean;
}

export const RUN_TERMINAL: readonly PipelineRunStatus[] = ['succeeded', 'failed', 'cancelled'];

export function isRunTerminal(s: PipelineRunStatus): boolean {
  return RUN_TERMINAL.includes(s);
}

const flag = (v: number | boolean): boolean => v === true || v === 1;

export function newPipelineId(nowMs: number): string {
  return timeOrderedId('pl', nowMs);
}

export function newRunId(nowMs: number): string {
  return timeOrderedId('plr', nowMs);
}

export function decodePlan(text: string): PipelinePlan {
  return decodeJsonValue<PipelinePlan>(text);
}

export function rowToPipeline(r: PipelineRow): Pipeline {
  const spec = decodeJsonValue<Pick<PipelineSpec, 'parameters' | 'tasks'>>(r.spec);
  return {
    id: r.id,
    owner: r.owner,
    created_by: r.created_by,
    name: r.name,
    parameters: spec.parameters ?? {},
    tasks: spec.tasks,
    max_concurrent_runs: r.max_concurrent_runs,
    notify: r.notify === null ? null : decodeJsonValue<PipelineNotify>(r.notify),
    plan: decodePlan(r.plan),
    created_at_ms: r.created_at_ms,
    updated_at_ms: r.updated_at_ms,
  };
}

/** The states of a run's tasks in plan order, from its rows. */
export function rowToTask(r: TaskRow): TaskState {
  const t: TaskState = {
    key: r.task_key,
    status: r.status,
    items: r.items === null ? null : decodeJsonValue<ParameterValue[]>(r.items),
    items_total: r.items_total,
    items_done: r.items_done,
    error: r.error,
    result: r.result === null ? null : decodeJsonValue<Record<string, ParameterValue>>(r.result),
    started_at_ms: r.started_at_ms,
    finished_at_ms: r.finished_at_ms,
  };
  if (r.attempt_base !== null) t.attempt_base = JSON.parse(r.attempt_base) as Record<string, number>;
  return t;
}

export function rowToRun(r: RunRow, tasks: TaskState[], plan: PipelinePlan = decodePlan(r.plan)): PipelineRun {
  return {
    id: r.id,
    pipeline_id: r.pipeline_id,
    owner: r.owner,
    status: r.status,
    parameters: decodeParameters(r.parameters),
    plan,
    schedule_id: r.schedule_id,
    scheduled_for_ms: r.scheduled_for_ms,
    submitted_by: r.submitted_by,
    created_at_ms: r.created_at_ms,
    started_at_ms: r.started_at_ms,
    finished_at_ms: r.finished_at_ms,
    cancel_requested: flag(r.cancel_requested),
    repairs: JSON.parse(r.repairs) as RepairEntry[],
    tasks,
  };
}

export function rowToRunJob(r: RunJobRow): RunJobView & { cancel_requested: boolean } {
  return {
    id: r.id,
    task_key: r.task_key,
    item_index: r.item_index,
    status: r.status,
    attempt: r.attempt,
    result: r.result === null ? null : decodeJsonValue<Record<string, ParameterValue>>(r.result),
    finished_at_ms: r.finished_at_ms,
    cancel_requested: flag(r.cancel_requested),
  };
}

const TASK_COLUMNS = [
  'run_id', 'task_key', 'position', 'status', 'items', 'items_total', 'items_done', 'error', 'result', 'attempt_base', 'started_at_ms', 'finished_at_ms',
] as const;

function taskValues(runId: string, position: number, t: TaskState): unknown[] {
  return [
    runId, t.key, position, t.status, t.items === null ? null : encodeJsonValue(t.items), t.items_total, t.items_done, t.error,
    t.result === null ? null : encodeJsonValue(t.result), t.attempt_base === undefined ? null : JSON.stringify(t.attempt_base), t.started_at_ms, t.finished_at_ms,
  ];
}

/** Rows per multi-row insert of task states (12 arguments each: within both databases' limits). */
const TASK_BATCH = 500;

export class PipelineSql {
  constructor(readonly d: SqlDialect) {}

  private args(): SqlArgs {
    return new SqlArgs(this.d);
  }

  insertPipeline(id: string, p: NewPipeline, now: number): Sql {
    const a = this.args();
    const vals = [
      id, p.owner, p.created_by, p.name, encodeJsonValue({ parameters: p.parameters ?? {}, tasks: p.tasks }), encodeJsonValue(p.plan),
      p.max_concurrent_runs ?? 1, p.notify ? encodeJsonValue(p.notify) : null, now, now,
    ];
    return {
      text: `INSERT INTO pipelines (id, owner, created_by, name, spec, plan, max_concurrent_runs, notify, created_at_ms, updated_at_ms)
             VALUES (${vals.map((v) => a.add(v)).join(', ')}) RETURNING *`,
      args: a.values,
    };
  }

  /** The pipeline; locked (PostgreSQL) with `lock`: run creation and the start of queued runs take turns per pipeline. */
  pipeline(id: string, lock = false): Sql {
    const a = this.args();
    return { text: `SELECT * FROM pipelines WHERE id = ${a.add(id)}${lock ? this.d.forUpdate : ''}`, args: a.values };
  }

  listPipelines(q: PageQuery & { owner?: string; visible?: Visibility }): Sql & { limit: number } {
    return newestFirstQuery(
      this.d,
      'pipelines',
      (a) => [...(q.owner !== undefined ? [`owner = ${a.add(q.owner)}`] : []), ...(q.visible ? [visibleCondition(this.d, 'pipelines', q.visible, a)] : [])],
      q.cursor,
      q.limit,
    );
  }

  updatePipeline(id: string, p: PipelineSpec & { plan: PipelinePlan }, now: number): Sql {
    const a = this.args();
    return {
      text: `UPDATE pipelines SET name = ${a.add(p.name)}, spec = ${a.add(encodeJsonValue({ parameters: p.parameters ?? {}, tasks: p.tasks }))},
               plan = ${a.add(encodeJsonValue(p.plan))}, max_concurrent_runs = ${a.add(p.max_concurrent_runs ?? 1)},
               notify = ${a.add(p.notify ? encodeJsonValue(p.notify) : null)}, updated_at_ms = ${a.add(now)}
             WHERE id = ${a.add(id)} RETURNING *`,
      args: a.values,
    };
  }

  deletePipeline(id: string): Sql {
    const a = this.args();
    return { text: `DELETE FROM pipelines WHERE id = ${a.add(id)} RETURNING id`, args: a.values };
  }

  insertRun(
    r: { id: string; pipeline_id: string; owner: string; parameters: Parameters; plan: string; job_target: JobTarget; schedule_id: string | null; scheduled_for_ms: number | null; submitted_by: string },
    now: number,
  ): Sql {
    const a = this.args();
    const vals = [r.id, r.pipeline_id, r.owner, 'queued', encodeParameters(r.parameters), r.plan, r.job_target, r.schedule_id, r.scheduled_for_ms, r.submitted_by, now, now];
    return {
      text: `INSERT INTO pipeline_runs (id, pipeline_id, owner, status, parameters, plan, job_target, schedule_id, scheduled_for_ms, submitted_by, created_at_ms, updated_at_ms)
             VALUES (${vals.map((v) => a.add(v)).join(', ')})`,
      args: a.values,
    };
  }

  /** A run; `lock` 'wait' locks its row (PostgreSQL), 'skip' too but gives nothing when another transaction holds it. */
  run(id: string, lock: 'none' | 'wait' | 'skip' = 'none'): Sql {
    const a = this.args();
    const suffix = lock === 'wait' ? this.d.forUpdate : lock === 'skip' ? this.d.skipLocked : '';
    return { text: `SELECT * FROM pipeline_runs WHERE id = ${a.add(id)}${suffix}`, args: a.values };
  }

  /** The run of a job (none outside pipelines), locked: a pipeline job's end locks its run before the job. */
  runOfJob(jobId: string): Sql {
    const a = this.args();
    return { text: `SELECT * FROM pipeline_runs WHERE id = (SELECT pipeline_run_id FROM jobs WHERE id = ${a.add(jobId)})${this.d.forUpdate}`, args: a.values };
  }

  /** The run of one fire time of a schedule (at most one: pipeline_runs_fire). */
  runOfFire(scheduleId: string, scheduledForMs: number): Sql {
    const a = this.args();
    return {
      text: `SELECT * FROM pipeline_runs WHERE schedule_id = ${a.add(scheduleId)} AND scheduled_for_ms = ${a.add(scheduledForMs)}`,
      args: a.values,
    };
  }

  listRuns(pipelineId: string, q: PageQuery): Sql & { limit: number } {
    return newestFirstQuery(this.d, 'pipeline_runs', (a) => [`pipeline_id = ${a.add(pipelineId)}`], q.cursor, q.limit);
  }

  runningCount(pipelineId: string): Sql {
    const a = this.args();
    return { text: `SELECT ${this.d.count} AS n FROM pipeline_runs WHERE status = 'running' AND pipeline_id = ${a.add(pipelineId)}`, args: a.values };
  }

  /** The oldest queued runs of the pipeline (at most `n`), locked. */
  queuedRuns(pipelineId: string, n: number): Sql {
    const a = this.args();
    return {
      text: `SELECT id FROM pipeline_runs WHERE status = 'queued' AND pipeline_id = ${a.add(pipelineId)}
             ORDER BY created_at_ms, id LIMIT ${a.add(n)}${this.d.forUpdate}`,
      args: a.values,
    };
  }

  /** A queued run starts (its first start is kept through repairs); no row: it was not queued. */
  startRun(id: string, now: number): Sql {
    const a = this.args();
    return {
      text: `UPDATE pipeline_runs SET status = 'running', started_at_ms = COALESCE(started_at_ms, ${a.add(now)}), updated_at_ms = ${a.add(now)}
             WHERE id = ${a.add(id)} AND status = 'queued' RETURNING id`,
      args: a.values,
    };
  }

  setRunStatus(id: string, status: PipelineRunStatus, finishedAtMs: number | null, now: number): Sql {
    const a = this.args();
    return {
      text: `UPDATE pipeline_runs SET status = ${a.add(status)}, finished_at_ms = ${a.add(finishedAtMs)}, updated_at_ms = ${a.add(now)} WHERE id = ${a.add(id)}`,
      args: a.values,
    };
  }

  requestRunCancel(id: string, now: number): Sql {
    const a = this.args();
    return { text: `UPDATE pipeline_runs SET cancel_requested = ${this.d.bool(true)}, updated_at_ms = ${a.add(now)} WHERE id = ${a.add(id)}`, args: a.values };
  }

  /** A queued run cancelled before it started: its tasks never ran. */
  cancelQueuedRun(id: string, now: number): Sql[] {
    const a = this.args();
    const b = this.args();
    return [
      {
        text: `UPDATE pipeline_runs SET status = 'cancelled', cancel_requested = ${this.d.bool(true)}, finished_at_ms = ${a.add(now)}, updated_at_ms = ${a.add(now)}
               WHERE id = ${a.add(id)} AND status = 'queued'`,
        args: a.values,
      },
      { text: `UPDATE pipeline_tasks SET status = 'cancelled', finished_at_ms = ${b.add(now)} WHERE run_id = ${b.add(id)} AND status = 'pending'`, args: b.values },
    ];
  }

  /** The queued runs of a pipeline (when it is deleted: they will never start). */
  queuedRunIds(pipelineId: string): Sql {
    const a = this.args();
    return { text: `SELECT id FROM pipeline_runs WHERE status = 'queued' AND pipeline_id = ${a.add(pipelineId)}${this.d.forUpdate}`, args: a.values };
  }

  markAdvanced(id: string, atMs: number): Sql {
    const a = this.args();
    return { text: `UPDATE pipeline_runs SET advanced_at_ms = ${a.add(atMs)} WHERE id = ${a.add(id)}`, args: a.values };
  }

  /** A finished run re-opened by a repair: queued again (it starts under max_concurrent_runs), its end to be notified again. */
  reopenRun(id: string, repairs: RepairEntry[], now: number): Sql {
    const a = this.args();
    return {
      text: `UPDATE pipeline_runs SET status = 'queued', finished_at_ms = NULL, cancel_requested = ${this.d.bool(false)}, notified = ${this.d.bool(false)},
               repairs = ${a.add(JSON.stringify(repairs))}, updated_at_ms = ${a.add(now)} WHERE id = ${a.add(id)}`,
      args: a.values,
    };
  }

  /** The inserts of a new run's task states (several statements for a large plan). */
  insertTasks(runId: string, states: TaskState[]): Sql[] {
    const out: Sql[] = [];
    for (let i = 0; i < states.length; i += TASK_BATCH) {
      const a = this.args();
      const rows = states.slice(i, i + TASK_BATCH).map((t, j) => `(${taskValues(runId, i + j, t).map((v) => a.add(v)).join(', ')})`);
      out.push({ text: `INSERT INTO pipeline_tasks (${TASK_COLUMNS.join(', ')}) VALUES ${rows.join(', ')}`, args: a.values });
    }
    return out;
  }

  upsertTask(runId: string, position: number, t: TaskState): Sql {
    const a = this.args();
    const vals = taskValues(runId, position, t).map((v) => a.add(v));
    const sets = TASK_COLUMNS.slice(3).map((c) => `${c} = excluded.${c}`);
    return {
      text: `INSERT INTO pipeline_tasks (${TASK_COLUMNS.join(', ')}) VALUES (${vals.join(', ')}) ON CONFLICT (run_id, task_key) DO UPDATE SET ${sets.join(', ')}`,
      args: a.values,
    };
  }

  /** The task states of some runs, each run's in plan order. */
  tasksOf(runIds: readonly string[]): Sql {
    const a = this.args();
    return { text: `SELECT * FROM pipeline_tasks WHERE ${this.d.oneOf('run_id', runIds, a)} ORDER BY run_id, position`, args: a.values };
  }

  /** Every job of a run, every attempt (jobs_pipeline_run). */
  jobsOfRun(runId: string): Sql {
    const a = this.args();
    return {
      text: `SELECT id, task_key, item_index, status, attempt, result, finished_at_ms, cancel_requested FROM jobs
             WHERE pipeline_run_id = ${a.add(runId)} ORDER BY created_at_ms, id`,
      args: a.values,
    };
  }

  /**
   * Running runs whose state may lag their jobs: a job that ended after the run's last advance (its end was
   * recorded without one), or no job queued or running (nothing would advance it again).
   */
  laggingRuns(limit: number): Sql {
    const a = this.args();
    return {
      text: `SELECT r.id FROM pipeline_runs r WHERE r.status = 'running' AND (
               EXISTS (SELECT 1 FROM jobs j WHERE j.pipeline_run_id = r.id AND j.finished_at_ms > r.advanced_at_ms)
               OR NOT EXISTS (SELECT 1 FROM jobs j WHERE j.pipeline_run_id = r.id AND j.status IN (${ACTIVE_SQL})))
             ORDER BY r.created_at_ms, r.id LIMIT ${a.add(limit)}`,
      args: a.values,
    };
  }

  /** Pipelines with queued runs (each may have room for one now). */
  pipelinesWithQueuedRuns(limit: number): Sql {
    const a = this.args();
    return { text: `SELECT DISTINCT pipeline_id FROM pipeline_runs WHERE status = 'queued' LIMIT ${a.add(limit)}`, args: a.values };
  }

  /** Whether a task retry's backoff ended in (sinceMs, nowMs]: its job may be claimed now. */
  retriesDue(sinceMs: number, nowMs: number): Sql {
    const a = this.args();
    return {
      text: `SELECT ${this.d.count} AS n FROM jobs WHERE not_before_ms IS NOT NULL AND status = 'queued' AND not_before_ms > ${a.add(sinceMs)} AND not_before_ms <= ${a.add(nowMs)}`,
      args: a.values,
    };
  }

  /** Ended runs whose end nobody took for notification yet, oldest end first: taken (marked) at once. */
  takeEnded(limit: number): Sql {
    const a = this.args();
    const pick = `SELECT id FROM pipeline_runs WHERE notified = ${this.d.bool(false)} AND finished_at_ms IS NOT NULL ORDER BY finished_at_ms, id LIMIT ${a.add(limit)}${this.d.skipLocked}`;
    return { text: `UPDATE pipeline_runs SET notified = ${this.d.bool(true)} WHERE id IN (${pick}) RETURNING *`, args: a.values };
  }
}
