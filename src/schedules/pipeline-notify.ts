/**
 * Webhook notifications of pipeline runs: each node that runs jobs takes the
 * runs that ended (PipelineStore.takeEndedRuns hands each end to one caller,
 * on any node) and, for a pipeline whose `notify.on` holds the run's status
 * (default: failed), sends one webhook through the schedules' WebhookNotifier:
 * the same signature (HMAC-SHA256 of the body under the pipeline's secret, made
 * at save), address checks, retries and backoff.
 */
import type { Pipeline } from '../pipelines/types.js';
import type { PipelineRun, PipelineStore } from '../store/pipeline-store.js';
import type { Delivery } from './webhook.js';

export type PipelineRunEnd = 'failed' | 'succeeded' | 'cancelled';

export interface PipelineNotifyOptions {
  store: PipelineStore;
  /** The schedules' notifier (its `send` queues one delivery with retries). */
  notifier: { send(d: Delivery): void };
  /** The service prefix of links, e.g. `/` or `/services/hubmill/`. */
  prefix: string;
  /** Ended runs taken per pass (default 50). */
  batch?: number;
}

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

/** Whether a pipeline wants the webhook of this run's end; the delivery if so. */
export function deliveryFor(run: PipelineRun, pipeline: Pipeline | null, prefix: string): Delivery | null {
  const notify = pipeline?.notify;
  if (!pipeline || !notify || !notify.secret) return null;
  const on: readonly string[] = notify.on ?? ['failed'];
  if (!on.includes(run.status)) return null;
  const body = pipelineRunBody(run, pipeline, prefix);
  return { url: notify.webhook_url, secret: notify.secret, event: body.event as string, body };
}

/**
 * One pass: takes the ended runs and queues their webhooks; returns how many were queued.
 * A run taken is not handed out again, so a failure here (an unknown pipeline) drops only its webhook.
 */
export async function notifyEndedRuns(o: PipelineNotifyOptions): Promise<number> {
  if (!o.store.takeEndedRuns) return 0;
  const batch = o.batch ?? 50;
  let sent = 0;
  for (;;) {
    const runs = await o.store.takeEndedRuns(batch);
    const pipelines = new Map<string, Pipeline | null>();
    for (const run of runs) {
      if (!pipelines.has(run.pipeline_id)) pipelines.set(run.pipeline_id, await o.store.getPipeline(run.pipeline_id));
      const d = deliveryFor(run, pipelines.get(run.pipeline_id)!, o.prefix);
      if (!d) continue;
      o.notifier.send(d);
      sent++;
    }
    if (runs.length < batch) return sent;
  }
}
