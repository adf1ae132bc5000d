/**
 * The jobs API: submit (optionally waiting, bounded), list with filters and
 * cursor paging, get, download the output notebook, live events (SSE), cancel.
 * Jobs of other users are reported as not found, so their ids leak nothing.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { NotFoundError } from '../../errors.js';
import { TERMINAL_STATUSES, type Job, type JobStatus } from '../../store/job-store.js';
import type { JobEvent } from '../../runner/runner-api.js';
import { toJsonText } from '../../notebook/write.js';
import type { RouteContext } from '../app.js';
import { assertCanActFor, canActFor, defaultUsername } from '../auth.js';
import { UnprocessableError } from '../http-errors.js';
import { losslessReply } from '../json-body.js';
import { renderJob } from '../render.js';
import { JobIdParams, JobView, SubmitJobBody, problems } from '../schemas.js';

const STATUSES: readonly JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'];

const JobList = Type.Object({
  jobs: Type.Array(Type.Ref('Job')),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
  links: Type.Object({ next: Type.Union([Type.String(), Type.Null()]) }),
});

const ListQuery = Type.Object({
  status: Type.Optional(Type.String({ description: 'Comma-separated states, e.g. running,queued' })),
  username: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  notebook: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  cursor: Type.Optional(Type.String({ maxLength: 500 })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  token: Type.Optional(Type.String()),
});

const SubmitQuery = Type.Object({
  wait: Type.Boolean({ default: false, description: 'Block until the job ends (bounded by the server\'s wait maximum)' }),
  token: Type.Optional(Type.String()),
});

export function isTerminal(s: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(s);
}

const jobRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const tags = ['jobs'];
  app.addSchema(JobView);

  /** The job, if it exists and the caller may see it; 404 otherwise. */
  async function visibleJob(req: FastifyRequest, id: string): Promise<Job> {
    const job = await ctx.store.get(id);
    if (!job || !canActFor(req.identity, job.username)) throw new NotFoundError(`job '${id}' not found`);
    return job;
  }

  /** A requested limit above the server maximum is refused (422) rather than silently clamped; absent = the runner's default. */
  function boundedTimeout(name: string, value: number | undefined, max: number): number | null {
    if (value === undefined) return null;
    if (max > 0 && value > max) throw new UnprocessableError(`${name} ${value} exceeds the server maximum of ${max} s`);
    return value;
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
      ctx.homes.homeFor(username);
      assertCanActFor(req.identity, username);
      const home = await ctx.homes.existingHome(username);
      const nbAbs = await ctx.homes.resolveInside(home, body.notebook, { mustExist: true });
      if (body.output_path !== undefined) await ctx.homes.resolveInside(home, body.output_path, { mustExist: false });
      const { job, created } = await ctx.runner.submit({
        username,
        notebook: await ctx.homes.relative(home, nbAbs),
        parameters: (body.parameters ?? {}) as Job['parameters'],
        kernel: body.kernel ?? null,
        timeout_s: boundedTimeout('timeout_s', body.timeout_s, ctx.config.maxTimeoutS),
        cell_timeout_s: boundedTimeout('cell_timeout_s', body.cell_timeout_s, ctx.config.maxCellTimeoutS),
        idempotency_key: body.idempotency_key ?? null,
        submitted_by: req.identity?.name ?? username,
        output_path: body.output_path ?? null,
        source: 'api',
        target: body.target ?? 'local',
      });
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
        description: 'Non-admin callers see only their own jobs.',
        querystring: ListQuery,
        response: { 200: JobList, ...problems(400, 401, 403) },
      },
    },
    async (req) => {
      const q = req.query;
      let status: JobStatus[] | undefined;
      if (q.status !== undefined) {
        status = q.status.split(',').map((s) => s.trim()).filter(Boolean) as JobStatus[];
        const badOnes = status.filter((s) => !STATUSES.includes(s));
        if (badOnes.length) throw new UnprocessableError(`unknown status ${badOnes.join(', ')}; expected ${STATUSES.join(', ')}`);
      }
      let username = q.username;
      if (!req.identity?.admin) {
        username = username ?? req.identity?.name;
        assertCanActFor(req.identity, username ?? '');
      }
      const page = await ctx.store.list({ username, status, notebook: q.notebook, cursor: q.cursor, limit: q.limit });
      let next: string | null = null;
      if (page.next_cursor) {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries({ status: q.status, username: q.username, notebook: q.notebook })) if (v) params.set(k, v);
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
          ...problems(400, 401, 404),
        },
      },
    },
    async (req, reply) => {
      const job = await visibleJob(req, req.params.id);
      if (!job.output_path) throw new NotFoundError(`job '${job.id}' has no output notebook yet`);
      const home = ctx.homes.homeFor(job.username);
      const abs = await ctx.homes.resolveInside(home, job.output_path, { mustExist: false });
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
          'Sends `event: state` with the current job first, then `state`, `cell_started`, `cell_finished` and `output` events as they ' +
          'happen; a comment line every 15 s keeps proxies from closing the stream; the stream ends after a terminal state. ' +
          'EventSource cannot send headers: pass ?token=.',
        params: JobIdParams,
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
        produces: ['text/event-stream'],
        response: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: Type.String() } } }, ...problems(401, 404) },
      },
    },
    async (req, reply) => {
      const first = await visibleJob(req, req.params.id);
      const raw = reply.raw;
      let seq = 0;
      let closed = false;
      let ready = false;
      const pending: JobEvent[] = [];
      const write = (type: string, data: unknown) => {
        if (closed) return;
        raw.write(`id: ${++seq}\nevent: ${type}\ndata: ${toJsonText(data)}\n\n`);
      };
      const finish = () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
        raw.end();
      };
      const deliver = (ev: JobEvent) => {
        if (ev.type === 'state') {
          write('state', { type: 'state', job_id: ev.job_id, status: ev.status, job: renderJob(ev.job, ctx.prefix) });
          if (isTerminal(ev.status)) finish();
        } else {
          write(ev.type, ev);
        }
      };
      const unsubscribe = ctx.runner.subscribe(first.id, (ev) => (ready ? deliver(ev) : pending.push(ev)));
      const heartbeat = setInterval(() => {
        if (!closed) raw.write(': keep-alive\n\n');
      }, ctx.sseHeartbeatMs);
      heartbeat.unref();
      raw.on('close', finish);

      reply.hijack();
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write('retry: 3000\n\n');
      // Subscribed before this read, so nothing between the read and the first live event is lost.
      const current = (await ctx.store.get(first.id)) ?? first;
      write('state', { type: 'state', job_id: current.id, status: current.status, job: renderJob(current, ctx.prefix) });
      if (isTerminal(current.status)) return finish();
      ready = true;
      for (const ev of pending.splice(0)) {
        if (closed) break;
        deliver(ev);
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
      const job = await visibleJob(req, req.params.id);
      const after = (await ctx.runner.cancel(job.id)) ?? job;
      return reply.code(isTerminal(after.status) ? 200 : 202).send(renderJob(after, ctx.prefix));
    },
  );

};

export default jobRoutes;
