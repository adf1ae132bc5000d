/**
 * What the pipelines routes share: the store, the save-time check, the webhook
 * rule and the run watch, and the checks of a pipeline and its runs (the rule is
 * access.ts's: owners, admins and grantees by level; anyone else gets 404).
 */
import type { FastifyRequest } from 'fastify';
import { NotFoundError } from '../errors.js';
import type { Pipeline } from '../pipelines/types.js';
import type { PipelineIntake } from '../runner/pipeline-intake.js';
import type { WebhookAllowList } from '../schedules/webhook-address.js';
import type { PipelineRun, PipelineStore } from '../store/pipeline-store.js';
import type { Level } from '../store/sharing-store.js';
import type { Access } from './access.js';
import type { RunWatch } from './pipeline-run-watch.js';

export interface PipelineDeps {
  store: PipelineStore;
  access: Access;
  intake: PipelineIntake;
  webhookAllow: WebhookAllowList;
  watch: RunWatch;
}

/** The pipeline, if the caller has at least `need` on it (access.ts: 404 without a grant, 403 below `need`). */
export async function visiblePipeline(deps: PipelineDeps, req: FastifyRequest, id: string, need: Level = 'view'): Promise<Pipeline> {
  const p = await deps.store.getPipeline(id);
  if (!p) throw new NotFoundError(`pipeline '${id}' not found`);
  await deps.access.check(req, 'pipeline', p.id, p.owner, need, `pipeline '${id}'`);
  return p;
}

/**
 * A run of that pipeline the caller has at least `need` on, through the pipeline's grants (a deleted pipeline's
 * grants go with it: its runs stay visible to its owner and admins).
 */
export async function visibleRun(deps: PipelineDeps, req: FastifyRequest, pipelineId: string, runId: string, need: Level = 'view'): Promise<PipelineRun> {
  const run = await deps.store.getRun(runId);
  const what = `run '${runId}' of pipeline '${pipelineId}'`;
  if (!run || run.pipeline_id !== pipelineId) throw new NotFoundError(`${what} not found`);
  await deps.access.check(req, 'pipeline', run.pipeline_id, run.owner, need, what);
  return run;
}
