/** `GET /api/v1/kernelspecs`: the kernels jobs can run on (the kernel gateway's when one is configured; 503 when it cannot tell), and how many warm ones are pooled. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteContext } from '../context.js';
import { problems } from '../schemas.js';

const KernelspecsResponse = Type.Object({
  default: Type.Union([Type.String(), Type.Null()]),
  kernelspecs: Type.Array(
    Type.Object({
      name: Type.String(),
      display_name: Type.String(),
      language: Type.String(),
      interrupt_mode: Type.String(),
      resource_dir: Type.String(),
      pool: Type.Union([Type.Object({ idle: Type.Integer(), starting: Type.Integer(), target: Type.Integer() }), Type.Null()]),
    }),
  ),
});

const kernelspecRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext }> = async (app, { ctx }) => {
  app.get(
    '/kernelspecs',
    {
      schema: {
        tags: ['kernelspecs'],
        summary: "Jupyter kernelspecs jobs can use (this machine's, or the kernel gateway's)",
        response: { 200: KernelspecsResponse, ...problems(401, 503) },
      },
    },
    async () => {
      const specs = await ctx.kernelspecs();
      const pool = ctx.runner.stats().pool;
      const python = specs.find((s) => s.name === 'python3') ?? specs.find((s) => s.language.toLowerCase() === 'python');
      return {
        default: python?.name ?? specs[0]?.name ?? null,
        kernelspecs: specs.map((s) => ({
          name: s.name,
          display_name: s.display_name,
          language: s.language,
          interrupt_mode: s.interrupt_mode,
          resource_dir: s.resource_dir,
          pool: pool[s.name] ?? null,
        })),
      };
    },
  );
};

export default kernelspecRoutes;
