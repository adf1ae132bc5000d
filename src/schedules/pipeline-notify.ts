/**
 * The webhook body of a pipeline run's end. The run's end writes its outbox rows
 * (core/pipeline-runs.ts) for a pipeline whose `notify.on` holds the run's status
 * (default: failed); notify/outbox-deliverer.ts sends them with the schedules'
 * signature (HMAC-SHA256 of the body under the pipeline's secret, made at save),
 * address checks, retries and backoff.
 */
import type { Pipeline } from '../pipelines/types.js';
import type { PipelineRun } from '../store/pipeline-store.js';

export type PipelineRunEnd = 'failed' | 'succeeded' | 'cancelled';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The webhook body of a run's end. */
export function pipelineRunBody(run: PipelineRun, pipeline: Pipeline, prefix: string): Record<string, unknown> {
  const pipelineLink = `${prefix}api/v1/pipelines/${encodeURIComponent(pipeline.id)}`;
  const event = `pipeline_run.${run.status}`;
  return {
    event,
    pipeline: { id: pipeline.id, name: pipeline.name, owner: pipeline.owner },
    run: {
      id: run.id,
      status: run.status,
      submitted_by: run.submitted_by,
      schedule_id: run.schedule_id,
      created_at: iso(run.created_at_ms),
      started_at: iso(run.started_at_ms),
      finished_at: iso(run.finished_at_ms),
      tasks: run.tasks.map((t) => ({
        key: t.key,
        status: t.status,
        error: t.error,
        started_at: iso(t.started_at_ms),
        finished_at: iso(t.finished_at_ms),
      })),
      link: `${pipelineLink}/runs/${encodeURIComponent(run.id)}`,
    },
  };
}
