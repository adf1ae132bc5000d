/**
 * The schedules API: create, list, get, change, delete, pause, resume, run now,
 * runs, and the fire-time preview (computed by the same function that fires).
 * Authorization is access.ts's: owners and admins (or delegated scopes) manage a
 * schedule, grantees have their level (view, run, manage); anyone else gets 404.
 */
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { NotFoundError } from '../../errors.js';
import type { Job } from '../../store/job-store.js';
import {
  jobTemplateOf,
  scheduleCheckJob,
  scheduleJob,
  SCHEDULE_DEFAULTS,
  DEFAULT_NOTIFY_ON,
  type Schedule,
  type ScheduleJobTemplate,
  type SchedulePatch,
  type ScheduleSettings,
  type ScheduleStore,
} from '../../store/schedule-store.js';
import { encodeParameters } from '../../notebook/parameters-json.js';
import { nextFires, parseCron } from '../../schedules/cron.js';
import { InvalidScheduleError } from '../../schedules/schedule-errors.js';
import { nextRunWithin } from '../../schedules/fire-plan.js';
import { checkWebhookUrl, type WebhookAllowList } from '../../schedules/webhook-address.js';
import type { RouteContext } from '../context.js';
import { losslessReply } from '../json-body.js';
import { assertCanActFor, defaultUsername, ownerGroups } from '../auth.js';
import { SharedQuery } from '../access.js';
import type { Level } from '../../store/sharing-store.js';
import { UnprocessableError } from '../http-errors.js';
import { iso, renderJob } from '../render.js';
import { CreateScheduleBody, PatchScheduleBody, PreviewQuery, ScheduleView, type PatchScheduleBodyT, type ScheduleViewT } from '../schedule-schemas.js';
import type { PipelineDeps } from '../pipeline-access.js';
import { renderRun } from '../pipeline-render.js';
import { listRunJobs } from '../pipeline-run-watch.js';
import { RunView } from '../pipeline-schemas.js';
import { JobIdParams, JobView, JsonObject, problems } from '../schemas.js';

/** What the schedules API needs besides the route context; the server wires it. */
export interface ScheduleDeps {
  store: ScheduleStore;
  /** Wakes the fire loop after a change. */
  wake(): void;
  webhookAllow: WebhookAllowList;
  now?: () => number;
}

export function renderSchedule(s: Schedule, prefix: string, withSecret = false): ScheduleViewT {
  const self = `${prefix}api/v1/schedules/${encodeURIComponent(s.id)}`;
  // The job template stays internal: its fields are the settings, as checked.
  const { start_at_ms, end_at_ms, next_run_at_ms, last_fire_ms, last_job_id, created_at_ms, updated_at_ms, webhook_secret, job_template, ...rest } = s;
  return {
    ...rest,
    pipeline_id: rest.pipeline_id ?? null,
    secrets: rest.secrets ?? [],
    start_at: iso(start_at_ms),
    end_at: iso(end_at_ms),
    next_run_at: iso(next_run_at_ms),
    last_run: last_fire_ms === null ? null : { scheduled_for: iso(last_fire_ms)!, job_id: last_job_id },
    created_at: iso(created_at_ms)!,
    updated_at: iso(updated_at_ms)!,
    ...(withSecret && webhook_secret ? { webhook_secret } : {}),
    links: { self, runs: `${self}/runs`, run: `${self}/run` },
  };
}

function parseTime(name: string, v: string | null | undefined): number | null | undefined {
  if (v === undefined || v === null) return v;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new InvalidScheduleError(`${name} '${v}' is not an ISO 8601 time`);
  return t;
}


const scheduleRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext; schedules: ScheduleDeps; pipelines?: PipelineDeps }> = async (app, { ctx, schedules, pipelines }) => {
  const tags = ['schedules'];
  const store = schedules.store;
  const now = schedules.now ?? Date.now;
  app.addSchema(ScheduleView);
  app.addSchema(JobView);
  app.addSchema(RunView);

  /** The schedule, if the caller has at least `need` on it (access.ts: 404 without a grant, 403 below `need`). */
  async function visible(req: FastifyRequest, id: string, need: Level = 'view'): Promise<Schedule> {
    const s = await store.get(id);
    if (!s) throw new NotFoundError(`schedule '${id}' not found`);
    await ctx.access.check(req, 'schedule', s.id, s.owner, need, `schedule '${id}'`);
    return s;
  }

  /** Validates the timing and the webhook of a full set of settings (after a PATCH is applied); normalizes the time zone. */
  function checkedTiming(s: ScheduleSettings): ScheduleSettings {
    const spec = parseCron(s.cron, s.timezone);
    if (s.start_at_ms !== null && s.end_at_ms !== null && s.end_at_ms < s.start_at_ms) throw new InvalidScheduleError('end_at is before start_at');
    if (s.notify) {
      if (!s.notify.webhook_url && !s.notify.email?.length) throw new InvalidScheduleError('notify needs webhook_url or email');
      if (s.notify.webhook_url) checkWebhookUrl(s.notify.webhook_url, schedules.webhookAllow);
    }
    return { ...s, timezone: spec.timezone };
  }

  /**
   * The job the schedule's fires start, checked as a submitted job is (the runner's intake: the
   * home, the notebook, its kernel, the parameter names and values, the limits; in the user's own
   * server only what needs no server). A refusal names the problem; a missing notebook is a 422
   * too (it is a field of the schedule, not the resource asked for). Returns the checked template.
   */
  async function checkedJob(owner: string, s: ScheduleSettings, by: string, groups: readonly string[] | undefined): Promise<ScheduleJobTemplate> {
    try {
      return jobTemplateOf((await ctx.runner.check(scheduleCheckJob(owner, s, by, groups))).job);
    } catch (err) {
      if (err instanceof NotFoundError) throw new UnprocessableError(`the schedule's notebook '${s.notebook}' cannot be used: ${err.message}`);
      throw err;
    }
  }

  /**
   * A pipeline schedule's pipeline: one of the owner's, its parameters the run's (only the pipeline's own names).
   * 422 naming the problem.
   */
  async function checkedPipeline(owner: string, s: ScheduleSettings): Promise<void> {
    if (s.notebook) throw new UnprocessableError('a schedule runs a notebook or a pipeline: give notebook or pipeline_id, not both');
    if (!pipelines) throw new UnprocessableError('this server has no pipelines');
    const p = await pipelines.store.getPipeline(s.pipeline_id!);
    if (!p || p.owner !== owner) throw new UnprocessableError(`pipeline '${s.pipeline_id}' is not one of ${owner}'s pipelines`);
    if (s.max_retries > 0) throw new UnprocessableError("max_retries applies to notebook schedules: a pipeline retries its tasks (set max_retries on the pipeline's tasks)");
    pipelines.intake.runParameters(p.plan, s.parameters);
  }

  /** What a schedule's fires run, checked: a notebook's job template, or (null) a pipeline of the owner. */
  async function checkedTarget(owner: string, s: ScheduleSettings, by: string, groups: readonly string[] | undefined): Promise<ScheduleJobTemplate | null> {
    if (s.pipeline_id) {
      if (s.secrets && s.secrets.length > 0) throw new UnprocessableError("a pipeline schedule names no secrets: set secrets on the pipeline's tasks");
      await checkedPipeline(owner, s);
      return null;
    }
    if (!s.notebook) throw new UnprocessableError('a schedule needs a notebook (or a pipeline_id)');
    return checkedJob(owner, s, by, groups);
  }

  /** The job fields a schedule sets: a change of one of them is checked again. */
  const JOB_FIELDS = ['notebook', 'kernel', 'timeout_s', 'cell_timeout_s'] as const;
  function jobChanged(s: Schedule, patch: Partial<ScheduleSettings>): boolean {
    if (patch.parameters !== undefined && encodeParameters(patch.parameters) !== encodeParameters(s.parameters)) return true;
    if (patch.pipeline_id !== undefined && patch.pipeline_id !== (s.pipeline_id ?? null)) return true;
    if (s.pipeline_id && patch.max_retries !== undefined) return true;
    if (patch.secrets !== undefined && JSON.stringify(patch.secrets) !== JSON.stringify(s.secrets ?? [])) return true;
    return JOB_FIELDS.some((k) => patch[k] !== undefined && patch[k] !== s[k]);
  }

  function nextRun(s: ScheduleSettings, after: number): number | null {
    return nextRunWithin(parseCron(s.cron, s.timezone), s, after);
  }

  function fromBody(b: PatchScheduleBodyT): Partial<ScheduleSettings> {
    const { start_at, end_at, ...rest } = b;
    const out: Partial<ScheduleSettings> = { ...(rest as Partial<ScheduleSettings>) };
    const start = parseTime('start_at', start_at);
    const end = parseTime('end_at', end_at);
    if (start !== undefined) out.start_at_ms = start;
    if (end !== undefined) out.end_at_ms = end;
    if (b.notify) {
      out.notify = {
        ...(b.notify.webhook_url ? { webhook_url: b.notify.webhook_url } : {}),
        ...(b.notify.email ? { email: b.notify.email } : {}),
        on: b.notify.on ?? [...DEFAULT_NOTIFY_ON],
      } as ScheduleSettings['notify'];
    }
    return out;
  }

  app.get(
    '/schedules/preview',
    {
      schema: {
        tags,
        summary: 'The next fire times of a cron expression in a time zone (the scheduler\'s own computation)',
        querystring: PreviewQuery,
        response: { 200: Type.Object({ times: Type.Array(Type.String({ format: 'date-time' })) }), ...problems(400, 401, 422) },
      },
    },
    async (req) => {
      const spec = parseCron(req.query.cron, req.query.timezone);
      const from = parseTime('from', req.query.from) ?? now();
      return { times: nextFires(spec, from, req.query.count).map((t) => new Date(t).toISOString()) };
    },
  );

  app.post(
    '/schedules',
    {
      schema: {
        tags,
        summary: 'Create a schedule',
        description:
          'Answers 201 with the schedule; `webhook_secret` appears in this response only. The job its fires run is checked as a submitted job is ' +
          '(notebook, kernel, parameter names and values, limits); a bad one is a 422 naming the problem (a missing notebook too).',
        body: CreateScheduleBody,
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
        response: { 201: Type.Ref('Schedule'), ...problems(400, 401, 403, 404, 415, 422) },
      },
      config: { losslessBody: ['parameters'] },
      ...losslessReply,
    },
    async (req, reply) => {
      const owner = req.body.username ?? defaultUsername(req.identity);
      if (!owner) throw new UnprocessableError('username is required when authenticating with the service token');
      ctx.localHomes.homeFor(owner);
      assertCanActFor(req.identity, owner);
      const by = req.identity?.name ?? owner;
      const settings = checkedTiming({ ...SCHEDULE_DEFAULTS, ...fromBody(req.body) } as ScheduleSettings);
      const template = await checkedTarget(owner, settings, by, ownerGroups(req.identity, owner));
      const s = await store.create({
        ...settings,
        notebook: template?.notebook ?? '',
        job_template: template,
        owner,
        created_by: by,
        webhook_secret: settings.notify?.webhook_url ? randomBytes(32).toString('hex') : null,
        next_run_at_ms: nextRun(settings, now()),
      });
      schedules.wake();
      const view = renderSchedule(s, ctx.prefix, true);
      return reply.code(201).header('location', view.links.self).send(view);
    },
  );

  app.get(
    '/schedules',
    {
      schema: {
        tags,
        summary: 'List schedules, newest first: your own and those shared with you; admins see everyone\'s (filter with ?username=)',
        description: '`?shared=true` lists only the schedules others shared with you (to your user or one of your hub groups).',
        querystring: Type.Object({
          username: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
          shared: SharedQuery,
          cursor: Type.Optional(Type.String({ maxLength: 500 })),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          token: Type.Optional(Type.String()),
        }),
        response: { 200: Type.Object({ schedules: Type.Array(Type.Ref('Schedule')), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(400, 401, 403) },
      },
      ...losslessReply,
    },
    async (req) => {
      const filter = ctx.access.listing(req.identity, req.query.username, req.query.shared);
      if (!filter) return { schedules: [], next_cursor: null };
      const page = await store.list({ ...filter, cursor: req.query.cursor, limit: req.query.limit });
      return { schedules: page.schedules.map((s) => renderSchedule(s, ctx.prefix)), next_cursor: page.next_cursor };
    },
  );

  const byId = { params: JobIdParams, querystring: Type.Object({ token: Type.Optional(Type.String()) }) };

  app.get(
    '/schedules/:id',
    { schema: { tags, summary: 'One schedule', ...byId, response: { 200: Type.Ref('Schedule'), ...problems(401, 404) } }, ...losslessReply },
    async (req) => renderSchedule(await visible(req, req.params.id), ctx.prefix),
  );

  async function change(req: FastifyRequest, id: string, patch: Partial<ScheduleSettings>): Promise<ScheduleViewT> {
    const s = await visible(req, id, 'manage');
    const merged = checkedTiming({ ...s, ...patch });
    const timing = ['cron', 'timezone', 'start_at_ms', 'end_at_ms'].some((k) => k in patch && patch[k as keyof ScheduleSettings] !== s[k as keyof Schedule]);
    const resumed = s.paused && patch.paused === false;
    const update: SchedulePatch = { ...patch, timezone: merged.timezone };
    // The merged job is checked again when a job field changed (a rename or a pause never fails on a deleted notebook).
    if (jobChanged(s, patch)) {
      // Turning to a pipeline drops the notebook; turning back to a notebook needs pipeline_id: null.
      const target = merged.pipeline_id && patch.pipeline_id !== undefined && patch.notebook === undefined ? { ...merged, notebook: '' } : merged;
      const template = await checkedTarget(s.owner, target, req.identity?.name ?? s.owner, ownerGroups(req.identity, s.owner));
      update.notebook = template?.notebook ?? '';
      if (template) update.job_template = template;
    }
    // The first webhook of a schedule gets its secret here, shown in this answer only.
    const newSecret = merged.notify?.webhook_url && !s.webhook_secret ? randomBytes(32).toString('hex') : null;
    if (newSecret) update.webhook_secret = newSecret;
    // A new timing, or a resume, counts from now: nothing "missed" while paused or under the old cron is caught up.
    if (timing || resumed) update.next_run_at_ms = nextRun(merged, now());
    const after = await store.update(id, update);
    if (!after) throw new NotFoundError(`schedule '${id}' not found`);
    schedules.wake();
    return renderSchedule(after, ctx.prefix, newSecret !== null);
  }

  app.patch(
    '/schedules/:id',
    {
      schema: {
        tags,
        summary: 'Change a schedule; a new cron, timezone or bound recomputes next_run_at from now',
        description: 'A change of notebook, parameters, kernel or timeouts checks the merged job again, as at creation (422 naming the problem).',
        ...byId,
        body: PatchScheduleBody,
        response: { 200: Type.Ref('Schedule'), ...problems(400, 401, 404, 415, 422) },
      },
      config: { losslessBody: ['parameters'] },
      ...losslessReply,
    },
    async (req) => change(req, req.params.id, fromBody(req.body)),
  );

  app.post(
    '/schedules/:id/pause',
    { schema: { tags, summary: 'Pause: no fires until resumed', ...byId, response: { 200: Type.Ref('Schedule'), ...problems(401, 404) } }, ...losslessReply },
    async (req) => change(req, req.params.id, { paused: true }),
  );

  app.post(
    '/schedules/:id/resume',
    { schema: { tags, summary: 'Resume; the next fire time counts from now', ...byId, response: { 200: Type.Ref('Schedule'), ...problems(401, 404) } }, ...losslessReply },
    async (req) => change(req, req.params.id, { paused: false }),
  );

  app.delete(
    '/schedules/:id',
    { schema: { tags, summary: 'Delete a schedule; it never fires again, its jobs stay', ...byId, response: { 204: Type.Null(), ...problems(401, 404) } } },
    async (req, reply) => {
      const s = await visible(req, req.params.id, 'manage');
      await store.delete(s.id);
      // Its grants go with it: the jobs it started stay visible to the owner and admins only.
      await ctx.access.sharing?.setGrants('schedule', s.id, [], req.identity?.name ?? s.owner);
      schedules.wake();
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/schedules/:id/run',
    {
      schema: {
        tags,
        summary: 'Run now, outside the cron times; `parameters` override the schedule\'s',
        ...byId,
        body: Type.Object({ parameters: Type.Optional(JsonObject) }, { additionalProperties: false }),
        description: "202 with the job; for a pipeline schedule, with the run (schedule_id set, scheduled_for null).",
        response: { 202: Type.Union([Type.Ref('Job'), Type.Ref('PipelineRun')]), ...problems(400, 401, 404, 415, 422, 429) },
      },
      config: { losslessBody: ['parameters'] },
      ...losslessReply,
      // An empty JSON body is the common call ("run it now").
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req, reply) => {
      // A grantee with 'run' presses the button; the job runs as the owner, with the owner's home (triggered_by records who).
      const s = await visible(req, req.params.id, 'run');
      if (s.pipeline_id) {
        if (!pipelines) throw new UnprocessableError('this server has no pipelines');
        const p = await pipelines.store.getPipeline(s.pipeline_id);
        if (!p) throw new UnprocessableError(`the schedule's pipeline '${s.pipeline_id}' was deleted`);
        const own = { ...s.parameters, ...((req.body.parameters ?? {}) as Job['parameters']) };
        pipelines.intake.runParameters(p.plan, own);
        const run = await pipelines.store.createRun({ pipeline_id: p.id, parameters: own, submitted_by: req.identity?.name ?? s.owner, schedule_id: s.id, scheduled_for_ms: null });
        ctx.runner.wake();
        const view = renderRun(run, await listRunJobs(ctx.store, run.id), ctx.prefix);
        return reply.code(202).header('location', view.links.self).send(view);
      }
      // The schedule's checked job with the overrides, checked again by the submission (the overrides are new).
      const template = scheduleJob(s, null, 1);
      const { job } = await ctx.runner.submit({
        ...template,
        parameters: { ...template.parameters, ...((req.body.parameters ?? {}) as Job['parameters']) },
        submitted_by: req.identity?.name ?? s.owner,
      }, { entry: 'run-now' }); // a direct submission: refused over the quota (429), as the jobs API
      const view = renderJob(job, ctx.prefix);
      return reply.code(202).header('location', view.links.self).send(view);
    },
  );

  app.get(
    '/schedules/:id/runs',
    {
      schema: {
        tags,
        summary: 'The schedule\'s jobs, newest first, with cursor paging',
        params: JobIdParams,
        querystring: Type.Object({
          cursor: Type.Optional(Type.String({ maxLength: 500 })),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          token: Type.Optional(Type.String()),
        }),
        response: { 200: Type.Object({ jobs: Type.Array(Type.Ref('Job')), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(400, 401, 404) },
      },
      ...losslessReply,
    },
    async (req) => {
      const s = await visible(req, req.params.id);
      const page = await store.runs(s.id, req.query.cursor, req.query.limit);
      return { jobs: page.jobs.map((j) => renderJob(j, ctx.prefix)), next_cursor: page.next_cursor };
    },
  );
};

export default scheduleRoutes;
