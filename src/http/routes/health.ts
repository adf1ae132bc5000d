/**
 * `GET /health` (one of the seed's endpoints, its fields kept): the engine, the
 * kernelspecs, the store and the kernel pool; 503 when notebooks cannot run.
 * Probes call it every few seconds, so it asks the store only what its indexes
 * answer at once (`countActive`: the queued and running jobs), never a count of
 * the whole history; the counts of every status are on /metrics (cached there).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ROLES } from '../../config.js';
import type { RouteContext } from '../context.js';
import { HUBMILL_VERSION } from '../../version.js';
import { seedTimestamp } from '../render.js';

const HealthResponse = Type.Object(
  {
    status: Type.Union([Type.Literal('healthy'), Type.Literal('unhealthy')]),
    papermill_available: Type.Boolean({ description: 'True when a Python kernelspec is found, i.e. notebooks can run' }),
    papermill_path: Type.String({ description: 'The hubmill executable that replaces papermill' }),
    timestamp: Type.String(),
    engine: Type.Object({ name: Type.String(), version: Type.String(), node: Type.String() }),
    kernelspecs: Type.Array(Type.String()),
    store: Type.Object({
      ok: Type.Boolean(),
      error: Type.Optional(Type.String()),
      jobs: Type.Optional(
        Type.Object(
          { queued: Type.Integer(), running: Type.Integer() },
          { description: 'Jobs waiting and running in the store (every node); the counts of every status are /metrics\' hubmill_jobs' },
        ),
      ),
    }),
    pool: Type.Record(Type.String(), Type.Object({ idle: Type.Integer(), starting: Type.Integer(), target: Type.Integer() })),
    running: Type.Integer(),
    concurrency: Type.Integer(),
    role: Type.Union(ROLES.map((r) => Type.Literal(r)), { description: "This node's role (--role)" }),
    worker_id: Type.Union([Type.String(), Type.Null()], { description: 'The worker id this node claims jobs with; null on an api node' }),
  },
  { $id: 'Health' },
);

const healthRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext }> = async (app, { ctx }) => {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: {
        tags: ['seed'],
        summary: 'Health: engine, kernelspecs, store and kernel pool; 503 when notebooks cannot run',
        response: { 200: HealthResponse, 503: HealthResponse },
      },
    },
    async (_req, reply) => {
      const specs = await ctx.cachedKernelspecs().catch(() => []);
      let store: { ok: boolean; error?: string; jobs?: { queued: number; running: number } };
      try {
        const jobs = await Promise.race([
          ctx.store.countActive(),
          new Promise<never>((_, rej) => setTimeout(() => rej(new Error('store did not answer within 2 s')), 2000).unref()),
        ]);
        store = { ok: true, jobs };
      } catch (e) {
        store = { ok: false, error: (e as Error).message };
      }
      const stats = ctx.runner.stats();
      const python = specs.some((s) => s.language.toLowerCase() === 'python');
      const healthy = specs.length > 0 && store.ok;
      return reply.code(healthy ? 200 : 503).send({
        status: healthy ? 'healthy' : 'unhealthy',
        papermill_available: python,
        papermill_path: ctx.enginePath,
        timestamp: seedTimestamp(),
        engine: { name: 'hubmill', version: HUBMILL_VERSION, node: process.version },
        kernelspecs: specs.map((s) => s.name),
        store,
        pool: stats.pool,
        running: stats.running,
        concurrency: stats.concurrency,
        role: ctx.node.role,
        worker_id: ctx.node.workerId,
      });
    },
  );

};

export default healthRoutes;
