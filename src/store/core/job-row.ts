/**
 * A row of the `jobs` table as both stores read it (SQLite and PostgreSQL have
 * the same columns; SQLite gives 0/1 for booleans and NULL in columns added by
 * later migrations), and the one mapping from a row to a Job.
 */
import type { RunError } from '../../engine/run-types.js';
import { decodeJsonValue, decodeParameters } from '../../notebook/parameters-json.js';
import type { ParameterValue } from '../../notebook/notebook-types.js';
import type { Job, JobProgress, JobStatus, JobTarget } from '../job-store.js';

export interface JobRow {
  id: string;
  status: JobStatus;
  username: string;
  notebook: string;
  parameters: string;
  kernel: string | null;
  kernel_language?: string | null;
  timeout_s: number | null;
  cell_timeout_s: number | null;
  idempotency_key: string | null;
  submitted_by: string;
  source: string;
  created_at_ms: number;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  updated_at_ms: number;
  output_path: string | null;
  progress: string;
  error: string | null;
  result: string | null;
  cancel_requested: number | boolean;
  worker_id: string | null;
  attempts: number;
  target: JobTarget | null;
  server_name?: string | null;
  schedule_id: string | null;
  scheduled_for_ms: number | null;
  attempt: number | null;
  pipeline_id?: string | null;
  pipeline_run_id?: string | null;
  task_key?: string | null;
  item_index?: number | null;
  item?: string | null;
  not_before_ms?: number | null;
  secrets?: string | null;
}

export function rowToJob(r: JobRow): Job {
  return {
    id: r.id,
    status: r.status,
    username: r.username,
    notebook: r.notebook,
    parameters: decodeParameters(r.parameters),
    kernel: r.kernel,
    kernel_language: r.kernel_language ?? null,
    timeout_s: r.timeout_s,
    cell_timeout_s: r.cell_timeout_s,
    idempotency_key: r.idempotency_key,
    submitted_by: r.submitted_by,
    created_at_ms: r.created_at_ms,
    started_at_ms: r.started_at_ms,
    finished_at_ms: r.finished_at_ms,
    output_path: r.output_path,
    progress: decodeJsonValue<JobProgress>(r.progress),
    error: r.error === null ? null : decodeJsonValue<RunError>(r.error),
    result: r.result === null ? null : decodeJsonValue<Record<string, unknown>>(r.result),
    cancel_requested: r.cancel_requested === true || r.cancel_requested === 1,
    source: r.source,
    worker_id: r.worker_id,
    attempts: r.attempts,
    target: r.target ?? 'local',
    server_name: r.server_name ?? null,
    schedule_id: r.schedule_id ?? null,
    scheduled_for_ms: r.scheduled_for_ms ?? null,
    attempt: r.attempt ?? 1,
    pipeline_id: r.pipeline_id ?? null,
    pipeline_run_id: r.pipeline_run_id ?? null,
    task_key: r.task_key ?? null,
    item_index: r.item_index ?? null,
    item: r.item === null || r.item === undefined ? null : decodeJsonValue<ParameterValue>(r.item),
    not_before_ms: r.not_before_ms ?? null,
    secrets: r.secrets ? (JSON.parse(r.secrets) as Job['secrets']) : [],
  };
}
