/**
 * The secrets API: store (POST), list names (GET), replace (PUT) and remove
 * (DELETE) secrets. A value goes in and never comes out: no answer carries it.
 * `scope` is `user` (the caller's, or `username`'s for an admin acting for a
 * user, as in the jobs API) or `group:<name>`, which only hub admins write;
 * every member of the group may use a group secret in a job, nobody reads it.
 * Every write is audited with the caller and their address (runner/secret-vault.ts).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { SecretRecord } from '../../store/secret-store.js';
import type { SecretVault } from '../../runner/secret-vault.js';
import { apiScope, groupScope, scopeUser, storedScope, userScope } from '../../secrets/scope.js';
import type { RouteContext } from '../context.js';
import { assertCanActFor, defaultUsername, type Identity } from '../auth.js';
import { ForbiddenError, UnprocessableError } from '../http-errors.js';
import { problemAs, problems } from '../schemas.js';

const NameT = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$', description: 'The environment variable the kernel gets' });
const ScopeT = Type.String({ pattern: '^(user|group:[^\\s:][^:]{0,254})$', description: '`user` (default) or `group:<hub group>`' });
const UsernameT = Type.String({ minLength: 1, maxLength: 128, description: "Admins: act for this user's `user` scope" });
const ValueT = Type.String({ minLength: 1, maxLength: 65536, description: 'The value (at least 4 characters); never shown again' });

export const SecretView = Type.Object(
  {
    name: Type.String(),
    scope: Type.String({ description: '`user` or `group:<name>`' }),
    username: Type.Union([Type.String(), Type.Null()], { description: 'Whose user secret it is; null for a group secret' }),
    set_by: Type.String({ description: 'Who stored the current value' }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Secret', description: 'A secret as listed: never its value' },
);

const CreateBody = Type.Object({ name: NameT, value: ValueT, scope: Type.Optional(ScopeT), username: Type.Optional(UsernameT) }, { additionalProperties: false });
const ReplaceBody = Type.Object({ value: ValueT }, { additionalProperties: false });
const NameParams = Type.Object({ name: NameT });
const ScopeQuery = Type.Object({ scope: Type.Optional(ScopeT), username: Type.Optional(UsernameT), token: Type.Optional(Type.String()) });

function view(r: SecretRecord): Static<typeof SecretView> {
  return {
    name: r.name,
    scope: apiScope(r.scope),
    username: scopeUser(r.scope),
    set_by: r.set_by,
    created_at: new Date(r.created_at_ms).toISOString(),
    updated_at: new Date(r.updated_at_ms).toISOString(),
  };
}

/** The stored scope a write goes to, after the caller's right to write it is checked (403). */
function writableScope(identity: Identity | null, scope: string | undefined, username: string | undefined): string {
  const s = scope ?? 'user';
  if (s !== 'user') {
    if (!identity?.admin) throw new ForbiddenError('only hub admins write group secrets');
    if (username !== undefined) throw new UnprocessableError('username applies to the user scope only');
    return storedScope(s, '');
  }
  const user = username ?? defaultUsername(identity);
  if (!user) throw new UnprocessableError('username is required when authenticating with the service token');
  assertCanActFor(identity, user);
  return userScope(user);
}

const actorOf = (req: FastifyRequest) => ({ name: req.identity?.name ?? 'unknown', origin: req.ip ?? null });

const secretRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext; secrets: SecretVault }> = async (app, { secrets }) => {
  const tags = ['secrets'];
  app.addSchema(SecretView);
  const keyMissing = problemAs(503, 'No secret key is configured (HUBMILL_SECRET_KEY or HUBMILL_SECRET_KEY_FILE)');

  app.post(
    '/secrets',
    {
      schema: {
        tags,
        summary: 'Store a secret',
        description:
          "201 with the secret's name and scope (never its value). `scope` `user` (default) stores it for the caller, or for `username` " +
          "(admins, as in the jobs API); `group:<name>` (hub admins only) for every member of that hub group. 409 when it exists (use PUT). " +
          '503 when no secret key is configured.',
        body: CreateBody,
        response: { 201: Type.Ref('Secret'), ...problems(400, 401, 403, 409, 422), ...keyMissing },
      },
    },
    async (req, reply) => {
      const scope = writableScope(req.identity, req.body.scope, req.body.username);
      const rec = await secrets.create(scope, req.body.name, req.body.value, actorOf(req));
      return reply.code(201).send(view(rec));
    },
  );

  app.get(
    '/secrets',
    {
      schema: {
        tags,
        summary: 'List secrets (names, never values)',
        description:
          "The caller's own secrets and those of their hub groups; admins see every secret (or `username`'s). `scope` filters. Values are never returned.",
        querystring: ScopeQuery,
        response: { 200: Type.Object({ secrets: Type.Array(Type.Ref('Secret')) }), ...problems(401, 403) },
      },
    },
    async (req) => {
      const id = req.identity;
      let scopes: string[] | null;
      if (id?.admin && req.query.username === undefined) scopes = null;
      else {
        const user = req.query.username ?? defaultUsername(id);
        if (user) assertCanActFor(id, user);
        const groups = user !== null && id?.kind === 'user' && id.name === user ? (id.groups ?? []) : [];
        scopes = [...(user ? [userScope(user)] : []), ...groups.map(groupScope)];
      }
      let list = await secrets.list(scopes);
      const f = req.query.scope;
      if (f !== undefined) list = list.filter((r) => apiScope(r.scope) === f);
      return { secrets: list.map(view) };
    },
  );

  app.put(
    '/secrets/:name',
    {
      schema: {
        tags,
        summary: "Replace a secret's value",
        description: 'Same `scope` and `username` rules as POST (in the query). 404 when there is no such secret.',
        params: NameParams,
        querystring: ScopeQuery,
        body: ReplaceBody,
        response: { 200: Type.Ref('Secret'), ...problems(400, 401, 403, 404, 422), ...keyMissing },
      },
    },
    async (req) => {
      const scope = writableScope(req.identity, req.query.scope, req.query.username);
      return view(await secrets.update(scope, req.params.name, req.body.value, actorOf(req)));
    },
  );

  app.delete(
    '/secrets/:name',
    {
      schema: {
        tags,
        summary: 'Remove a secret',
        description: 'Same `scope` and `username` rules as POST (in the query). Jobs already queued that use it fail when they run.',
        params: NameParams,
        querystring: ScopeQuery,
        response: { 204: Type.Null(), ...problems(401, 403, 404, 422) },
      },
    },
    async (req, reply) => {
      const scope = writableScope(req.identity, req.query.scope, req.query.username);
      await secrets.delete(scope, req.params.name, actorOf(req));
      return reply.code(204).send(null);
    },
  );
};

export default secretRoutes;
