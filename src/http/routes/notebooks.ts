/**
 * `GET /api/v1/notebooks?username=`: a user's notebooks with their parameters
 * (papermill's `--help-notebook` view), so a client or the UI can build a run
 * form. Output notebooks are left out unless `outputs=true`. A notebook that
 * cannot be inspected is listed with an `error`, never failing the whole listing.
 * With HUBMILL_HOMES=user-server the notebooks are those of the user's server
 * (`server_name` picks a named one), read through its Contents API.
 */
import { stat } from 'node:fs/promises';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HubmillError } from '../../errors.js';
import type { RouteContext } from '../context.js';
import { assertCanActFor, defaultUsername } from '../auth.js';
import { UnprocessableError } from '../http-errors.js';
import { NotebooksResponse, problems, ServerNameT } from '../schemas.js';
import { Homes } from '../../homes/homes.js';
import { summarizeNotebook } from '../../notebook/inspect.js';

async function mapLimited<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const notebookRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext }> = async (app, { ctx }) => {
  app.get(
    '/notebooks',
    {
      schema: {
        tags: ['notebooks'],
        summary: "A user's notebooks with their parameters",
        querystring: Type.Object({
          username: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Defaults to the caller' })),
          limit: Type.Integer({ minimum: 1, maximum: 2000, default: 500 }),
          outputs: Type.Boolean({
            default: false,
            description:
              'Include output notebooks: files inside `hubmill-outputs` folders (job outputs) and names with `_output_` ' +
              '(the seed\'s `/execute` outputs). Default false: only inputs are listed. `/list-notebooks/{username}` lists everything, as the seed did.',
          }),
          server_name: Type.Optional(ServerNameT),
        }),
        response: { 200: NotebooksResponse, ...problems(400, 401, 403, 404, 422, 502, 503) },
      },
    },
    async (req) => {
      const username = req.query.username ?? defaultUsername(req.identity);
      if (!username) throw new UnprocessableError('username is required when authenticating with the service token');
      ctx.localHomes.homeFor(username);
      assertCanActFor(req.identity, username);
      if (ctx.homes.remote) {
        return Homes.using(ctx.homes.forUser(username, req.query.server_name), async (home) => {
          const files = await home.listNotebooks({ maxCount: req.query.limit + 1, skipOutputs: !req.query.outputs });
          const shown = files.slice(0, req.query.limit);
          const notebooks = await mapLimited(shown, 4, async (f) => {
            const base = { name: f.name, path: f.relative_path, size: f.size, modified: new Date(f.modified).toISOString() };
            try {
              const info = summarizeNotebook((await home.readNotebook(f.relative_path)).notebook);
              return { ...base, kernel: info.kernel, language: info.language, parameters: info.parameters, error: null };
            } catch (e) {
              const code = e instanceof HubmillError ? e.code : 'INSPECT_FAILED';
              return { ...base, kernel: null, language: null, parameters: [], error: { code, detail: (e as Error).message } };
            }
          });
          return { username, user_home: '', notebook_count: notebooks.length, truncated: files.length > req.query.limit, notebooks };
        });
      }
      const home = ctx.homes.forUser(username);
      const files = await home.listNotebooks({ maxCount: req.query.limit + 1, skipOutputs: !req.query.outputs });
      const truncated = files.length > req.query.limit;
      const shown = files.slice(0, req.query.limit);
      const notebooks = await mapLimited(shown, 8, async (f) => {
        const st = await stat(f.path).catch(() => null);
        const base = {
          name: f.name,
          path: f.relative_path,
          size: f.size,
          modified: new Date(st?.mtimeMs ?? 0).toISOString(),
        };
        if (!ctx.inspectNotebook) {
          return { ...base, kernel: null, language: null, parameters: [], error: { code: 'UNAVAILABLE', detail: 'inspection is not available' } };
        }
        try {
          const info = await ctx.inspectNotebook(f.path);
          return { ...base, kernel: info.kernel, language: info.language, parameters: info.parameters, error: null };
        } catch (e) {
          const code = e instanceof HubmillError ? e.code : 'INSPECT_FAILED';
          return { ...base, kernel: null, language: null, parameters: [], error: { code, detail: (e as Error).message } };
        }
      });
      return { username, user_home: home.root, notebook_count: notebooks.length, truncated, notebooks };
    },
  );
};

export default notebookRoutes;
