/** `GET /metrics`: Prometheus text format (protected like the API; scrapers send `Authorization: Bearer <token>`). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteContext } from '../app.js';
import { problems } from '../schemas.js';

const metricsRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext }> = async (app, { ctx }) => {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        produces: ['text/plain'],
        response: { 200: { description: 'Prometheus exposition format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...problems(401) },
      },
    },
    async (_req, reply) => {
      const { contentType, body } = await ctx.metrics.render();
      return reply.type(contentType).send(body);
    },
  );
};

export default metricsRoutes;
