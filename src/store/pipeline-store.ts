/**
 * The pipeline store: pipelines, their runs and the runs' task states. Both
 * stores implement it next to their JobStore, on the same database, because a
 * run advances in the transaction that records one of its jobs' end
 * (JobStore.markFinished, recoverInterrupted, requestCancel): the store calls
 * the pure `advance` (pipelines/advance.ts) there and applies its actions.
 * Any node may advance a run, and advancing twice changes nothing.
 */
import { HubmillError } from '../errors.js';
import type { Parameters } from '../notebook/notebook-types.js';
import type { Pipeline, PipelineRunStatus, PipelinePlan, PipelineSpec, RepairEntry, TaskState } from '../pipelines/types.js';

/** A repair asked of a run that is still queued or running. Raised by PipelineStore.repairRun; 409. */
import type { Visibility } from './sharing-store.js';

export class RunConflictError extends HubmillError {
  override readonly code = 'RUN_CONFLICT';
  override readonly httpStatus = 409;
  override readonly extra: Record<string, unknown>;
  constructor(runId: string, status: string) {
    super(`pipeline run ${runId} is ${status}: only a finished run can be repaired (cancel it first, or wait for its end)`);
    this.extra = { run_id: runId, status };
  }
}

export interface NewPipeline extends PipelineSpec {
  owner: string;
  created_by: string;
  /** Checked at save (runner/pipeline-intake.ts). */
  plan: PipelinePlan;
}

export interface PipelineRun {
  id: string;
  pipeline_id: string;
  owner: string;
  status: PipelineRunStatus;
  /** The pipeline's defaults merged with the run's own. */
  parameters: Parameters;
  /** The plan as it was when the run was created: repairs re-run with it, not with later edits. */
  plan: PipelinePlan;
  schedule_id: string | null;
  scheduled_for_ms: number | null;
  submitted_by: string;
  created_at_ms: number;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  cancel_requested: boolean;
  repairs: RepairEntry[];
  tasks: TaskState[];
}

export interface NewPipelineRun {
  pipeline_id: string;
  parameters: Parameters;
  submitted_by: string;
  schedule_id?: string | null;
  scheduled_for_ms?: number | null;
}

export interface RepairRequest {
  tasks?: string[];
  items?: Record<string, number[]>;
  by: string;
}

export interface PageQuery {
  cursor?: string;
  limit: number;
}

export interface PipelineStore {
  createPipeline(p: NewPipeline): Promise<Pipeline>;
  getPipeline(id: string): Promise<Pipeline | null>;
  listPipelines(q: PageQuery & { owner?: string; visible?: Visibility }): Promise<{ pipelines: Pipeline[]; next_cursor: string | null }>;
  /** Replaces the spec and plan (the route checked the merged spec); null when it does not exist. */
  updatePipeline(id: string, p: PipelineSpec & { plan: PipelinePlan }): Promise<Pipeline | null>;
  /** Deletes the pipeline; its runs and their jobs are kept. False when it did not exist. */
  deletePipeline(id: string): Promise<boolean>;

  /**
   * Creates a run: `running` with its first jobs queued (in the same transaction),
   * or `queued` when the pipeline already has max_concurrent_runs running.
   */
  createRun(r: NewPipelineRun): Promise<PipelineRun>;
  getRun(id: string): Promise<PipelineRun | null>;
  listRuns(pipelineId: string, q: PageQuery): Promise<{ runs: PipelineRun[]; next_cursor: string | null }>;
  /** Stops the running jobs, starts nothing new; the run ends `cancelled`. Null when unknown. */
  cancelRun(id: string): Promise<PipelineRun | null>;
  /** Re-runs a finished run in place (pipelines/repair.ts chooses what); RunConflictError (409) while it runs. */
  repairRun(id: string, req: RepairRequest): Promise<PipelineRun | null>;
  /**
   * Advances every unfinished run whose state may lag its jobs (after a crash, a
   * retry's backoff elapsed); idempotent, called by each node's scheduler tick.
   */
  advanceDue(nowMs: number): Promise<number>;
  /**
   * Ended runs whose end nobody has taken yet for its notification (the pipeline's `notify`), oldest end
   * first, at most `limit`; each end is taken once, by one caller on any node (a repaired run that ends
   * again is taken again). Both stores implement it.
   */
  takeEndedRuns?(limit: number): Promise<PipelineRun[]>;
}
