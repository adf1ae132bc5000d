/**
 * Callers authenticated by JupyterHub: the token from `Authorization: token|Bearer`
 * (or `?token=`) is resolved with `GET {JUPYTERHUB_API_URL}/user`, as JupyterHub's
 * own `HubAuth` does, and the answer `{kind, name, admin, scopes}` becomes an
 * `Identity`.
 *
 * How hub answers map to rights (the one rule, `canActFor` in auth.ts, reads them):
 * - Access: the token must carry `access:services` or
 *   `access:services!service=<our name>` (JupyterHub's default access scope for
 *   a service, `JUPYTERHUB_OAUTH_ACCESS_SCOPES`); a hub that reports no scopes
 *   (JupyterHub < 2) is trusted as before. A recognised token without it is 403.
 * - Admin (act for anyone, see and cancel everyone's jobs): `admin: true` in the
 *   model, or the unfiltered `admin:users` scope (hub admins' tokens expand to it;
 *   a service is given it through a role). A token whose scopes were narrowed
 *   when it was issued loses `admin:users` and with it the admin right.
 * - Acting for one other user: the filtered scope `admin:users!user=<name>`
 *   (a role such as `{"scopes": ["admin:users!user=alice"]}` on a service).
 *   Group filters (`!group=`) are not expanded: they grant nothing here.
 * - Everybody else acts only for themselves (users) or for nobody (services).
 *
 * The hub is asked at most once per token per TTL (default 60 s): answers are
 * cached under a SHA-256 of the token (the raw token is never kept as a key or
 * logged), the cache is bounded (oldest entries go first), a token the hub
 * rejects is remembered only briefly (5 s) so a fresh token works at once, and
 * concurrent look-ups of one token share one hub call. A hub that is down, slow
 * (timeout, default 5 s) or answering 5xx is a 503 `HUB_UNAVAILABLE`, never a
 * 401: a client must not conclude its token is bad because the hub restarted.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HubmillError } from '../errors.js';
import { ForbiddenError } from './http-errors.js';
import { tokenFromRequest, type Authenticator, type Identity } from './auth.js';
import { plainDefault } from '../settings/table.js';

/** JupyterHub could not be asked (down, timeout, 5xx, unreadable answer). Raised by HubAuthenticator; 503. */
export class HubUnavailableError extends HubmillError {
  override readonly code = 'HUB_UNAVAILABLE';
  override readonly httpStatus = 503;
}

/** The subset of JupyterHub's user/service model hubmill reads. */
export interface HubModel {
  kind?: 'user' | 'service';
  name: string;
  admin?: boolean;
  scopes?: string[];
  groups?: string[];
}

export interface HubAuthOptions {
  /** JUPYTERHUB_API_URL, e.g. http://127.0.0.1:8081/hub/api */
  apiUrl: string;
  /** Our service name (JUPYTERHUB_SERVICE_NAME), for the access scope. Default 'hubmill'. */
  serviceName?: string;
  /** Require the access scope (default true). */
  requireAccessScope?: boolean;
  cacheTtlMs?: number;
  /** How long a token the hub rejected stays rejected without asking again. */
  failureTtlMs?: number;
  maxEntries?: number;
  /** Bound of one hub call. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

type Entry = { at: number; ttl: number; identity: Identity | null };

const tokenKey = (token: string): string => createHash('sha256').update(token, 'utf8').digest('base64url');

export function hasScope(scopes: readonly string[], scope: string): boolean {
  return scopes.includes(scope);
}

/** Maps a hub model to an Identity (see the rules in the header). */
export function identityFromHubModel(model: HubModel): Identity {
  const scopes = Array.isArray(model.scopes) ? model.scopes.filter((s): s is string => typeof s === 'string') : [];
  const admin = model.admin === true || hasScope(scopes, 'admin:users');
  const groups = Array.isArray(model.groups) ? model.groups.filter((g): g is string => typeof g === 'string') : undefined;
  return { name: model.name, kind: model.kind === 'service' ? 'service' : 'user', admin, scopes, ...(groups ? { groups } : {}) };
}

/** The users (besides itself) an identity may act for through filtered `admin:users!user=` scopes. */
export function delegatedUsers(identity: Identity): string[] {
  return identity.scopes.filter((s) => s.startsWith('admin:users!user=')).map((s) => s.slice('admin:users!user='.length));
}

export class HubAuthenticator implements Authenticator {
  readonly apiUrl: string;
  readonly serviceName: string;
  readonly #requireAccess: boolean;
  readonly #ttl: number;
  readonly #failureTtl: number;
  readonly #max: number;
  readonly #timeout: number;
  readonly #fetch: typeof fetch;
  readonly #cache = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<Identity | null>>();
  /** Hub calls made (tests check the cache with it). */
  hubCalls = 0;

  constructor(opts: HubAuthOptions) {
    this.apiUrl = opts.apiUrl.replace(/\/+$/, '');
    this.serviceName = opts.serviceName ?? 'hubmill';
    this.#requireAccess = opts.requireAccessScope ?? true;
    this.#ttl = opts.cacheTtlMs ?? plainDefault('hubAuthCacheS') * 1000;
    this.#failureTtl = opts.failureTtlMs ?? 5_000;
    this.#max = opts.maxEntries ?? 10_000;
    this.#timeout = opts.timeoutMs ?? 5_000;
    this.#fetch = opts.fetch ?? fetch;
  }

  async authenticate(req: FastifyRequest): Promise<Identity | null> {
    const token = tokenFromRequest(req);
    return token === null ? null : this.identify(token);
  }

  /**
   * The identity behind a hub token; null when the hub does not know the token
   * (bad, expired, revoked). Throws ForbiddenError (403) when the token lacks
   * the access scope and HubUnavailableError (503) when the hub cannot answer.
   */
  async identify(token: string): Promise<Identity | null> {
    const identity = await this.#lookup(token);
    if (identity && this.#requireAccess && !this.hasAccess(identity)) {
      throw new ForbiddenError(`token lacks the scope access:services!service=${this.serviceName}`);
    }
    return identity;
  }

  hasAccess(identity: Identity): boolean {
    if (identity.scopes.length === 0) return true; // JupyterHub < 2 reports no scopes
    return hasScope(identity.scopes, 'access:services') || hasScope(identity.scopes, `access:services!service=${this.serviceName}`);
  }

  /** Forgets a token (logout). */
  forget(token: string): void {
    this.#cache.delete(tokenKey(token));
  }

  async #lookup(token: string): Promise<Identity | null> {
    const key = tokenKey(token);
    const now = Date.now();
    const hit = this.#cache.get(key);
    if (hit) {
      if (now - hit.at < hit.ttl) return hit.identity;
      this.#cache.delete(key);
    }
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const p = this.fetchModel(token)
      .then((model) => {
        const identity = model ? identityFromHubModel(model) : null;
        this.#remember(key, identity, identity ? this.#ttl : this.#failureTtl);
        return identity;
      })
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }

  #remember(key: string, identity: Identity | null, ttl: number): void {
    this.#cache.delete(key);
    this.#cache.set(key, { at: Date.now(), ttl, identity });
    while (this.#cache.size > this.#max) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
  }

  /** `GET {apiUrl}/user` with the caller's token: the model, or null for a token the hub rejects (401/403). */
  async fetchModel(token: string): Promise<HubModel | null> {
    this.hubCalls++;
    let res: Response;
    try {
      res = await this.#fetch(`${this.apiUrl}/user`, {
        headers: { authorization: `token ${token}`, accept: 'application/json' },
        signal: AbortSignal.timeout(this.#timeout),
        redirect: 'manual',
      });
    } catch (e) {
      const why = (e as Error).name === 'TimeoutError' ? `no answer within ${this.#timeout} ms` : 'unreachable';
      throw new HubUnavailableError(`JupyterHub is ${why}; try again shortly`, { cause: e });
    }
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      await res.arrayBuffer().catch(() => undefined);
      return null;
    }
    if (res.status !== 200) {
      await res.arrayBuffer().catch(() => undefined);
      throw new HubUnavailableError(`JupyterHub answered ${res.status} to the token check; try again shortly`);
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch (e) {
      throw new HubUnavailableError('JupyterHub sent an unreadable answer to the token check', { cause: e });
    }
    const m = body as Partial<HubModel> | null;
    if (!m || typeof m.name !== 'string' || m.name === '') throw new HubUnavailableError('JupyterHub sent a user model without a name');
    return m as HubModel;
  }
}
