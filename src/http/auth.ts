/**
 * Authentication and per-user authorization for the HTTP API.
 *
 * Authenticators are tried in order; the first that recognises the caller wins.
 * The interim one is `StaticTokenAuthenticator` (HUBMILL_API_TOKEN, acting as
 * admin); a JupyterHub authenticator plugs in through the same interface.
 * Every "may this caller touch user X's things" decision goes through
 * `canActFor` so the rule lives in one place.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ForbiddenError } from './http-errors.js';

export interface Identity {
  /** User or service name; for the service token, 'admin'. */
  name: string;
  admin: boolean;
  /** 'token' = the service's own API token; 'user'/'service' = JupyterHub identities. */
  kind: 'token' | 'user' | 'service';
  scopes: string[];
  /** The JupyterHub groups of a hub user (its model's `groups`, as fresh as the token check); absent: none. */
  groups?: string[];
}

export interface Authenticator {
  /** Returns the caller's identity, or null when this authenticator does not recognise the credentials. */
  authenticate(req: FastifyRequest): Promise<Identity | null> | Identity | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on protected routes; null on public ones. */
    identity: Identity | null;
  }
  interface FastifyContextConfig {
    /** Route needs no credentials (/, /health, /openapi.json). */
    public?: boolean;
  }
}

/**
 * The token a caller sent: `Authorization: token <t>` or `Bearer <t>` (JupyterHub
 * and OAuth clients), else `?token=` (browsers, EventSource, as in Jupyter).
 */
export function tokenFromRequest(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^\s*(token|bearer)\s+(\S+)\s*$/i.exec(h);
    if (m) return m[2]!;
  }
  const q = req.query as Record<string, unknown> | undefined;
  if (q && typeof q.token === 'string' && q.token !== '') return q.token;
  return null;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time string comparison (hashing first makes the lengths equal). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** The service's own admin token (HUBMILL_API_TOKEN or the one generated at start). */
export class StaticTokenAuthenticator implements Authenticator {
  readonly #token: string;
  constructor(token: string) {
    this.#token = token;
  }
  authenticate(req: FastifyRequest): Identity | null {
    const t = tokenFromRequest(req);
    return t === null ? null : this.identify(t);
  }
  /** The identity behind a bare token (also used for the browser's sign-in cookie). */
  identify(t: string): Identity | null {
    if (!safeEqual(t, this.#token)) return null;
    return { name: 'admin', admin: true, kind: 'token', scopes: ['admin:users', 'admin:jobs'] };
  }
}

/**
 * The one authorization rule: admins act for anyone, users for themselves, and
 * a hub identity holding the filtered scope `admin:users!user=<name>` for that
 * user too (see hub-auth.ts for how hub answers become identities).
 */
export function canActFor(identity: Identity | null, username: string): boolean {
  if (!identity) return false;
  return (
    identity.admin ||
    (identity.kind === 'user' && identity.name === username) ||
    (identity.kind !== 'token' && identity.scopes.includes(`admin:users!user=${username}`))
  );
}

/** Throws 403 unless `canActFor`. */
export function assertCanActFor(identity: Identity | null, username: string): void {
  if (!canActFor(identity, username)) throw new ForbiddenError(`not allowed to act for user '${username}'`);
}

/**
 * The owner a listing is filtered by: admins see everyone's (or ?username='s); anyone else sees
 * their own, or those of a user they may act for (403 otherwise).
 */
export function listingOwner(identity: Identity | null, username: string | undefined): string | undefined {
  if (identity?.admin) return username;
  const owner = username ?? identity?.name;
  assertCanActFor(identity, owner ?? '');
  return owner;
}

/** The user a request acts for when it names none: the caller itself, unless it is the service token. */
export function defaultUsername(identity: Identity | null): string | null {
  return identity && identity.kind === 'user' ? identity.name : null;
}

/** The hub groups of the owner of a request's job: known when the caller is that user; otherwise undefined (unknown). */
export function ownerGroups(identity: Identity | null, username: string): string[] | undefined {
  return identity && identity.kind === 'user' && identity.name === username ? identity.groups : undefined;
}

/** Removes `token=` from a URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
}
