/**
 * Browser login through JupyterHub's OAuth (authorization code flow), so anyone
 * opening hubmill in a browser behind the hub is signed in as their hub user.
 *
 *   GET {prefix}login?next=…       sets a signed state cookie, 302 to the hub's
 *                                  /hub/api/oauth2/authorize
 *   GET {prefix}oauth_callback     checks `state` against that cookie (CSRF),
 *                                  exchanges `code` at {api}/oauth2/token with
 *                                  client_id + client_secret (the service's
 *                                  api_token), resolves the access token with
 *                                  {api}/user, starts a browser session, 302 to next
 *   GET {prefix}logout             says the browser is logged out, or, while it has a
 *                                  session, offers a button that POSTs the form below
 *   POST {prefix}logout            ends the browser session (sign-out); the session's
 *                                  XSRF token comes in the form (`_xsrf`) or the header
 *   GET {prefix}session            who the session is, plus its XSRF token
 *
 * The session is server-side (browser-sessions.ts): the cookie holds a random
 * id; the hub's access token stays in the store, sealed, and is re-checked
 * through HubAuthenticator (cached) on each request, so a token revoked at the
 * hub stops working within the cache TTL and admin rights follow the hub.
 * Requests authenticated by the cookie with an unsafe method (POST, PUT, PATCH,
 * DELETE) must also send `X-XSRF-Token` (from `GET {prefix}session`).
 */
import { randomBytes } from 'node:crypto';
import { fastifyCookie } from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { safeEqual } from './auth.js';
import { acceptForms, XSRF_FIELD, type BrowserSessions } from './browser-sessions.js';
import { appendCookie, secureRequest, signedCookie } from './cookies.js';
import { ForbiddenError, UnauthorizedError } from './http-errors.js';
import { HubUnavailableError, type HubAuthenticator } from './hub-auth.js';

export const STATE_COOKIE = 'hubmill-oauth-state';

export interface OAuthOptions {
  /** Service prefix, starting and ending with '/', e.g. /services/hubmill/ */
  prefix: string;
  hubAuth: HubAuthenticator;
  /** JUPYTERHUB_CLIENT_ID, default service-<name>. */
  clientId: string;
  /** The service's api_token (JupyterHub uses it as the OAuth client secret). */
  clientSecret: string;
  /** Where the browser goes to authorize: JUPYTERHUB_HOST + JUPYTERHUB_BASE_URL + hub/api/oauth2/authorize. */
  authorizeUrl: string;
  /** JUPYTERHUB_OAUTH_CALLBACK_URL; must equal what the hub registered (default {prefix}oauth_callback). */
  callbackUrl: string;
  /** HMAC secret for the state cookie. */
  cookieSecret: string;
  /** Mark cookies Secure on every answer (the hub is served over https); otherwise on https requests only. */
  secureCookies?: boolean;
  /** Session cookie lifetime bound (the hub's token expiry wins when shorter). Default 1 day. */
  sessionMaxAgeS?: number;
  /** Bound of the code exchange. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** True for a browser navigating to a page (GET/HEAD asking for HTML): it gets a login redirect instead of a 401. */
export function wantsHtml(req: FastifyRequest): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const accept = req.headers.accept;
  return typeof accept === 'string' && /\btext\/html\b/i.test(accept);
}

/** `next` must stay on our prefix (no open redirect: no scheme, no '//', no backslash). */
export function safeNext(next: unknown, prefix: string): string {
  if (typeof next !== 'string' || next === '' || !next.startsWith(prefix) || next.includes('//') || next.includes('\\')) return prefix;
  if (/[\u0000-\u001f]/.test(next)) return prefix;
  return next;
}

/** The login URL for a request (`next` = where the browser was going). */
export function loginUrl(prefix: string, req: FastifyRequest): string {
  return `${prefix}login?next=${encodeURIComponent(req.url)}`;
}

async function exchangeCode(opts: OAuthOptions, code: string): Promise<{ accessToken: string; expiresInS: number | null }> {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: opts.callbackUrl,
    client_id: opts.clientId,
    client_secret: opts.clientSecret,
  });
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(`${opts.hubAuth.apiUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
  } catch (e) {
    throw new HubUnavailableError('JupyterHub did not answer the OAuth code exchange', { cause: e });
  }
  const text = await res.text();
  if (res.status >= 500) throw new HubUnavailableError(`JupyterHub answered ${res.status} to the OAuth code exchange`);
  let body: { access_token?: unknown; expires_in?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    /* handled below */
  }
  if (res.status !== 200 || typeof body.access_token !== 'string') {
    // A stale or replayed code, or a client misconfiguration: the user can simply log in again.
    throw new ForbiddenError(`OAuth code exchange refused (${res.status}); log in again`);
  }
  return { accessToken: body.access_token, expiresInS: typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : null };
}

/**
 * Registers the login, callback, logout and session routes (all under the
 * prefix). Mark them `public`; the session route uses the normal auth hook.
 */
export async function oauthRoutes(app: FastifyInstance, opts: OAuthOptions & { sessions: BrowserSessions }): Promise<void> {
  const { prefix, cookieSecret, sessions } = opts;
  const sessionMaxAge = opts.sessionMaxAgeS ?? 24 * 3600;
  const setState = (req: FastifyRequest, reply: FastifyReply, value: string, maxAge: number) =>
    appendCookie(reply, STATE_COOKIE, value === '' ? '' : fastifyCookie.sign(value, cookieSecret), {
      path: prefix,
      secure: secureRequest(req, opts.secureCookies),
      maxAge,
    });
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

  app.get(`${prefix}login`, { schema: { hide: true }, config: { public: true } }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const state = randomBytes(24).toString('base64url');
    const next = safeNext(q.next, prefix);
    setState(req, reply, JSON.stringify({ state, next }), 600);
    const url = new URL(opts.authorizeUrl, 'http://placeholder.invalid');
    url.searchParams.set('client_id', opts.clientId);
    url.searchParams.set('redirect_uri', opts.callbackUrl);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('state', state);
    const target = /^https?:\/\//.test(opts.authorizeUrl) ? url.toString() : `${url.pathname}${url.search}`;
    noStore(reply);
    return reply.redirect(target, 302);
  });

  app.get(`${prefix}oauth_callback`, { schema: { hide: true }, config: { public: true } }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    noStore(reply);
    if (typeof q.error === 'string') throw new ForbiddenError(`login refused by JupyterHub: ${q.error}`);
    const raw = signedCookie(req, STATE_COOKIE, cookieSecret);
    let saved: { state?: unknown; next?: unknown } = {};
    try {
      saved = raw ? (JSON.parse(raw) as typeof saved) : {};
    } catch {
      /* treated as missing */
    }
    if (typeof q.state !== 'string' || typeof saved.state !== 'string' || !safeEqual(q.state, saved.state)) {
      throw new ForbiddenError('OAuth state mismatch: start the login again');
    }
    if (typeof q.code !== 'string' || q.code === '') throw new ForbiddenError('OAuth callback without a code');
    const { accessToken, expiresInS } = await exchangeCode(opts, q.code);
    const identity = await opts.hubAuth.identify(accessToken);
    if (!identity) throw new UnauthorizedError('JupyterHub did not accept the token it just issued; log in again');
    setState(req, reply, '', 0);
    await sessions.signIn(req, reply, { identity, token: accessToken, via: 'oauth', maxAgeS: Math.min(sessionMaxAge, expiresInS ?? sessionMaxAge) });
    req.log.info({ user: identity.name }, 'browser login');
    return reply.redirect(safeNext(saved.next, prefix), 302);
  });

  // Logging out changes state, so it is a POST with the session's XSRF token: a link or a redirect from
  // another site (the session cookie is SameSite=Lax, sent on top-level navigations) cannot log anyone out.
  app.get(`${prefix}logout`, { schema: { hide: true }, config: { public: true } }, async (req, reply) => {
    noStore(reply).type('text/html; charset=utf-8');
    const xsrf = sessions.xsrf(req);
    if (xsrf === null) {
      return reply.send(`<!doctype html><meta charset="utf-8"><title>hubmill: logged out</title><p>Logged out of hubmill. <a href="${prefix}login">Log in again</a></p>`);
    }
    return reply.send(
      `<!doctype html><meta charset="utf-8"><title>hubmill: log out</title><form method="post" action="${prefix}logout">` +
        `<input type="hidden" name="${XSRF_FIELD}" value="${xsrf}"><p>Log out of hubmill? <button type="submit">Log out</button></p></form>`,
    );
  });
  await app.register(async (scope) => {
    acceptForms(scope);
    scope.post(`${prefix}logout`, { schema: { hide: true }, config: { public: true } }, async (req, reply) => {
      await sessions.signOut(req, reply);
      return noStore(reply).redirect(`${prefix}logout`, 303);
    });
  });

  app.get(`${prefix}session`, { schema: { hide: true } }, async (req, reply) => {
    const identity = req.identity;
    if (!identity) throw new UnauthorizedError('not logged in');
    noStore(reply);
    return { name: identity.name, kind: identity.kind, admin: identity.admin, xsrf_token: sessions.xsrf(req) };
  });
}
