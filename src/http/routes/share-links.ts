/**
 * Share links (issue 18): a signed, expiring link to one finished run's rendered
 * output page, for someone without a hub account.
 * - `POST /jobs/{id}/share-links {expires_in_s?}` (manage; default 7 days, at most
 *   30) answers 201 `{id, url, expires_at}`; `GET` lists them, `DELETE …/{link_id}`
 *   revokes one (manage too: a listing shows the URLs).
 * - `GET /shared/{token}` (public) checks the signature (HMAC-SHA256 under the
 *   cookie secret over the link id and its expiry), that the link exists, is not
 *   revoked and has not expired, and shows the output notebook as a static page
 *   (share-page.ts): no API, no other run, no other file. Unknown or forged
 *   links are 404; expired or revoked ones 410.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { HubmillError, NotFoundError } from '../../errors.js';
import { isTerminal } from '../../store/job-store.js';
import type { ShareLink, SharingStore } from '../../store/sharing-store.js';
import type { RouteContext } from '../context.js';
import { safeEqual } from '../auth.js';
import { UnprocessableError } from '../http-errors.js';
import { readOutputText } from '../job-output.js';
import { onPermissionsChanged, type PermissionsChangedHook } from '../permissions-hook.js';
import { iso } from '../render.js';
import { escapeHtml, sharePage, SHARE_PAGE_CSP } from '../share-page.js';
import { JobIdParams, problems } from '../schemas.js';

export const SHARE_LINK_DEFAULT_S = 7 * 86_400;
export const SHARE_LINK_MAX_S = 30 * 86_400;

/** An expired or revoked share link; 410. */
export class LinkGoneError extends HubmillError {
  override readonly code = 'LINK_GONE';
  override readonly httpStatus = 410;
}

const LinkView = Type.Object(
  {
    id: Type.String(),
    job_id: Type.String(),
    url: Type.String({ description: 'The page anyone holding it may open until it expires or is revoked' }),
    created_by: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    expires_at: Type.String({ format: 'date-time' }),
    revoked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { $id: 'ShareLink' },
);

export interface ShareLinkDeps {
  sharing: SharingStore;
  onPermissionsChanged?: PermissionsChangedHook | null;
  now?: () => number;
}

function signature(secret: string, id: string, expiresAtMs: number): string {
  return createHmac('sha256', secret).update(`hubmill-share:${id}:${expiresAtMs}`).digest('base64url');
}

const shareLinkRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext; deps: ShareLinkDeps; api: string }> = async (app, { ctx, deps, api }) => {
  const { sharing } = deps;
  const now = deps.now ?? Date.now;
  const secret = ctx.config.cookieSecret;
  const tags = ['jobs'];
  app.addSchema(LinkView);

  /** The page's absolute URL, on the origin the request came to (through the hub's proxy: the hub's public one). */
  const urlOf = (req: FastifyRequest, l: ShareLink) => `${req.protocol}://${req.host}${ctx.prefix}shared/${l.id}.${signature(secret, l.id, l.expires_at_ms)}`;
  const render = (req: FastifyRequest, l: ShareLink) => ({
    id: l.id,
    job_id: l.job_id,
    url: urlOf(req, l),
    created_by: l.created_by,
    created_at: iso(l.created_at_ms)!,
    expires_at: iso(l.expires_at_ms)!,
    revoked_at: iso(l.revoked_at_ms),
  });

  async function managedJob(req: FastifyRequest, id: string) {
    const job = await ctx.store.get(id);
    if (!job) throw new NotFoundError(`job '${id}' not found`);
    await ctx.access.checkJob(req, job, 'manage');
    return job;
  }

  const TokenQuery = Type.Object({ token: Type.Optional(Type.String()) });

  app.post(
    `${api}/jobs/:id/share-links`,
    {
      schema: {
        tags,
        summary: "Create a signed, expiring link to this finished run's output page (needs manage)",
        description: `\`expires_in_s\` defaults to ${SHARE_LINK_DEFAULT_S} (7 days), at most ${SHARE_LINK_MAX_S} (30 days). The page shows that output notebook only.`,
        params: JobIdParams,
        querystring: TokenQuery,
        body: Type.Object({ expires_in_s: Type.Optional(Type.Integer({ minimum: 1, maximum: SHARE_LINK_MAX_S })) }, { additionalProperties: false }),
        response: { 201: Type.Ref('ShareLink'), ...problems(400, 401, 403, 404, 415, 422) },
      },
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req, reply) => {
      const job = await managedJob(req, req.params.id);
      if (!isTerminal(job.status) || !job.output_path) throw new UnprocessableError(`job '${job.id}' has not finished with an output notebook: only a finished run can be shared by link`);
      const at = now();
      const link = await sharing.createLink({
        id: `sl_${randomBytes(16).toString('base64url')}`,
        job_id: job.id,
        created_by: req.identity?.name ?? job.username,
        created_at_ms: at,
        expires_at_ms: at + (req.body.expires_in_s ?? SHARE_LINK_DEFAULT_S) * 1000,
      });
      await onPermissionsChanged(
        deps.onPermissionsChanged,
        { action: 'share_link.create', kind: 'job', id: job.id, owner: job.username, by: link.created_by, from: req.ip, at_ms: at, link_id: link.id, expires_at_ms: link.expires_at_ms },
        req.log,
      );
      return reply.code(201).send(render(req, link));
    },
  );

  app.get(
    `${api}/jobs/:id/share-links`,
    {
      schema: {
        tags,
        summary: "This run's share links, newest first, revoked ones included (needs manage)",
        params: JobIdParams,
        querystring: TokenQuery,
        response: { 200: Type.Object({ links: Type.Array(Type.Ref('ShareLink')) }), ...problems(401, 403, 404) },
      },
    },
    async (req) => {
      const job = await managedJob(req, req.params.id);
      return { links: (await sharing.links(job.id)).map((l) => render(req, l)) };
    },
  );

  app.delete(
    `${api}/jobs/:id/share-links/:link_id`,
    {
      schema: {
        tags,
        summary: 'Revoke a share link: its page answers 410 from now on (needs manage)',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }), link_id: Type.String({ minLength: 1, maxLength: 100 }) }),
        querystring: TokenQuery,
        response: { 204: Type.Null(), ...problems(401, 403, 404) },
      },
    },
    async (req, reply) => {
      const job = await managedJob(req, req.params.id);
      const at = now();
      if (!(await sharing.revokeLink(job.id, req.params.link_id, at))) throw new NotFoundError(`share link '${req.params.link_id}' of job '${job.id}' not found`);
      await onPermissionsChanged(
        deps.onPermissionsChanged,
        { action: 'share_link.revoke', kind: 'job', id: job.id, owner: job.username, by: req.identity?.name ?? job.username, from: req.ip, at_ms: at, link_id: req.params.link_id },
        req.log,
      );
      return reply.code(204).send(null);
    },
  );

  // The public page: the link is the credential. Errors are small HTML pages under the same sandbox.
  app.get(
    '/shared/:token',
    { schema: { hide: true, params: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }) }, config: { public: true } },
    async (req, reply) => {
      reply
        .header('content-security-policy', SHARE_PAGE_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('x-robots-tag', 'noindex')
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8');
      const fail = (status: number, why: string) => reply.code(status).send(`<!doctype html><meta charset="utf-8"><title>hubmill</title><p>${escapeHtml(why)}</p>`);
      const m = /^(sl_[A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})$/.exec(req.params.token);
      if (!m) return fail(404, 'This link is not valid.');
      const link = await sharing.getLink(m[1]!);
      if (!link || !safeEqual(m[2]!, signature(secret, link.id, link.expires_at_ms))) return fail(404, 'This link is not valid.');
      if (link.revoked_at_ms !== null) return fail(410, 'This link was revoked.');
      if (link.expires_at_ms <= now()) return fail(410, 'This link has expired.');
      const job = await ctx.store.get(link.job_id);
      if (!job) return fail(404, 'The run of this link no longer exists.');
      let nb: unknown;
      try {
        nb = JSON.parse(await readOutputText(ctx, job));
      } catch (err) {
        if (err instanceof NotFoundError || err instanceof SyntaxError) return fail(404, 'The output of this run is no longer available.');
        throw err;
      }
      const name = job.notebook.split('/').pop() ?? job.notebook;
      return reply.send(sharePage(nb, `${name} — ${job.status}`, `Shared by ${link.created_by}; this link expires ${new Date(link.expires_at_ms).toISOString()}.`));
    },
  );
};

export default shareLinkRoutes;
