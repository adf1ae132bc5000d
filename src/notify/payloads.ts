/**
 * What an outbox row sends, built when it is delivered from what the store
 * keeps of the run that ended: a schedule job's webhook body (the job and the
 * schedule, as the API renders them) or a pipeline run's (pipeline-notify.ts),
 * and the mail of either (mail-message.ts). The signing key is the schedule's
 * or pipeline's; a schedule or pipeline deleted meanwhile leaves nothing to send.
 */
import { renderJob } from '../http/render.js';
import { renderSchedule } from '../http/routes/schedules.js';
import { pipelineRunBody } from '../schedules/pipeline-notify.js';
import type { Job, JobStore } from '../store/job-store.js';
import type { OutboxDelivery } from '../store/outbox-store.js';
import type { PipelineStore } from '../store/pipeline-store.js';
import type { ScheduleStore } from '../store/schedule-store.js';
import type { RunSummary } from './mail-message.js';

export interface Payload {
  /** The webhook: its body, event header and HMAC key. */
  webhook: { body: unknown; event: string; secret: string | null };
  mail: RunSummary;
}

export interface PayloadSources {
  jobs: JobStore;
  schedules: ScheduleStore;
  pipelines: PipelineStore;
  /** The service prefix of API links (`/`, `/services/hubmill/`). */
  prefix: string;
  /** The UI's absolute address, ending in `/` (links in mail). */
  uiBase: string;
}

/** Thrown when what a delivery describes is gone: retrying cannot help. */
export class PayloadGoneError extends Error {}

const failureOf = (job: Job | null | undefined, where: string): RunSummary['failure'] =>
  job?.error
    ? { where: job.error.cell_index === null ? where : `${where}cell ${job.error.cell_index}`, ename: job.error.ename, evalue: job.error.evalue, traceback: job.error.traceback ?? [] }
    : null;

export async function buildPayload(d: OutboxDelivery, src: PayloadSources): Promise<Payload> {
  return d.subject_kind === 'schedule' ? scheduleJobPayload(d, src) : pipelineRunPayload(d, src);
}

async function scheduleJobPayload(d: OutboxDelivery, src: PayloadSources): Promise<Payload> {
  const [schedule, job] = await Promise.all([src.schedules.get(d.subject_id), src.jobs.get(d.ref_id)]);
  if (!schedule) throw new PayloadGoneError(`schedule ${d.subject_id} was deleted`);
  if (!job) throw new PayloadGoneError(`job ${d.ref_id} was deleted`);
  return {
    webhook: { event: d.event, secret: schedule.webhook_secret, body: { event: d.event, job: renderJob(job, src.prefix), schedule: renderSchedule(schedule, src.prefix) } },
    mail: {
      kind: 'Schedule',
      name: schedule.name,
      event: d.event,
      status: job.status,
      startedAtMs: job.started_at_ms,
      finishedAtMs: job.finished_at_ms,
      failure: failureOf(job, `${job.notebook}, `),
      results: job.result,
      link: `${src.uiBase}#/job/${encodeURIComponent(job.id)}`,
    },
  };
}

async function pipelineRunPayload(d: OutboxDelivery, src: PayloadSources): Promise<Payload> {
  const [pipeline, run] = await Promise.all([src.pipelines.getPipeline(d.subject_id), src.pipelines.getRun(d.ref_id)]);
  if (!pipeline) throw new PayloadGoneError(`pipeline ${d.subject_id} was deleted`);
  if (!run) throw new PayloadGoneError(`pipeline run ${d.ref_id} was deleted`);
  const body = pipelineRunBody(run, pipeline, src.prefix);
  let failure: RunSummary['failure'] = null;
  const failedTask = run.tasks.find((t) => t.status === 'failed' || t.status === 'timed_out');
  if (failedTask) {
    const jobs = (await src.jobs.list({ pipeline_run_id: run.id, limit: 200 })).jobs;
    const job = jobs.find((j) => j.task_key === failedTask.key && j.error);
    failure = failureOf(job, `task ${failedTask.key}, `) ?? { where: `task ${failedTask.key}`, ename: failedTask.status, evalue: failedTask.error ?? '', traceback: [] };
  }
  const results: Record<string, unknown> = {};
  for (const t of run.tasks) for (const [k, v] of Object.entries(t.result ?? {})) results[`${t.key}.${k}`] = v;
  return {
    webhook: { event: body.event as string, secret: pipeline.notify?.secret ?? null, body },
    mail: {
      kind: 'Pipeline',
      name: pipeline.name,
      event: d.event,
      status: run.status,
      startedAtMs: run.started_at_ms,
      finishedAtMs: run.finished_at_ms,
      failure,
      results: Object.keys(results).length ? results : null,
      link: `${src.uiBase}#/pipelines/${encodeURIComponent(pipeline.id)}/runs/${encodeURIComponent(run.id)}`,
    },
  };
}
