/**
 * The audit record (`GET /api/v1/audit`), for hub admins: every create,
 * update, delete and use of a secret (and what other features record with
 * `AuditStore.recordAudit`): who, what, when, from where. Never a value.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuditStore } from '../../store/secret-store.js';
import type { RouteContext } from '../context.js';
import { ForbiddenError } from '../http-errors.js';
import { JsonObject, problems } from '../schemas.js';

const AuditEntryView = Type.Object(
  {
    id: Type.String(),
    at: Type.String({ format: 'date-time' }),
    actor: Type.String({ description: 'Who (for a secret used by a run: the job owner)' }),
    action: Type.String({ description: 'secret.create, secret.update, secret.delete, secret.use, secret.rotate-key, …' }),
    target: Type.String({ description: 'What, e.g. secret:user:alice/DB_PASSWORD' }),
    origin: Type.Union([Type.String(), Type.Null()], { description: "From where: the client's address, or job:<id> for a run" }),
    detail: Type.Union([JsonObject, Type.Null()]),
  },
  { $id: 'AuditEntry' },
);

const AuditQuery = Type.Object({
  actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  target: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Entries whose target starts with this, e.g. secret:group:analysts/' })),
  since: Type.Optional(Type.String({ format: 'date-time' })),
  until: Type.Optional(Type.String({ format: 'date-time' })),
  cursor: Type.Optional(Type.String({ maxLength: 500 })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  token: Type.Optional(Type.String()),
});

const auditRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext; audit: AuditStore }> = async (app, { audit }) => {
  app.addSchema(AuditEntryView);
  app.get(
    '/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'The audit record (admins)',
        description: 'Newest first; filter by actor, action, target prefix and time; page with `next_cursor`.',
        querystring: AuditQuery,
        response: { 200: Type.Object({ entries: Type.Array(Type.Ref('AuditEntry')), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(400, 401, 403) },
      },
    },
    async (req) => {
      if (!req.identity?.admin) throw new ForbiddenError('the audit record is for admins');
      const q = req.query;
      const page = await audit.listAudit({
        actor: q.actor,
        action: q.action,
        target_prefix: q.target,
        since_ms: q.since === undefined ? undefined : Date.parse(q.since),
        until_ms: q.until === undefined ? undefined : Date.parse(q.until),
        cursor: q.cursor,
        limit: q.limit,
      });
      return { entries: page.entries.map(({ at_ms, ...e }) => ({ ...e, at: new Date(at_ms).toISOString() })), next_cursor: page.next_cursor };
    },
  );
};

export default auditRoutes;
