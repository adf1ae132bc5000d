/**
 * Browser sessions, server-side (issue 18). Signing in (a token link `/?token=…`, or the hub's
 * OAuth, oauth.ts) creates a session in the store (store/session-store.ts) and sets the cookie
 * `hubmill-session` (HttpOnly, SameSite=Lax, Path={prefix}, Secure over https) to its random id:
 * the cookie never holds the token. The store keeps the id's SHA-256, who signed in, the expiry
 * and the token sealed under a key derived from the id (session-crypto.ts), which each request
 * re-checks with the same token checks as a header (the static token, the hub, cached): changing
 * or revoking the token at its source ends the session, and admin rights follow the hub.
 * Sign-out (a POST with the session's XSRF token, so that a link or redirect from another site cannot
 * end a session) deletes the session; an admin deletes all of a user's (routes/sessions.ts); expired
 * ones are refused at once and swept. Requests authenticated by the cookie with an unsafe method
 * must send `X-XSRF-Token` (from `GET ui/api/me` or `GET session`): SameSite does not protect
 * against other pages on the hub's own origin (users' servers under /user/…).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubmillError } from '../errors.js';
import type { SessionStore, SessionVia } from '../store/session-store.js';
import { safeEqual, type Authenticator, type Identity } from './auth.js';
import { appendCookie, rawCookie, secureRequest } from './cookies.js';
import { ForbiddenError, UnauthorizedError } from './http-errors.js';
import { isSessionId, newSessionId, openCredential, sealCredential, sessionIdHash, xsrfForSession } from './session-crypto.js';

export const SESSION_COOKIE = 'hubmill-session';
/** The cookie of earlier versions, which carried the API token itself: never read, cleared whenever seen. */
export const LEGACY_TOKEN_COOKIE = 'hubmill-token';
export const XSRF_HEADER = 'x-xsrf-token';
/** The form field that carries the XSRF token of a sign-out form. */
export const XSRF_FIELD = '_xsrf';

/** The XSRF token a request sent: its header, or the field of a form body (acceptForms). */
export function sentXsrf(req: FastifyRequest): string | null {
  const header = req.headers[XSRF_HEADER];
  if (typeof header === 'string') return header;
  const field = (req.body as Record<string, unknown> | null | undefined)?.[XSRF_FIELD];
  return typeof field === 'string' ? field : null;
}

/** Lets the routes of one encapsulated scope take small `application/x-www-form-urlencoded` bodies (a sign-out form). */
export function acceptForms(scope: FastifyInstance): void {
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
}

/** Lifetime of a token-link session. */
export const TOKEN_LINK_SESSION_S = 7 * 24 * 3600;

/** Something that can say who a bare token belongs to (StaticTokenAuthenticator, HubAuthenticator). */
export interface TokenIdentifier {
  identify(token: string): Promise<Identity | null> | Identity | null;
}

export interface BrowserSessionsOptions {
  store: SessionStore;
  identifiers: TokenIdentifier[];
  /** HUBMILL_COOKIE_SECRET: part of the credential's key and the XSRF token's (the same on every API node). */
  cookieSecret: string;
  /** The service prefix: the cookie's Path. */
  prefix: string;
  /** Mark the cookie Secure on every answer (the hub is served over https), not only on https requests. */
  alwaysSecure?: boolean;
}

/** A browser sign-in on an app built without a session store (only the tests' fake job store). Raised by ui/signin; 503. */
export class SessionsUnavailableError extends HubmillError {
  override readonly code = 'SESSIONS_UNAVAILABLE';
  override readonly httpStatus = 503;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export class BrowserSessions implements Authenticator {
  constructor(private readonly o: BrowserSessionsOptions) {}

  /** The session id the request's cookie carries (well-formed), or null. */
  private cookieId(req: FastifyRequest): string | null {
    const v = rawCookie(req, SESSION_COOKIE);
    return v !== null && isSessionId(v) ? v : null;
  }

  async identify(token: string): Promise<Identity | null> {
    for (const i of this.o.identifiers) {
      const identity = await i.identify(token);
      if (identity) return identity;
    }
    return null;
  }

  async authenticate(req: FastifyRequest): Promise<Identity | null> {
    const id = this.cookieId(req);
    if (id === null) return null;
    const session = await this.o.store.get(sessionIdHash(id));
    if (!session) return null;
    // Refused, not deleted, when the credential does not open (a node with another cookie secret) or its
    // issuer no longer accepts it: a misconfigured node must not end sessions the others still honour.
    const token = openCredential(session.credential, id, this.o.cookieSecret);
    const identity = token === null ? null : await this.identify(token);
    if (!identity || identity.name !== session.username) return null;
    if (UNSAFE.has(req.method)) {
      const sent = req.headers[XSRF_HEADER];
      if (typeof sent !== 'string' || !safeEqual(sent, xsrfForSession(id, this.o.cookieSecret))) {
        throw new ForbiddenError(`a request authenticated by the session cookie must send the ${XSRF_HEADER} header from GET ui/api/me`);
      }
    }
    return identity;
  }

  /** The XSRF token for the session cookie the request carries, or null without one. */
  xsrf(req: FastifyRequest): string | null {
    const id = this.cookieId(req);
    return id === null ? null : xsrfForSession(id, this.o.cookieSecret);
  }

  private cookie(reply: FastifyReply, req: FastifyRequest, name: string, value: string, maxAgeS: number): void {
    appendCookie(reply, name, value, { path: this.o.prefix, secure: secureRequest(req, this.o.alwaysSecure), maxAge: maxAgeS });
  }

  /**
   * Starts a session for `token` (already checked by the caller: `identity` is who it is) and sets
   * its cookie. The session the browser had before, if any, is revoked.
   */
  async signIn(req: FastifyRequest, reply: FastifyReply, s: { identity: Identity; token: string; via: SessionVia; maxAgeS: number }): Promise<void> {
    const old = this.cookieId(req);
    if (old !== null) await this.o.store.revoke(sessionIdHash(old));
    const id = newSessionId();
    await this.o.store.create({
      id_hash: sessionIdHash(id),
      username: s.identity.name,
      kind: s.identity.kind,
      via: s.via,
      credential: sealCredential(s.token, id, this.o.cookieSecret),
      ttl_ms: s.maxAgeS * 1000,
    });
    this.cookie(reply, req, SESSION_COOKIE, id, s.maxAgeS);
    if (rawCookie(req, LEGACY_TOKEN_COOKIE) !== null) this.cookie(reply, req, LEGACY_TOKEN_COOKIE, '', 0);
  }

  /** A token link's sign-in: the token must identify someone (whatever else authenticated the request). */
  async signInWithToken(req: FastifyRequest, reply: FastifyReply, token: string): Promise<Identity> {
    const identity = await this.identify(token);
    if (!identity) throw new UnauthorizedError('invalid token');
    await this.signIn(req, reply, { identity, token, via: 'token-link', maxAgeS: TOKEN_LINK_SESSION_S });
    return identity;
  }

  /**
   * Sign-out: deletes the browser's session and clears its cookie. True when a session was deleted.
   * The request must carry the session's XSRF token (sentXsrf); without a session there is nothing to protect.
   */
  async signOut(req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const id = this.cookieId(req);
    const sent = sentXsrf(req);
    if (id !== null && (sent === null || !safeEqual(sent, xsrfForSession(id, this.o.cookieSecret)))) {
      throw new ForbiddenError(`sign-out must send the session's XSRF token: the ${XSRF_HEADER} header or the ${XSRF_FIELD} form field`);
    }
    const revoked = id === null ? false : await this.o.store.revoke(sessionIdHash(id));
    this.cookie(reply, req, SESSION_COOKIE, '', 0);
    if (rawCookie(req, LEGACY_TOKEN_COOKIE) !== null) this.cookie(reply, req, LEGACY_TOKEN_COOKIE, '', 0);
    return revoked;
  }

  /** Deletes every session of a user; how many. */
  revokeUser(username: string): Promise<number> {
    return this.o.store.revokeUser(username);
  }

  /** Deletes expired sessions every `everyMs` (each node does; deleting twice is harmless). Returns the stop. */
  startSweeping(everyMs: number, onError: (err: unknown) => void): () => void {
    const timer = setInterval(() => void this.o.store.deleteExpired().catch(onError), everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
