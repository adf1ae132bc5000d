/**
 * Renders store records for the API: epoch milliseconds become ISO 8601 UTC
 * strings, links carry the service prefix.
 */
import type { Job } from '../store/job-store.js';
import type { JobViewT } from './schemas.js';

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Naive local time with seconds, as the seed's Python `datetime.now().isoformat()` examples show. */
export function seedTimestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `YYYYMMDD_HHMMSS` in local time, as the seed named its output notebooks. */
export function fileTimestamp(d = new Date()): string {
  return seedTimestamp(d).replace(/-/g, '').replace('T', '_').replace(/:/g, '');
}

export function renderJob(job: Job, prefix: string): JobViewT {
  const self = `${prefix}api/v1/jobs/${encodeURIComponent(job.id)}`;
  return {
    id: job.id,
    status: job.status,
    username: job.username,
    notebook: job.notebook,
    parameters: job.parameters,
    kernel: job.kernel,
    timeout_s: job.timeout_s,
    cell_timeout_s: job.cell_timeout_s,
    idempotency_key: job.idempotency_key,
    submitted_by: job.submitted_by,
    // The one who pressed the button (a shared schedule's run now, a grantee's start): recorded as submitted_by.
    triggered_by: job.submitted_by,
    source: job.source,
    created_at: iso(job.created_at_ms)!,
    started_at: iso(job.started_at_ms),
    finished_at: iso(job.finished_at_ms),
    duration_s: job.started_at_ms !== null && job.finished_at_ms !== null ? (job.finished_at_ms - job.started_at_ms) / 1000 : null,
    output_path: job.output_path,
    progress: { cells_total: job.progress.cells_total, cells_done: job.progress.cells_done },
    error: job.error,
    result: job.result,
    cancel_requested: job.cancel_requested,
    attempts: job.attempts,
    target: job.target,
    server_name: job.server_name,
    schedule_id: job.schedule_id,
    scheduled_for: iso(job.scheduled_for_ms),
    attempt: job.attempt,
    pipeline_id: job.pipeline_id ?? null,
    pipeline_run_id: job.pipeline_run_id ?? null,
    task_key: job.task_key ?? null,
    item_index: job.item_index ?? null,
    item: job.item ?? null,
    secrets: (job.secrets ?? []).map((r) => r.name),
    links: { self, output: `${self}/output`, events: `${self}/events`, cancel: `${self}/cancel` },
  };
}
