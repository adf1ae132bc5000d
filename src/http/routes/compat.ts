/**
 * The seed's endpoints (the papermill-API compatibility routes), with their
 * request and response fields unchanged: `GET /`, `GET /list-notebooks/{username}`,
 * `POST /execute`, `POST /run-notebook` (`GET /health` is in health.ts). Runs are jobs like any other (source 'seed-execute' /
 * 'seed-run-notebook'), waited for synchronously as the seed's clients expect.
 */
import { realpath, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { NotFoundError, UnsafePathError } from '../../errors.js';
import { errorLocation } from '../../notebook/cell-ref.js';
import type { Job, NewJob } from '../../store/job-store.js';
import type { RouteContext } from '../context.js';
import { HUBMILL_VERSION } from '../../version.js';
import { assertCanActFor } from '../auth.js';
import { NotebookRunError, UnprocessableError } from '../http-errors.js';
import { losslessReply } from '../json-body.js';
import { seedTimestamp } from '../render.js';
import { lookupRunAs } from '../../users/run-as.js';
import { reserveSeedOutput, seedOutputName } from '../../users/seed-output-name.js';
import { SeedExecuteBody, SeedExecuteResponse, SeedRunBody, SeedRunResponse, ServerNameT, problems } from '../schemas.js';
import { Homes } from '../../homes/homes.js';
import { findContentsNotebook } from '../../homes/contents-notebooks.js';

const NotebookEntry = Type.Object({
  name: Type.String(),
  path: Type.String(),
  relative_path: Type.String(),
  size: Type.Integer(),
  modified: Type.String(),
});

const ListNotebooksResponse = Type.Object({
  username: Type.String(),
  user_home: Type.String(),
  notebook_count: Type.Integer(),
  notebooks: Type.Array(NotebookEntry),
});

const RootResponse = Type.Object({
  message: Type.String(),
  service: Type.String(),
  version: Type.String(),
  docs: Type.String(),
  openapi: Type.String(),
  endpoints: Type.Record(Type.String(), Type.String()),
});

async function removeIfEmpty(path: string): Promise<void> {
  const st = await stat(path).catch(() => null);
  if (st?.isFile() && st.size === 0) await unlink(path).catch(() => undefined);
}

/**
 * Submits and waits like papermill did in the seed. Not succeeded → NotebookRunError:
 * 500 for a failed notebook (the seed's HTTPException(500)), 504 for a timeout or
 * when the wait bound passes, 409 when cancelled; the job keeps running past the
 * wait bound and its links are in the problem document.
 */
async function runAndWait(ctx: RouteContext, newJob: NewJob, reply: FastifyReply): Promise<Job> {
  const { job } = await ctx.runner.submit(newJob, { entry: 'seed' });
  const abort = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableEnded) abort.abort();
  };
  reply.raw.on('close', onClose);
  let done: Job | null;
  try {
    done = await ctx.runner.waitFor(job.id, ctx.config.executeWaitMaxS * 1000, abort.signal);
  } finally {
    reply.raw.off('close', onClose);
  }
  const final = done ?? job;
  if (final.status === 'succeeded') return final;
  const extra = {
    job_id: final.id,
    job_status: final.status,
    job: `${ctx.prefix}api/v1/jobs/${encodeURIComponent(final.id)}`,
    ename: final.error?.ename ?? null,
    evalue: final.error?.evalue ?? null,
    cell_index: final.error?.cell_index ?? null,
    execution_count: final.error?.execution_count ?? null,
  };
  // The cell is named as everywhere else: its index in the input notebook and its In [n].
  const at = final.error ? errorLocation(final.error) : null;
  const where = at ? ` in ${at}` : '';
  switch (final.status) {
    case 'failed': {
      const why = final.error ? `${final.error.ename}: ${final.error.evalue}` : 'unknown error';
      throw new NotebookRunError(`Notebook execution failed${where}: ${why}`, { code: 'NOTEBOOK_FAILED', httpStatus: 500, extra });
    }
    case 'timed_out':
      throw new NotebookRunError(`Notebook execution timed out${where}`, { code: 'NOTEBOOK_TIMED_OUT', httpStatus: 504, extra });
    case 'cancelled':
      throw new NotebookRunError(`Notebook execution was cancelled${where}`, { code: 'NOTEBOOK_CANCELLED', httpStatus: 409, extra });
    default:
      throw new NotebookRunError(
        `Notebook still ${final.status} after ${ctx.config.executeWaitMaxS} s; follow the job at ${extra.job}`,
        { code: 'WAIT_EXPIRED', httpStatus: 504, extra },
      );
  }
}

/**
 * Output names this process has handed to a remote `/execute` whose job has not written its output yet
 * (per user and server): the Contents API has no exclusive create, so two requests in the same second
 * would otherwise both find `<stem>_output_<time>.ipynb` free.
 */
const remoteOutputsPending = new Set<string>();

/**
 * `/execute` with HUBMILL_HOMES=user-server: the notebook is looked up in the user's server and the
 * output `<stem>_output_<YYYYMMDD_HHMMSS>.ipynb` written at its root, as a user-server job. The name is
 * the first one neither taken when looked at nor handed to another request of this process that is
 * still running (the server offers no exclusive create; across several API nodes two requests in the
 * same second can still pick the same name).
 */
async function executeRemote(
  ctx: RouteContext,
  b: { username: string; notebook_name: string; parameters?: Record<string, unknown>; server_name?: string; submitted_by: string },
  reply: FastifyReply,
) {
  const now = new Date();
  const pendingKey = (name: string) => `${b.username}\0${b.server_name ?? ''}\0${name}`;
  const server = ctx.homes.userServer(b.username, b.server_name);
  const { rel, outName } = await Homes.using(server, async () => {
    const { api } = await server.open();
    const rel = await findContentsNotebook(api, b.notebook_name);
    for (let attempt = 0; attempt < 100; attempt++) {
      const name = seedOutputName(rel, now, attempt);
      const key = pendingKey(name);
      if (remoteOutputsPending.has(key)) continue;
      // Held from before the look (another request may look meanwhile) until the wait below ends.
      remoteOutputsPending.add(key);
      let free = false;
      try {
        free = !(await api.stat(name));
      } finally {
        if (!free) remoteOutputsPending.delete(key);
      }
      if (free) return { rel, outName: name };
    }
    throw new NotFoundError(`no free output name for ${rel}`);
  });
  const parameters = (b.parameters ?? {}) as NewJob['parameters'];
  // The job's first save creates the file, so a later look sees the name once the job has started; the
  // name is held until the wait ends (a job still queued when its wait expires is the one gap left).
  let job: Job;
  try {
    job = await runAndWait(
      ctx,
      {
        username: b.username,
        notebook: rel,
        parameters,
        submitted_by: b.submitted_by,
        output_path: outName,
        source: 'seed-execute',
        target: 'user-server',
        server_name: b.server_name ?? null,
      },
      reply,
    );
  } finally {
    remoteOutputsPending.delete(pendingKey(outName));
  }
  return {
    status: 'success' as const,
    username: b.username,
    input_notebook: rel,
    output_notebook: job.output_path ?? outName,
    parameters,
    timestamp: seedTimestamp(),
    job_id: job.id,
  };
}

const seedRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const tags = ['seed'];

  app.get(
    '/',
    {
      config: { public: true },
      schema: { tags, summary: 'API information', response: { 200: RootResponse } },
    },
    async () => ({
      message: 'hubmill: notebook execution service for JupyterHub (papermill-compatible)',
      service: 'hubmill',
      version: HUBMILL_VERSION,
      docs: `${ctx.prefix}docs`,
      openapi: `${ctx.prefix}openapi.json`,
      endpoints: {
        health: 'GET /health',
        list_notebooks: 'GET /list-notebooks/{username}',
        execute: 'POST /execute',
        run_notebook: 'POST /run-notebook',
        jobs: 'GET|POST /api/v1/jobs',
        notebooks: 'GET /api/v1/notebooks?username=',
        kernelspecs: 'GET /api/v1/kernelspecs',
        metrics: 'GET /metrics',
      },
    }),
  );

  app.get(
    '/list-notebooks/:username',
    {
      schema: {
        tags,
        summary: "List a user's notebooks (anywhere in the home, hidden folders skipped)",
        params: Type.Object({ username: Type.String() }),
        querystring: Type.Object({ server_name: Type.Optional(ServerNameT) }),
        response: { 200: ListNotebooksResponse, ...problems(400, 401, 403, 404, 422, 502, 503) },
      },
    },
    async (req) => {
      const { username } = req.params;
      ctx.localHomes.homeFor(username);
      assertCanActFor(req.identity, username);
      const home = ctx.homes.forUser(username, req.query.server_name);
      const notebooks = await Homes.using(home, (h) => h.listNotebooks());
      return { username, user_home: home.root, notebook_count: notebooks.length, notebooks };
    },
  );

  app.post(
    '/execute',
    {
      config: { losslessBody: ['parameters'] },
      ...losslessReply,
      schema: {
        tags,
        summary: 'Run a user\'s notebook with parameters and wait for it (writes <stem>_output_<YYYYMMDD_HHMMSS>.ipynb in the home)',
        description:
          'Synchronous, like the seed: answers when the run ends (bounded by the server\'s execute wait, 3600 s by default). ' +
          'A notebook that raises answers 500 with `detail` (as papermill failures did in the seed), a timeout 504.',
        body: SeedExecuteBody,
        response: { 200: SeedExecuteResponse, ...problems(400, 401, 403, 404, 409, 413, 415, 422, 500, 503, 504) },
      },
    },
    async (req, reply) => {
      const { username, notebook_name } = req.body;
      const parameters = (req.body.parameters ?? {}) as NewJob['parameters'];
      ctx.localHomes.homeFor(username);
      assertCanActFor(req.identity, username);
      if (ctx.homes.remote) return executeRemote(ctx, { ...req.body, submitted_by: req.identity?.name ?? username }, reply);
      const home = await ctx.localHomes.existingHome(username);
      const found = await ctx.localHomes.findNotebook(home, notebook_name);
      const rel = found.relative_path;
      // The seed wrote outputs into the home itself; created exclusively, so nothing is ever overwritten.
      const outAbs = await reserveSeedOutput(await realpath(home), rel, { runAs: await lookupRunAs(username) });
      const outName = basename(outAbs);
      let job: Job;
      try {
        job = await runAndWait(
          ctx,
          {
            username,
            notebook: rel,
            parameters,
            submitted_by: req.identity?.name ?? username,
            output_path: outName,
            source: 'seed-execute',
          },
          reply,
        );
      } catch (e) {
        await removeIfEmpty(outAbs);
        if (e instanceof NotebookRunError) (e.extra as Record<string, unknown>).output_notebook = outAbs;
        throw e;
      }
      return {
        status: 'success' as const,
        username,
        input_notebook: join(home, rel),
        output_notebook: join(home, job.output_path ?? outName),
        parameters,
        timestamp: seedTimestamp(),
        job_id: job.id,
      };
    },
  );

  app.post(
    '/run-notebook',
    {
      config: { losslessBody: ['params'] },
      ...losslessReply,
      schema: {
        tags,
        summary: 'Run a notebook given absolute input and output paths inside one user\'s home, and wait for it',
        description:
          'Both paths must lie in the same user\'s home (derived from the home template); the output is overwritten as papermill does. ' +
          'Errors as for /execute.',
        body: SeedRunBody,
        response: { 200: SeedRunResponse, ...problems(400, 401, 403, 404, 409, 413, 415, 422, 500, 503, 504) },
      },
    },
    async (req, reply) => {
      const { input_path, output_path } = req.body;
      if (ctx.homes.remote) {
        throw new UnprocessableError("/run-notebook takes paths on hubmill's machine; with HUBMILL_HOMES=user-server use /execute or /api/v1/jobs");
      }
      const params = (req.body.params ?? {}) as NewJob['parameters'];
      for (const [field, p] of [['input_path', input_path], ['output_path', output_path]] as const) {
        if (p.includes('\0')) throw new UnsafePathError(`${field} contains a NUL byte`);
        if (!p.startsWith('/')) throw new UnsafePathError(`${field} must be an absolute path`);
      }
      const inUser = ctx.localHomes.userForPath(input_path);
      const outUser = ctx.localHomes.userForPath(output_path);
      if (!inUser) throw new UnsafePathError(`input_path must lie inside a user's home (${ctx.config.homeTemplate})`);
      if (!outUser) throw new UnsafePathError(`output_path must lie inside a user's home (${ctx.config.homeTemplate})`);
      if (inUser.username !== outUser.username) throw new UnsafePathError('input_path and output_path must lie in the same home');
      const { username } = inUser;
      assertCanActFor(req.identity, username);
      const home = await ctx.localHomes.existingHome(username);
      const inAbs = await ctx.localHomes.resolveInside(home, input_path, { mustExist: true, allowAbsolute: true });
      const outAbs = await ctx.localHomes.resolveInside(home, output_path, { mustExist: false, allowAbsolute: true });
      const inRel = await ctx.localHomes.relative(home, inAbs);
      const outRel = await ctx.localHomes.relative(home, outAbs);
      if (inRel === '' || outRel === '') throw new UnsafePathError('input_path and output_path must be files inside the home');
      if (inAbs === outAbs) throw new UnsafePathError('output_path must differ from input_path');
      if (!(await stat(inAbs)).isFile()) throw new NotFoundError(`input_path ${input_path} is not a file`);
      const parent = await stat(dirname(outAbs)).catch(() => null);
      if (!parent?.isDirectory()) throw new NotFoundError(`output directory ${dirname(output_path)} does not exist`);
      const job = await runAndWait(
        ctx,
        {
          username,
          notebook: inRel,
          parameters: params,
          submitted_by: req.identity?.name ?? username,
          output_path: outRel,
          source: 'seed-run-notebook',
        },
        reply,
      );
      return {
        status: 'success' as const,
        input_path,
        output_path,
        params,
        username,
        timestamp: seedTimestamp(),
        job_id: job.id,
      };
    },
  );
};

export default seedRoutes;
