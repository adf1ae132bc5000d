/**
 * What the pipelines routes share: the store, the save-time check, the webhook
 * rule and the run watch, and the one authorization rule of the API (owners and
 * admins see a pipeline and its runs; anyone else gets 404, so ids leak nothing).
 */
import type { FastifyRequest } from 'fastify';
import { NotFoundError } from '../errors.js';
import type { Pipeline } from '../pipelines/types.js';
import type { PipelineIntake } from '../runner/pipeline-intake.js';
import type { WebhookAllowList } from '../schedules/webhook-address.js';
import type { PipelineRun, PipelineStore } from '../store/pipeline-store.js';
import { canActFor } from './auth.js';
import type { RunWatch } from './pipeline-run-watch.js';

export interface PipelineDeps {
  store: PipelineStore;
  intake: PipelineIntake;
  webhookAllow: WebhookAllowList;
  watch: RunWatch;
}

export async function visiblePipeline(deps: PipelineDeps, req: FastifyRequest, id: string): Promise<Pipeline> {
  const p = await deps.store.getPipeline(id);
  if (!p || !canActFor(req.identity, p.owner)) throw new NotFoundError(`pipeline '${id}' not found`);
  return p;
}

/** A run of that pipeline the caller may see (a deleted pipeline's runs stay visible to its owner). */
export async function visibleRun(deps: PipelineDeps, req: FastifyRequest, pipelineId: string, runId: string): Promise<PipelineRun> {
  const run = await deps.store.getRun(runId);
  if (!run || run.pipeline_id !== pipelineId || !canActFor(req.identity, run.owner)) throw new NotFoundError(`run '${runId}' of pipeline '${pipelineId}' not found`);
  return run;
}
