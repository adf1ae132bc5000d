/**
 * The jobs API: submit (optionally waiting, bounded), list with filters and
 * cursor paging, get, download the output notebook, live events (SSE), cancel.
 * Jobs of other users are reported as not found unless shared (access.ts), so
 * their ids leak nothing.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { NotFoundError } from '../../errors.js';
import { JOB_STATUSES, isTerminal, type Job, type JobStatus } from '../../store/job-store.js';
import type { JobEvent } from '../../runner/runner-api.js';
import type { RouteContext } from '../context.js';
import { openEventStream } from '../event-stream.js';
import { assertCanActFor, defaultUsername, ownerGroups } from '../auth.js';
import { SharedQuery } from '../access.js';
import type { Level } from '../../store/sharing-store.js';
import { UnprocessableError } from '../http-errors.js';
import { losslessReply } from '../json-body.js';
import { renderJob } from '../render.js';
import { JobIdParams, JobView, SubmitJobBody, problems } from '../schemas.js';
import { Homes } from '../../homes/homes.js';

const JobList = Type.Object({
  jobs: Type.Array(Type.Ref('Job')),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
  links: Type.Object({ next: Type.Union([Type.String(), Type.Null()]) }),
});

const ListQuery = Type.Object({
  status: Type.Optional(Type.String({ description: 'Comma-separated states, e.g. running,queued' })),
  username: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  notebook: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  schedule_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only the jobs this schedule started' })),
  pipeline_run_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "Only the jobs of this pipeline run (every task, item and attempt)" })),
  shared: SharedQuery,
  cursor: Type.Optional(Type.String({ maxLength: 500 })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  token: Type.Optional(Type.String()),
});

const SubmitQuery = Type.Object({
  wait: Type.Boolean({ default: false, description: 'Block until the job ends (bounded by the server\'s wait maximum)' }),
  token: Type.Optional(Type.String()),
});

/** The SSE `Last-Event-ID` header as a non-negative integer; null when absent or not ours. */
export function parseLastEventId(header: string | string[] | undefined): number | null {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || !/^\d{1,15}$/.test(v.trim())) return null;
  return Number(v.trim());
}

const jobRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const tags = ['jobs'];
  app.addSchema(JobView);

  /** The job, if the caller has at least `need` on it (access.ts: its own grants and its schedule's and pipeline's); 404 / 403 otherwise. */
  async function visibleJob(req: FastifyRequest, id: string, need: Level = 'view'): Promise<Job> {
    const job = await ctx.store.get(id);
    if (!job) throw new NotFoundError(`job '${id}' not found`);
    await ctx.access.checkJob(req, job, need);
    return job;
  }

  app.post(
    '/jobs',
    {
      config: { losslessBody: ['parameters'] },
      ...losslessReply,
      schema: {
        tags,
        summary: 'Submit a notebook run',
        description:
          '202 with the job and a Location header. With `?wait=true` the request blocks until the job ends (200) or the server\'s ' +
          'wait bound passes (202). A repeated `idempotency_key` of the same user returns the existing job (200, Idempotent-Replayed: true).',
        querystring: SubmitQuery,
        body: SubmitJobBody,
        response: { 200: Type.Ref('Job'), 202: Type.Ref('Job'), ...problems(400, 401, 403, 404, 413, 415, 422, 503) },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const username = body.username ?? defaultUsername(req.identity);
      if (!username) throw new UnprocessableError('username is required when authenticating with the service token');
      ctx.localHomes.homeFor(username);
      assertCanActFor(req.identity, username);
      // The runner's producer checks the rest once (home, notebook, kernel, limits, output path) and applies the quota.
      const { job, created } = await ctx.runner.submit({
        username,
        notebook: body.notebook,
        parameters: (body.parameters ?? {}) as Job['parameters'],
        kernel: body.kernel ?? null,
        timeout_s: body.timeout_s ?? null,
        cell_timeout_s: body.cell_timeout_s ?? null,
        idempotency_key: body.idempotency_key ?? null,
        submitted_by: req.identity?.name ?? username,
        output_path: body.output_path ?? null,
        source: 'api',
        // Absent: the intake's default ('local', or 'user-server' with HUBMILL_HOMES=user-server).
        target: body.target,
        server_name: body.server_name ?? null,
        strict_parameters: body.strict_parameters ?? false,
        secrets: body.secrets?.map((name) => ({ name })),
        owner_groups: ownerGroups(req.identity, username),
      }, { entry: 'api' });
      let current = job;
      if (req.query.wait && !isTerminal(job.status) && ctx.config.waitMaxS > 0) {
        const abort = new AbortController();
        const onClose = () => {
          if (!reply.raw.writableEnded) abort.abort();
        };
        reply.raw.on('close', onClose);
        try {
          current = (await ctx.runner.waitFor(job.id, ctx.config.waitMaxS * 1000, abort.signal)) ?? job;
        } finally {
          reply.raw.off('close', onClose);
        }
      }
      const view = renderJob(current, ctx.prefix);
      reply.header('location', view.links.self);
      if (!created) reply.header('idempotent-replayed', 'true');
      const status = isTerminal(current.status) || !created ? 200 : 202;
      return reply.code(status).send(view);
    },
  );

  app.get(
    '/jobs',
    {
      ...losslessReply,
      schema: {
        tags,
        summary: 'List jobs, newest first, with filters and cursor paging',
        description: 'Non-admin callers see their own jobs and those shared with them (directly, or through the schedule or pipeline that started them); `?shared=true` only the shared ones.',
        querystring: ListQuery,
        response: { 200: JobList, ...problems(400, 401, 403) },
      },
    },
    async (req) => {
      const q = req.query;
      let status: JobStatus[] | undefined;
      if (q.status !== undefined) {
        status = q.status.split(',').map((s) => s.trim()).filter(Boolean) as JobStatus[];
        const badOnes = status.filter((s) => !(JOB_STATUSES as readonly string[]).includes(s));
        if (badOnes.length) throw new UnprocessableError(`unknown status ${badOnes.join(', ')}; expected ${JOB_STATUSES.join(', ')}`);
      }
      const filter = ctx.access.listing(req.identity, q.username, q.shared);
      if (!filter) return { jobs: [], next_cursor: null, links: { next: null } };
      const page = await ctx.store.list({ username: filter.owner, visible: filter.visible, status, notebook: q.notebook, schedule_id: q.schedule_id, pipeline_run_id: q.pipeline_run_id, cursor: q.cursor, limit: q.limit });
      let next: string | null = null;
      if (page.next_cursor) {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries({ status: q.status, username: q.username, notebook: q.notebook, schedule_id: q.schedule_id, pipeline_run_id: q.pipeline_run_id })) {
          if (v) params.set(k, v);
        }
        if (q.shared) params.set('shared', 'true');
        params.set('limit', String(q.limit));
        params.set('cursor', page.next_cursor);
        next = `${ctx.prefix}api/v1/jobs?${params.toString()}`;
      }
      return { jobs: page.jobs.map((j) => renderJob(j, ctx.prefix)), next_cursor: page.next_cursor, links: { next } };
    },
  );

  app.get(
    '/jobs/:id',
    {
      ...losslessReply,
      schema: { tags, summary: 'One job: state, timings, progress, error, result', params: JobIdParams, response: { 200: Type.Ref('Job'), ...problems(401, 404) } },
    },
    async (req) => renderJob(await visibleJob(req, req.params.id), ctx.prefix),
  );

  app.get(
    '/jobs/:id/output',
    {
      schema: {
        tags,
        summary: 'Download the output notebook (404 until it exists; partial while the job runs)',
        params: JobIdParams,
        produces: ['application/x-ipynb+json'],
        response: {
          200: { description: 'The output notebook (nbformat v4 JSON)', content: { 'application/x-ipynb+json': { schema: Type.Object({}, { additionalProperties: true }) } } },
          ...problems(400, 401, 404, 422, 502, 503),
        },
      },
    },
    async (req, reply) => {
      const job = await visibleJob(req, req.params.id);
      if (!job.output_path) throw new NotFoundError(`job '${job.id}' has no output notebook yet`);
      if (job.target === 'user-server') {
        // In the user's server: read through its Contents API (the file is small enough to hold; outputs are bounded by the run).
        const path = job.output_path;
        const server = ctx.homes.userServer(job.username, job.server_name);
        const text = await Homes.using(server, async () => (await server.open()).api.readText(path)).catch((e: unknown) => {
          if (e instanceof NotFoundError) throw new NotFoundError(`the output notebook of job '${job.id}' does not exist yet`);
          throw e;
        });
        if (text === '') throw new NotFoundError(`the output notebook of job '${job.id}' does not exist yet`);
        return reply
          .type('application/x-ipynb+json')
          .header('content-disposition', `attachment; filename="${basename(path).replace(/["\\\r\n]/g, '_')}"`)
          .header('cache-control', 'no-store')
          .send(text);
      }
      const home = ctx.localHomes.homeFor(job.username);
      const abs = await ctx.localHomes.resolveInside(home, job.output_path, { mustExist: false });
      const st = await stat(abs).catch(() => null);
      if (!st?.isFile() || st.size === 0) throw new NotFoundError(`the output notebook of job '${job.id}' does not exist yet`);
      reply
        .type('application/x-ipynb+json')
        .header('content-length', String(st.size))
        .header('content-disposition', `attachment; filename="${basename(abs).replace(/["\\\r\n]/g, '_')}"`)
        .header('cache-control', 'no-store');
      return reply.send(createReadStream(abs));
    },
  );

  app.get(
    '/jobs/:id/events',
    {
      schema: {
        tags,
        summary: 'Live events (server-sent events)',
        description:
          'Sends `event: state` with the current job first, then the `cell_started`, `cell_finished` and `output` events the job ' +
          'already had (as far as the process running it still keeps them, so a page opened mid-run shows the progress so far), ' +
          'then `state`, `cell_started`, `cell_finished` and `output` events as they ' +
          'happen; a comment line every 15 s keeps proxies from closing the stream; the stream ends after a terminal state. ' +
          'Each event has an `id:`; a client that reconnects with `Last-Event-ID` gets the events it missed, no state snapshot and ' +
          'no event twice (while the process that runs the job still keeps them; otherwise the current state). A reconnect after ' +
          'the terminal state answers 204, which tells EventSource to stop. EventSource cannot send headers: pass ?token=.',
        params: JobIdParams,
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 32 })) }),
        produces: ['text/event-stream'],
        response: {
          200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: Type.String() } } },
          204: { description: 'The client already has every event, the terminal state included', type: 'null' },
          ...problems(400, 401, 404),
        },
      },
    },
    async (req, reply) => {
      const first = await visibleJob(req, req.params.id);
      const lastEventId = parseLastEventId(req.headers['last-event-id']);
      const cursor = await ctx.runner.eventCursor(first.id);
      // Resume from the buffer when it still holds every event after the client's last one.
      const resume =
        lastEventId !== null && cursor !== null && lastEventId <= cursor.last && lastEventId >= cursor.first - 1 ? lastEventId : null;
      // Nothing new for a client that saw the end (or the final snapshot of a job this process has no events of: id 0).
      if (
        (resume !== null && resume === cursor!.last && cursor!.ended) ||
        (lastEventId === 0 && cursor === null && isTerminal(first.status))
      ) {
        return reply.code(204).send();
      }
      let ready = false;
      const pending: Array<[JobEvent, number]> = [];
      // A new client gets the state snapshot, then the job's kept cell and output events (not its older states: the
      // snapshot is newer), numbered from just before the oldest kept one so a reconnect resumes without a gap.
      const snapshotId = resume === null && cursor ? cursor.first - 1 : (cursor?.last ?? 0);
      const statesSeenUpTo = resume === null ? (cursor?.last ?? 0) : -1;
      const deliver = (ev: JobEvent, id: number) => {
        if (ev.type === 'state' && id <= statesSeenUpTo) return;
        if (ev.type === 'state') {
          stream.write('state', { type: 'state', job_id: ev.job_id, status: ev.status, job: renderJob(ev.job, ctx.prefix) }, id);
          if (isTerminal(ev.status)) stream.finish();
        } else {
          stream.write(ev.type, ev, id);
        }
      };
      const unsubscribe = ctx.runner.subscribe(first.id, (ev, id) => (ready ? deliver(ev, id) : pending.push([ev, id])), {
        after: resume ?? snapshotId,
      });
      const stream = openEventStream(reply, ctx.sseHeartbeatMs, unsubscribe);
      if (resume === null) {
        // Subscribed before this read, so nothing between the read and the first live event is lost.
        const current = (await ctx.store.get(first.id)) ?? first;
        // A job that already ended gets its final state alone, numbered as its last event: a reconnect then gets 204.
        const ended = isTerminal(current.status);
        stream.write('state', { type: 'state', job_id: current.id, status: current.status, job: renderJob(current, ctx.prefix) }, ended ? (cursor?.last ?? 0) : snapshotId);
        if (ended) return stream.finish();
      }
      ready = true;
      for (const [ev, id] of pending.splice(0)) {
        if (stream.closed) break;
        deliver(ev, id);
      }
    },
  );

  app.post(
    '/jobs/:id/cancel',
    {
      ...losslessReply,
      schema: {
        tags,
        summary: 'Cancel a job: queued ones at once, running ones are interrupted then killed (partial output kept)',
        description: '202 while a running job is being stopped, 200 when the job is already in a terminal state.',
        params: JobIdParams,
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
        response: { 200: Type.Ref('Job'), 202: Type.Ref('Job'), ...problems(401, 404) },
      },
    },
    async (req, reply) => {
      const job = await visibleJob(req, req.params.id, 'run');
      const after = (await ctx.runner.cancel(job.id)) ?? job;
      return reply.code(isTerminal(after.status) ? 200 : 202).send(renderJob(after, ctx.prefix));
    },
  );

};

export default jobRoutes;
