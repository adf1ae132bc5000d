/**
 * The pipelines API: create (checked completely at save: 422 naming each task
 * and problem), list, get, change, delete; start a run (optionally waiting,
 * bounded like jobs), list runs, get one, cancel, repair. A run's live events
 * and results are in pipeline-runs.ts. Every task runs as an ordinary job, so
 * its output, events and cancel are the jobs API's.
 * Authorization is access.ts's: owners, admins and grantees by level (view, run,
 * manage); anyone else gets 404, a grantee below the level needed 403.
 */
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NotFoundError } from '../../errors.js';
import type { Parameters } from '../../notebook/notebook-types.js';
import type { Pipeline, PipelineNotify, PipelineSpec, TaskSpec } from '../../pipelines/types.js';
import { PipelineInvalidError } from '../../pipelines/pipeline-errors.js';
import { checkWebhookUrl } from '../../schedules/webhook-address.js';
import { isTerminal, type Job } from '../../store/job-store.js';
import { RunConflictError, type PipelineRun } from '../../store/pipeline-store.js';
import type { RouteContext } from '../context.js';
import { assertCanActFor, defaultUsername, ownerGroups } from '../auth.js';
import { SharedQuery } from '../access.js';
import { UnprocessableError } from '../http-errors.js';
import { losslessReply } from '../json-body.js';
import { visiblePipeline, visibleRun, type PipelineDeps } from '../pipeline-access.js';
import { renderPipeline, renderRun } from '../pipeline-render.js';
import { listRunJobs } from '../pipeline-run-watch.js';
import {
  CreatePipelineBody,
  PatchPipelineBody,
  PIPELINE_LOSSLESS,
  PipelineView,
  RepairBody,
  RunIdParams,
  RunView,
  StartRunBody,
  type PatchPipelineBodyT,
} from '../pipeline-schemas.js';
import { JobIdParams, problemAs, problems } from '../schemas.js';

const TokenQuery = Type.Object({ token: Type.Optional(Type.String()) });
const PageQuery = (max: number, dflt: number) =>
  Type.Object({
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
    limit: Type.Integer({ minimum: 1, maximum: max, default: dflt }),
    token: Type.Optional(Type.String()),
  });

/** The spec fields of a body, as stored (absent fields left out). */
function specOf(b: PatchPipelineBodyT): Partial<PipelineSpec> {
  const out: Partial<PipelineSpec> = {};
  if (b.name !== undefined) out.name = b.name;
  if (b.parameters !== undefined) out.parameters = b.parameters as Parameters;
  if (b.tasks !== undefined) out.tasks = b.tasks as TaskSpec[];
  if (b.max_concurrent_runs !== undefined) out.max_concurrent_runs = b.max_concurrent_runs;
  if (b.notify !== undefined) {
    out.notify =
      b.notify === null
        ? null
        : ({
            ...(b.notify.webhook_url ? { webhook_url: b.notify.webhook_url } : {}),
            ...(b.notify.email ? { email: b.notify.email } : {}),
            on: b.notify.on ?? ['failed'],
          } as PipelineNotify);
  }
  return out;
}

function specFields(p: Pipeline): PipelineSpec {
  return { name: p.name, parameters: p.parameters ?? {}, tasks: p.tasks, max_concurrent_runs: p.max_concurrent_runs ?? 1, notify: p.notify ?? null };
}

const pipelineRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext; pipelines: PipelineDeps }> = async (app, { ctx, pipelines }) => {
  const tags = ['pipelines'];
  const store = pipelines.store;
  app.addSchema(PipelineView);
  app.addSchema(RunView);

  async function view(run: PipelineRun) {
    return renderRun(run, await listRunJobs(ctx.store, run.id), ctx.prefix);
  }

  function checkNotify(spec: PipelineSpec): void {
    if (!spec.notify) return;
    if (!spec.notify.webhook_url && !spec.notify.email?.length) throw new PipelineInvalidError([{ task: null, path: 'notify', message: 'notify needs webhook_url or email' }]);
    if (!spec.notify.webhook_url) return;
    try {
      checkWebhookUrl(spec.notify.webhook_url, pipelines.webhookAllow);
    } catch (err) {
      throw new PipelineInvalidError([{ task: null, path: 'notify.webhook_url', message: (err as Error).message }]);
    }
  }

  /**
   * Gives the spec's webhook its signing secret: the one the pipeline had, else a new one (returned, to be shown
   * in this answer only, as a schedule's). Users never send it (the body schema has no such field).
   */
  function withSecret(spec: PipelineSpec, current: Pipeline | null): string | null {
    if (!spec.notify) return null;
    const kept = current?.notify?.secret;
    spec.notify = { ...spec.notify, secret: kept ?? randomBytes(32).toString('hex') };
    return kept ? null : spec.notify.secret!;
  }

  function shownOnce<T extends object>(view: T, secret: string | null): T {
    return secret ? { ...view, webhook_secret: secret } : view;
  }

  /** The full check of a spec for its owner: the webhook, then the graph and every task's notebook (runner/pipeline-intake.ts). */
  async function planned(spec: PipelineSpec, owner: string, by: string, groups: readonly string[] | undefined) {
    checkNotify(spec);
    return pipelines.intake.plan(spec, owner, by, groups);
  }

  const saveDescription =
    'The pipeline is checked completely (the graph: keys, depends_on, cycles, references, run_if, the limits on tasks and literal items; ' +
    "each task's notebook as the jobs API checks a job: path, existence, kernel, parameter names its language can take, timeouts). " +
    'Problems answer 422 with a message naming each task and problem and a `problems` list of {task, path, message}.';

  app.post(
    '/pipelines',
    {
      schema: {
        tags,
        summary: 'Create a pipeline',
        description: saveDescription,
        querystring: TokenQuery,
        body: CreatePipelineBody,
        response: { 201: Type.Ref('Pipeline'), ...problems(400, 401, 403, 415, 422) },
      },
      config: { losslessBody: PIPELINE_LOSSLESS },
      ...losslessReply,
    },
    async (req, reply) => {
      const owner = req.body.username ?? defaultUsername(req.identity);
      if (!owner) throw new UnprocessableError('username is required when authenticating with the service token');
      ctx.localHomes.homeFor(owner);
      assertCanActFor(req.identity, owner);
      const by = req.identity?.name ?? owner;
      const spec = { parameters: {}, max_concurrent_runs: 1, notify: null, ...specOf(req.body) } as PipelineSpec;
      const plan = await planned(spec, owner, by, ownerGroups(req.identity, owner));
      const secret = withSecret(spec, null);
      const p = await store.createPipeline({ ...spec, owner, created_by: by, plan });
      const view = shownOnce(renderPipeline(p, ctx.prefix), secret);
      return reply.code(201).header('location', view.links.self).send(view);
    },
  );

  app.get(
    '/pipelines',
    {
      schema: {
        tags,
        summary: "List pipelines, newest first: your own and those shared with you; admins see everyone's (filter with ?username=)",
        description: '`?shared=true` lists only the pipelines others shared with you (to your user or one of your hub groups).',
        querystring: Type.Composite([PageQuery(500, 50), Type.Object({ username: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })), shared: SharedQuery })]),
        response: { 200: Type.Object({ pipelines: Type.Array(Type.Ref('Pipeline')), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(400, 401, 403) },
      },
      ...losslessReply,
    },
    async (req) => {
      const filter = ctx.access.listing(req.identity, req.query.username, req.query.shared);
      if (!filter) return { pipelines: [], next_cursor: null };
      const page = await store.listPipelines({ ...filter, cursor: req.query.cursor, limit: req.query.limit });
      return { pipelines: page.pipelines.map((p) => renderPipeline(p, ctx.prefix)), next_cursor: page.next_cursor };
    },
  );

  const byId = { params: JobIdParams, querystring: TokenQuery };

  app.get(
    '/pipelines/:id',
    { schema: { tags, summary: 'One pipeline', ...byId, response: { 200: Type.Ref('Pipeline'), ...problems(401, 404) } }, ...losslessReply },
    async (req) => renderPipeline(await visiblePipeline(pipelines, req, req.params.id), ctx.prefix),
  );

  app.patch(
    '/pipelines/:id',
    {
      schema: {
        tags,
        summary: 'Change a pipeline; runs already started keep the plan they started with',
        description: `A change of tasks or parameters checks the merged pipeline again, as at creation. ${saveDescription}`,
        ...byId,
        body: PatchPipelineBody,
        response: { 200: Type.Ref('Pipeline'), ...problems(400, 401, 404, 415, 422) },
      },
      config: { losslessBody: PIPELINE_LOSSLESS },
      ...losslessReply,
    },
    async (req) => {
      const current = await visiblePipeline(pipelines, req, req.params.id, 'manage');
      const patch = specOf(req.body);
      const merged: PipelineSpec = { ...specFields(current), ...patch };
      // A rename (or a new webhook) never fails on a notebook deleted since: only tasks and parameters are checked again.
      let plan = current.plan;
      if (patch.tasks !== undefined || patch.parameters !== undefined) plan = await planned(merged, current.owner, req.identity?.name ?? current.owner, ownerGroups(req.identity, current.owner));
      else checkNotify(merged);
      const secret = withSecret(merged, current);
      const after = await store.updatePipeline(current.id, { ...merged, plan });
      if (!after) throw new NotFoundError(`pipeline '${current.id}' not found`);
      return shownOnce(renderPipeline(after, ctx.prefix), secret);
    },
  );

  app.delete(
    '/pipelines/:id',
    { schema: { tags, summary: 'Delete a pipeline; its runs and their jobs stay', ...byId, response: { 204: Type.Null(), ...problems(401, 404) } } },
    async (req, reply) => {
      const p = await visiblePipeline(pipelines, req, req.params.id, 'manage');
      await store.deletePipeline(p.id);
      // Its grants go with it: its runs stay visible to the owner and admins only.
      await ctx.access.sharing?.setGrants('pipeline', p.id, [], req.identity?.name ?? p.owner);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/pipelines/:id/runs',
    {
      schema: {
        tags,
        summary: 'Start a run',
        description:
          "201 with the run (running, its first tasks' jobs queued; or queued while max_concurrent_runs runs are running). " +
          "`parameters` override the pipeline's (only its own names). With `?wait=true` the request blocks until the run and its " +
          "jobs ended (200) or the server's wait bound passes (201).",
        params: JobIdParams,
        querystring: Type.Object({
          wait: Type.Boolean({ default: false, description: "Block until the run ends (bounded by the server's wait maximum)" }),
          token: Type.Optional(Type.String()),
        }),
        body: StartRunBody,
        response: { 200: Type.Ref('PipelineRun'), 201: Type.Ref('PipelineRun'), ...problems(400, 401, 404, 415, 422) },
      },
      config: { losslessBody: ['parameters'] },
      ...losslessReply,
      // An empty body is the common call ("run it with its defaults").
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req, reply) => {
      const p = await visiblePipeline(pipelines, req, req.params.id, 'run');
      const own = (req.body.parameters ?? {}) as Parameters;
      pipelines.intake.runParameters(p.plan, own);
      // The store merges them over the pipeline's defaults (as they are when the run starts).
      let run = await store.createRun({ pipeline_id: p.id, parameters: own, submitted_by: req.identity?.name ?? p.owner });
      ctx.runner.wake();
      let jobs: Job[] | null = null;
      if (req.query.wait && ctx.config.waitMaxS > 0) {
        const abort = new AbortController();
        const onClose = () => {
          if (!reply.raw.writableEnded) abort.abort();
        };
        reply.raw.on('close', onClose);
        try {
          const reading = await pipelines.watch.waitSettled(run.id, ctx.config.waitMaxS * 1000, abort.signal);
          if (reading) ({ run, jobs } = reading);
        } finally {
          reply.raw.off('close', onClose);
        }
      }
      jobs ??= await listRunJobs(ctx.store, run.id);
      const view = renderRun(run, jobs, ctx.prefix);
      const ended = ['succeeded', 'failed', 'cancelled'].includes(run.status) && jobs.every((j) => isTerminal(j.status));
      return reply.code(req.query.wait && ended ? 200 : 201).header('location', view.links.self).send(view);
    },
  );

  app.get(
    '/pipelines/:id/runs',
    {
      schema: {
        tags,
        summary: "The pipeline's runs, newest first, with cursor paging",
        params: JobIdParams,
        querystring: PageQuery(100, 20),
        response: { 200: Type.Object({ runs: Type.Array(Type.Ref('PipelineRun')), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(400, 401, 404) },
      },
      ...losslessReply,
    },
    async (req) => {
      const p = await visiblePipeline(pipelines, req, req.params.id);
      const page = await store.listRuns(p.id, { cursor: req.query.cursor, limit: req.query.limit });
      return { runs: await Promise.all(page.runs.map(view)), next_cursor: page.next_cursor };
    },
  );

  const byRun = { params: RunIdParams, querystring: TokenQuery };

  app.get(
    '/pipelines/:id/runs/:run_id',
    { schema: { tags, summary: 'One run: its state, parameters, repairs and tasks with their jobs and results', ...byRun, response: { 200: Type.Ref('PipelineRun'), ...problems(401, 404) } }, ...losslessReply },
    async (req) => view(await visibleRun(pipelines, req, req.params.id, req.params.run_id)),
  );

  app.post(
    '/pipelines/:id/runs/:run_id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a run: its running jobs are stopped, nothing new starts, the run ends cancelled',
        description: '202 while jobs of the run are still stopping, 200 once the run has ended (or had already).',
        ...byRun,
        response: { 200: Type.Ref('PipelineRun'), 202: Type.Ref('PipelineRun'), ...problems(401, 404) },
      },
      ...losslessReply,
    },
    async (req, reply) => {
      const run = await visibleRun(pipelines, req, req.params.id, req.params.run_id, 'run');
      const after = (await store.cancelRun(run.id)) ?? run;
      // The store stops the queued jobs and flags the running ones; the runner here stops its own at once.
      const jobs = await listRunJobs(ctx.store, run.id);
      await Promise.all(jobs.filter((j) => !isTerminal(j.status)).map((j) => ctx.runner.cancel(j.id)));
      const now = (await store.getRun(run.id)) ?? after;
      const nowJobs = await listRunJobs(ctx.store, run.id);
      const ended = ['succeeded', 'failed', 'cancelled'].includes(now.status) && nowJobs.every((j) => isTerminal(j.status));
      return reply.code(ended ? 200 : 202).send(renderRun(now, nowJobs, ctx.prefix));
    },
  );

  app.post(
    '/pipelines/:id/runs/:run_id/repair',
    {
      schema: {
        tags,
        summary: 'Repair a finished run in place: re-run chosen (default: the failed) tasks and items, and what is downstream of them',
        description: `${RepairBody.description ?? ''} The same run id; an entry is appended to \`repairs\`. 409 while the run is queued or running.`,
        ...byRun,
        body: RepairBody,
        response: { 200: Type.Ref('PipelineRun'), ...problems(400, 401, 404, 415, 422), ...problemAs(409, 'The run is still queued or running: repair it once it has ended') },
      },
      ...losslessReply,
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req) => {
      const run = await visibleRun(pipelines, req, req.params.id, req.params.run_id, 'run');
      // The store refuses it too (in its transaction); a plain answer without a write here.
      if (run.status === 'queued' || run.status === 'running') throw new RunConflictError(run.id, run.status);
      const after = await store.repairRun(run.id, { tasks: req.body.tasks, items: req.body.items, by: req.identity?.name ?? run.owner });
      if (!after) throw new NotFoundError(`run '${run.id}' not found`);
      ctx.runner.wake();
      return view(after);
    },
  );
};

export default pipelineRoutes;
