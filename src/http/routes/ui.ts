/**
 * The web UI (built into dist/ui by scripts/build-ui.mjs from ui/): its page,
 * its hashed assets, the sandboxed frame that renders untrusted HTML outputs,
 * token-link sign-in and sign-out (server-side sessions, browser-sessions.ts), and `ui/api/me` (who the browser is, its
 * XSRF token, whose home to open, which homes an admin may switch to).
 *
 * Headers: the page and assets send a strict CSP (`script-src 'self'`, no
 * inline scripts), nosniff and `frame-ancestors` (the hub is the same origin
 * through its proxy; JUPYTERHUB_HOST is added when set). The output frame is
 * served with `sandbox allow-scripts` and `default-src 'none'`: its scripts
 * run in an opaque origin with no network, no cookies and no parent access.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { NotFoundError } from '../../errors.js';
import { isValidUsername } from '../../users/home-path.js';
import type { RouteContext } from '../context.js';
import { tokenFromRequest } from '../auth.js';
import { acceptForms, SessionsUnavailableError, type BrowserSessions } from '../browser-sessions.js';
import { UnauthorizedError } from '../http-errors.js';
import { wantsHtml } from '../oauth.js';
import { MeView, type MeViewT } from '../schemas.js';

/** dist/ui, from both src/http/routes (tsx) and dist/http/routes (built). */
export const UI_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist', 'ui');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json; charset=utf-8',
};

/** The output frame's policy: scripts may run (Plotly, widgets), but reach nothing. */
export const FRAME_CSP = [
  'sandbox allow-scripts',
  "default-src 'none'",
  "script-src 'unsafe-inline' 'unsafe-eval'",
  "style-src 'unsafe-inline'",
  'img-src data: blob:',
  'font-src data:',
  'media-src data: blob:',
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'self'",
].join('; ');

export function pageCsp(hubHost: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors 'self'${hubHost ? ` ${hubHost}` : ''}`,
  ].join('; ');
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `GET /` from a browser goes to the UI (a `?token=` signs it in first); API clients keep the seed's JSON. */
export function redirectBrowsersToUi(prefix: string): onRequestHookHandler {
  const mount = prefix.replace(/\/$/, '');
  return async (req, reply) => {
    if (!wantsHtml(req)) return;
    const [path, query = ''] = req.url.split('?', 2) as [string, string?];
    if (path !== `${mount}/` && path !== mount) return;
    const token = new URLSearchParams(query).get('token');
    reply.header('cache-control', 'no-store');
    return reply.redirect(token ? `${prefix}ui/signin?token=${encodeURIComponent(token)}` : `${prefix}ui/`, 302);
  };
}

/** Users that have a home under the template's parent folder (for the admin's user switch). */
async function usersWithHomes(template: string, limit = 2000): Promise<string[]> {
  const segs = template.split('/');
  const at = segs.indexOf('{username}');
  const parent = segs.slice(0, at).join('/') || '/';
  const rest = segs.slice(at + 1).join('/');
  const names = await readdir(parent).catch(() => [] as string[]);
  const out: string[] = [];
  for (const n of names.sort()) {
    if (out.length >= limit) break;
    if (!isValidUsername(n) || n.startsWith('.')) continue;
    const st = await stat(join(parent, n, rest)).catch(() => null);
    if (st?.isDirectory()) out.push(n);
  }
  return out;
}

/** `sessions`: null when this app has no browser sign-in (no session store, as with the tests' fakes). */
const uiRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext; sessions: BrowserSessions | null }> = async (app, { ctx, sessions }) => {
  const { config, prefix } = ctx;
  const hub = Boolean(config.jupyterhubApiUrl && config.jupyterhubApiToken);
  const csp = pageCsp(config.jupyterhubHost);
  const pub = { schema: { hide: true }, config: { public: true } };
  let shell: string | null = null;

  const pageHeaders = (reply: FastifyReply) =>
    reply
      .header('content-security-policy', csp)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin');

  async function page(): Promise<string> {
    if (shell === null || process.env.HUBMILL_UI_DEV) {
      let html: string;
      try {
        html = await readFile(join(UI_DIR, 'index.html'), 'utf8');
      } catch {
        throw new NotFoundError('the web UI is not built: run `npm run build`');
      }
      const conf = {
        prefix,
        hub: hub ? { base_url: config.jupyterhubBaseUrl, host: config.jupyterhubHost, login: `${prefix}login` } : null,
      };
      shell = html.replaceAll("__HUBMILL_PREFIX__", prefix).replace('<!--hubmill-config-->', `<meta name="hubmill-config" content="${escapeAttr(JSON.stringify(conf))}">`);
    }
    return shell;
  }

  const index = async (req: FastifyRequest, reply: FastifyReply) => {
    if (tokenFromRequest(req)) return reply.header('cache-control', 'no-store').redirect(`${prefix}ui/signin${req.url.slice(req.url.indexOf('?'))}`, 302);
    pageHeaders(reply).header('cache-control', 'no-store');
    return reply.type('text/html; charset=utf-8').send(await page());
  };
  app.get('/ui/', pub, index); // also /ui (ignoreTrailingSlash)

  // Authenticated by the auth hook; the `?token=` itself must identify someone, and starts a server-side session.
  app.get('/ui/signin', { schema: { hide: true } }, async (req, reply) => {
    const token = tokenFromRequest(req);
    if (token) {
      if (!sessions) throw new SessionsUnavailableError('browser sign-in needs the job store (SQLite or PostgreSQL)');
      await sessions.signInWithToken(req, reply, token);
    }
    return reply.header('cache-control', 'no-store').redirect(`${prefix}ui/`, 302);
  });

  // Sign-out deletes the session in the store (the cookie is dead even if a copy of it survives). It is a POST
  // with the session's XSRF token (the UI's form sends it), so another site cannot sign a user out.
  await app.register(async (scope) => {
    acceptForms(scope);
    scope.post('/ui/signout', pub, async (req, reply) => {
      await sessions?.signOut(req, reply);
      reply.header('cache-control', 'no-store');
      // With a hub, its logout page says so and offers to log in again.
      return reply.redirect(hub ? `${prefix}logout` : `${prefix}ui/`, 303);
    });
  });
  // A GET (an old link or bookmark) changes nothing: it opens the UI, whose button signs out.
  app.get('/ui/signout', pub, async (_req, reply) => reply.header('cache-control', 'no-store').redirect(`${prefix}ui/`, 302));

  app.get('/ui/frame', pub, async (_req, reply) => {
    const html = await readFile(join(UI_DIR, 'frame.html'), 'utf8').catch(() => null);
    if (html === null) throw new NotFoundError('the web UI is not built: run `npm run build`');
    return reply
      .header('content-security-policy', FRAME_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(html);
  });

  app.get('/ui/assets/:file', { ...pub, schema: { hide: true, params: Type.Object({ file: Type.String({ pattern: '^[A-Za-z0-9._-]+$', maxLength: 200 }) }) } }, async (req, reply) => {
    const { file } = req.params;
    const type = TYPES[extname(file)];
    if (!type || file.startsWith('.')) throw new NotFoundError(`no asset ${file}`);
    const body = await readFile(join(UI_DIR, 'assets', file)).catch(() => null);
    if (body === null) throw new NotFoundError(`no asset ${file}`);
    pageHeaders(reply).header('cache-control', 'public, max-age=31536000, immutable');
    return reply.type(type).send(body);
  });

  app.get('/ui/api/me', { schema: { hide: true, response: { 200: MeView } } }, async (req, reply): Promise<MeViewT> => {
    const identity = req.identity;
    if (!identity) throw new UnauthorizedError('not signed in');
    let home: string | null = null;
    const remote = ctx.homes.remote;
    if (identity.kind === 'user') home = identity.name;
    else if (!remote) {
      // The service token (or a hub service) has no home: open the one of the user the service runs as.
      const self = ctx.localHomes.serviceUser;
      if (isValidUsername(self) && (await ctx.localHomes.existingHome(self).then(() => true, () => false))) home = self;
    }
    // With HUBMILL_HOMES=user-server there are no local homes to offer: an admin opens a user by name.
    const users = identity.admin && !remote ? await usersWithHomes(config.homeTemplate) : [];
    reply.header('cache-control', 'no-store');
    return {
      name: identity.name,
      kind: identity.kind,
      admin: identity.admin,
      xsrf_token: sessions?.xsrf(req) ?? null,
      home_user: home,
      users: home && identity.admin && !users.includes(home) ? [home, ...users] : users,
      groups: identity.groups ?? [],
    };
  });
};

export default uiRoutes;
