/**
 * `GET /metrics`: Prometheus text format, for admins only (the counts cover every user's jobs);
 * scrapers send `Authorization: Bearer <admin or service token>`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteContext } from '../context.js';
import { problems } from '../schemas.js';
import { ForbiddenError } from '../http-errors.js';

const metricsRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext }> = async (app, { ctx }) => {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        produces: ['text/plain'],
        response: { 200: { description: 'Prometheus exposition format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...problems(401, 403) },
      },
    },
    async (req, reply) => {
      if (!req.identity?.admin) throw new ForbiddenError('metrics are for administrators');
      const { contentType, body } = await ctx.metrics.render();
      return reply.type(contentType).send(body);
    },
  );
};

export default metricsRoutes;
