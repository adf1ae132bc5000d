/**
 * Pipelines: notebooks in a graph, run as ordinary jobs. This file is the
 * contract between the pure core (this folder: checking, references, grids,
 * the advance state machine), the stores (which apply the advance's actions in
 * the transaction that records a job's end) and the HTTP layer. It imports only
 * from below (job states, notebook values), so the stores may import it.
 */
import type { JobStatus } from '../job-states.js';
import type { ParameterValue, Parameters } from '../notebook/notebook-types.js';

/** When a task runs, given its upstream tasks' ends (default all_succeeded). */
export const RUN_IF = ['all_succeeded', 'all_done', 'any_failed', 'none_failed'] as const;
export type RunIf = (typeof RUN_IF)[number];

export const TASK_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'upstream_failed', 'skipped'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled', 'timed_out', 'upstream_failed', 'skipped'];

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type PipelineRunStatus = (typeof RUN_STATUSES)[number];

/** At most this many items in one for_each (literal lists over it are refused at save time). */
export const MAX_FOR_EACH_ITEMS = 1024;
/** At most this many tasks in one pipeline. */
export const MAX_TASKS = 1000;
export const TASK_KEY_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

export interface ForEachSpec {
  /** A literal list, or one reference (`"{{tasks.x.result.y}}"`, `"{{parameters.p}}"`) resolved when the task becomes ready. */
  items?: ParameterValue[] | string;
  /** Cartesian product, itertools.product order (the first key varies slowest); each item is an object. */
  grid?: Record<string, ParameterValue[]>;
  /** Items running at once; default: the service's concurrency. */
  concurrency?: number;
}

export interface TaskSpec {
  key: string;
  /** Relative to the owner's home (the jobs API's rules). */
  notebook: string;
  /** Values may be or contain references: {{parameters.X}}, {{tasks.K.result.N}}, {{item}}, {{item.N}}, {{run.id}}, {{run.scheduled_for}}. */
  parameters?: Parameters;
  depends_on?: string[];
  run_if?: RunIf;
  for_each?: ForEachSpec;
  kernel?: string | null;
  timeout_s?: number | null;
  cell_timeout_s?: number | null;
  max_retries?: number;
  retry_backoff_s?: number;
  /** Secrets its jobs get as environment variables (names of secrets the owner may read). */
  secrets?: string[];
}

export interface PipelineNotify {
  /** A signed webhook. */
  webhook_url?: string;
  /** E-mail addresses (HUBMILL_SMTP_URL). */
  email?: string[];
  on?: ('failed' | 'succeeded' | 'cancelled')[];
  /** The HMAC key of the signatures: made at save (never sent by users), shown once in the answer that made it. */
  secret?: string;
}

/** What a user sends (POST /api/v1/pipelines, a pipeline file of the CLI). */
export interface PipelineSpec {
  name: string;
  parameters?: Parameters;
  tasks: TaskSpec[];
  max_concurrent_runs?: number;
  notify?: PipelineNotify | null;
}

/**
 * A task as checked at save time: what the run needs without reading the notebook again
 * (the kernel resolved once, the parameter names its notebook declares, for push-down).
 */
export interface PlannedTask extends TaskSpec {
  depends_on: string[];
  run_if: RunIf;
  max_retries: number;
  retry_backoff_s: number;
  /** The resolved kernel name and language (as the producer resolves them for a job). */
  kernel: string | null;
  kernel_language: string | null;
  /** Names declared in the notebook's parameters cell: pipeline parameters are pushed down only into these (a grid's keys are passed whatever the notebook declares, as the task asked for them). */
  declared_parameters: string[];
  /** `secrets`, each with the scope the check resolved it in (the store's SecretRef); absent = none. */
  secret_refs?: { name: string; scope?: string }[];
}

/** The checked pipeline: stored with the pipeline at save, copied into each run at its start. */
export interface PipelinePlan {
  parameters: Parameters;
  /** Topological order (a task after all its depends_on). */
  tasks: PlannedTask[];
  /** The for_each concurrency when a task sets none (the service's concurrency at run start). */
  default_concurrency: number;
}

export interface Pipeline extends PipelineSpec {
  id: string;
  owner: string;
  created_by: string;
  plan: PipelinePlan;
  created_at_ms: number;
  updated_at_ms: number;
}

/** One problem of a pipeline, as the 422 and `hubmill pipeline validate` name it. */
export interface PipelineProblem {
  /** The task's key; null for the pipeline as a whole. */
  task: string | null;
  /** A JSON path into the body, e.g. `tasks[2].depends_on[0]` (the YAML editor maps it to a line). */
  path: string;
  message: string;
}

export interface RepairEntry {
  at_ms: number;
  by: string;
  tasks: string[];
  items: Record<string, number[]>;
}

/** A task's state in one run (persisted per run and task). */
export interface TaskState {
  key: string;
  status: TaskStatus;
  /** for_each only: the resolved item list, fixed when the task became ready; null otherwise or before. */
  items: ParameterValue[] | null;
  items_total: number | null;
  items_done: number;
  /** Why the task failed without a job of its own (a missing reference, too many items...). */
  error: string | null;
  /** The task's result as seen downstream: its job's result, or for for_each the list of item values per name. */
  result: Record<string, ParameterValue> | null;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  /**
   * Set by a repair (pipelines/repair.ts): per item index (`"null"` for a task
   * without for_each), the first attempt of the current (re)run. That item's
   * older jobs are history: they decide nothing and keep their results. An item
   * missing here (or the whole field absent) counts every attempt from 1.
   */
  attempt_base?: Record<string, number>;
}

/** What the advance sees of one job of the run. */
export interface RunJobView {
  id: string;
  task_key: string;
  item_index: number | null;
  status: JobStatus;
  attempt: number;
  result: Record<string, ParameterValue> | null;
  finished_at_ms: number | null;
}

export interface RunView {
  id: string;
  pipeline_id: string;
  status: PipelineRunStatus;
  parameters: Parameters;
  scheduled_for_ms: number | null;
  created_at_ms: number;
  started_at_ms: number | null;
  cancel_requested: boolean;
  plan: PipelinePlan;
  tasks: Record<string, TaskState>;
  /** Every job of the run, every attempt. */
  jobs: RunJobView[];
}

/**
 * What the store does, in order, in the transaction that called the advance. Applying
 * them and advancing again yields no further start_job: the advance is idempotent.
 */
export type AdvanceAction =
  | {
      kind: 'start_job';
      task_key: string;
      item_index: number | null;
      item: ParameterValue | null;
      /** 1 for the first job of this task item, then +1 per retry and per repair. */
      attempt: number;
      /** Fully resolved: references replaced, pipeline parameters pushed down. */
      parameters: Parameters;
      /** A retry's backoff: not to be claimed before this time (null: at once). */
      not_before_ms: number | null;
    }
  | { kind: 'set_task'; state: TaskState }
  /** A queued job is cancelled at once (queued → cancelled); a running one is asked to stop, and its end advances the run again. */
  | { kind: 'cancel_job'; job_id: string }
  | { kind: 'set_run'; status: PipelineRunStatus; finished_at_ms: number | null };
