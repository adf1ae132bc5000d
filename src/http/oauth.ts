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
 *                                  {api}/user, sets the session cookie, 302 to next
 *   GET {prefix}logout             clears the session cookie
 *   GET {prefix}session            who the session is, plus its XSRF token
 *
 * The session cookie holds the hub's OAuth access token, signed (HMAC) with the
 * cookie secret, HttpOnly, SameSite=Lax, Path={prefix}. Every request resolves
 * it through HubAuthenticator (cached), so a token revoked at the hub stops
 * working within the cache TTL and admin rights follow the hub.
 * Requests authenticated by the cookie with an unsafe method (POST, PUT, PATCH,
 * DELETE) must also send `X-XSRF-Token` (from `GET {prefix}session`): SameSite
 * does not protect against other pages on the hub's own origin (users' servers
 * under /user/…), which could otherwise POST with the victim's cookie.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { fastifyCookie } from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { safeEqual, type Authenticator, type Identity } from './auth.js';
import { ForbiddenError, UnauthorizedError } from './http-errors.js';
import { HubUnavailableError, type HubAuthenticator } from './hub-auth.js';

export const SESSION_COOKIE = 'hubmill-session';
export const STATE_COOKIE = 'hubmill-oauth-state';
export const XSRF_HEADER = 'x-xsrf-token';

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
  /** HMAC secret for the cookies. */
  cookieSecret: string;
  /** Mark cookies Secure (behind https). */
  secureCookies?: boolean;
  /** Session cookie lifetime bound (the hub's token expiry wins when shorter). Default 1 day. */
  sessionMaxAgeS?: number;
  /** Bound of the code exchange. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

// @fastify/cookie's parse/serialize need the plugin registered first (they load `cookie` lazily); these
// two small helpers do not, so the authenticator works in the root auth hook. Signing is the plugin's.
function parseCookies(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const name = part.slice(0, i).trim();
    if (name in out) continue;
    let value = part.slice(i + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      /* undecodable: ignore */
    }
  }
  return out;
}

export function serializeCookie(name: string, value: string, o: { path: string; httpOnly: boolean; sameSite: 'lax'; secure: boolean; maxAge: number }): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, `Path=${o.path}`, `Max-Age=${Math.max(0, Math.floor(o.maxAge))}`];
  if (o.maxAge <= 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  if (o.httpOnly) parts.push('HttpOnly');
  parts.push('SameSite=Lax');
  if (o.secure) parts.push('Secure');
  return parts.join('; ');
}

export function cookieValue(req: FastifyRequest, name: string, secret: string): string | null {
  const header = req.headers.cookie;
  if (typeof header !== 'string' || header === '') return null;
  const raw = parseCookies(header)[name];
  if (!raw) return null;
  const u = fastifyCookie.unsign(raw, secret);
  return u.valid && u.value !== null ? u.value : null;
}

/** The XSRF token of a session: an HMAC of its access token, so it needs no storage. */
export function xsrfFor(accessToken: string, secret: string): string {
  return createHmac('sha256', secret).update(`xsrf:${accessToken}`).digest('base64url');
}

/** Reads the session cookie set by the OAuth callback. */
export class CookieSessionAuthenticator implements Authenticator {
  constructor(
    private readonly hubAuth: HubAuthenticator,
    private readonly cookieSecret: string,
  ) {}

  accessToken(req: FastifyRequest): string | null {
    return cookieValue(req, SESSION_COOKIE, this.cookieSecret);
  }

  async authenticate(req: FastifyRequest): Promise<Identity | null> {
    const token = this.accessToken(req);
    if (token === null) return null;
    const identity = await this.hubAuth.identify(token);
    if (!identity) return null;
    if (UNSAFE.has(req.method)) {
      const sent = req.headers[XSRF_HEADER];
      if (typeof sent !== 'string' || !safeEqual(sent, xsrfFor(token, this.cookieSecret))) {
        throw new ForbiddenError(`a request authenticated by the session cookie must send the ${XSRF_HEADER} header from GET session`);
      }
    }
    return identity;
  }
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
export async function oauthRoutes(app: FastifyInstance, opts: OAuthOptions): Promise<void> {
  const { prefix, cookieSecret } = opts;
  const secure = opts.secureCookies ?? false;
  const sessionMaxAge = opts.sessionMaxAgeS ?? 24 * 3600;
  const cookieOpts = (maxAge: number) => ({ path: prefix, httpOnly: true, sameSite: 'lax' as const, secure, maxAge });
  const setCookie = (reply: FastifyReply, name: string, value: string, maxAge: number) =>
    reply.header('set-cookie', [
      ...((reply.getHeader('set-cookie') as string[] | undefined) ?? []),
      serializeCookie(name, value === '' ? '' : fastifyCookie.sign(value, cookieSecret), cookieOpts(maxAge)),
    ]);
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

  app.get(`${prefix}login`, { schema: { hide: true }, config: { public: true } }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const state = randomBytes(24).toString('base64url');
    const next = safeNext(q.next, prefix);
    setCookie(reply, STATE_COOKIE, JSON.stringify({ state, next }), 600);
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
    const raw = cookieValue(req, STATE_COOKIE, cookieSecret);
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
    setCookie(reply, STATE_COOKIE, '', 0);
    setCookie(reply, SESSION_COOKIE, accessToken, Math.min(sessionMaxAge, expiresInS ?? sessionMaxAge));
    req.log.info({ user: identity.name }, 'browser login');
    return reply.redirect(safeNext(saved.next, prefix), 302);
  });

  app.get(`${prefix}logout`, { schema: { hide: true }, config: { public: true } }, async (req, reply) => {
    const token = cookieValue(req, SESSION_COOKIE, cookieSecret);
    if (token) opts.hubAuth.forget(token);
    setCookie(reply, SESSION_COOKIE, '', 0);
    noStore(reply);
    return reply
      .type('text/html; charset=utf-8')
      .send(`<!doctype html><meta charset="utf-8"><title>hubmill: logged out</title><p>Logged out of hubmill. <a href="${prefix}login">Log in again</a></p>`);
  });

  app.get(`${prefix}session`, { schema: { hide: true } }, async (req, reply) => {
    const identity = req.identity;
    if (!identity) throw new UnauthorizedError('not logged in');
    const token = cookieValue(req, SESSION_COOKIE, cookieSecret);
    noStore(reply);
    return { name: identity.name, kind: identity.kind, admin: identity.admin, xsrf_token: token ? xsrfFor(token, cookieSecret) : null };
  });
}
