/**
 * Request limits that keep one caller from taking the service down:
 *
 * - Requests per IP (before authentication, so a storm of bad tokens never
 *   reaches the hub) and per authenticated user, both through
 *   `@fastify/rate-limit`'s `createRateLimit` (fixed windows of one minute), so
 *   each runs exactly where it must in the hook order. Behind the hub's proxy the
 *   client address comes from X-Forwarded-For (Fastify `trustProxy`).
 * - Run quotas per user at submission (`POST /api/v1/jobs`, `/execute`,
 *   `/run-notebook`): at most `maxRunningPerUser` running plus
 *   `maxQueuedPerUser` waiting. Submissions still being handled count too, so
 *   parallel requests cannot slip past the check in one process.
 *
 * All refusals are 429 problems (`RATE_LIMITED`, `RUN_QUOTA`) with Retry-After.
 * Admins are not exempt (a runaway script with an admin token is still a
 * runaway). A quota belongs to the user whose notebook runs, whoever submits it.
 * Checked at submission: running + waiting stays within maxRunningPerUser +
 * maxQueuedPerUser; the runner's global concurrency decides what starts, so a
 * user's waiting runs may start beyond `maxRunningPerUser` when slots are free.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubmillError } from '../errors.js';
import type { JobStore } from '../store/job-store.js';
import { defaultUsername } from './auth.js';

/** Too many requests from one user or address in the current window. Raised by the limit hooks; 429. */
export class RateLimitedError extends HubmillError {
  override readonly code: string = 'RATE_LIMITED';
  override readonly httpStatus = 429;
  override readonly extra: Record<string, unknown>;
  constructor(message: string, retryAfterS: number) {
    super(message);
    this.extra = { retry_after: retryAfterS };
  }
}

/** The user already has the allowed number of runs running and waiting. Raised at submission; 429. */
export class RunQuotaError extends RateLimitedError {
  override readonly code = 'RUN_QUOTA';
}

export interface LimitOptions {
  /** Requests per minute per authenticated user; 0 = unlimited. */
  perUserPerMin: number;
  /** Requests per minute per client address; 0 = unlimited. */
  perIpPerMin: number;
  /** Runs one user may have running at once (0 = unlimited). */
  maxRunningPerUser: number;
  /** Runs one user may have waiting in the queue (0 = unlimited). */
  maxQueuedPerUser: number;
  /** Seconds a quota refusal suggests waiting. */
  quotaRetryAfterS?: number;
  /** Window length (default 60 s; tests shorten it). */
  windowMs?: number;
}

type Limiter = (req: FastifyRequest) => Promise<{ isAllowed: boolean; isExceeded: boolean; ttlInSeconds: number; max: number; remaining: number }>;

function applyHeaders(reply: FastifyReply, r: { max: number; remaining: number; ttlInSeconds: number }): void {
  reply.header('x-ratelimit-limit', r.max);
  reply.header('x-ratelimit-remaining', r.remaining);
  reply.header('x-ratelimit-reset', r.ttlInSeconds);
}

async function check(limiter: Limiter, req: FastifyRequest, reply: FastifyReply, who: string): Promise<void> {
  const r = await limiter(req);
  if (r.isAllowed) return;
  applyHeaders(reply, r);
  if (r.isExceeded) {
    const after = Math.max(1, r.ttlInSeconds);
    reply.header('retry-after', after);
    throw new RateLimitedError(`rate limit exceeded for ${who}: at most ${r.max} requests per window; retry in ${after} s`, after);
  }
}

/**
 * Registers the plugin and the per-IP hook. Call before the authentication
 * hook is added (hooks run in the order they are added).
 */
export async function installIpLimit(app: FastifyInstance, opts: LimitOptions): Promise<void> {
  await app.register(rateLimit, { global: false });
  if (opts.perIpPerMin <= 0) return;
  const limiter = app.createRateLimit({
    max: opts.perIpPerMin,
    timeWindow: opts.windowMs ?? 60_000,
    keyGenerator: (req) => `ip:${req.ip}`,
  }) as unknown as Limiter;
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.url === undefined) return;
    await check(limiter, req, reply, `address ${req.ip}`);
  });
}

const SUBMIT_ROUTES = [/\/api\/v1\/jobs$/, /\/execute$/, /\/run-notebook$/];

/**
 * Per-user request limit and run quotas. Call after the authentication hook is
 * added, so `req.identity` is known.
 */
export function installUserLimits(app: FastifyInstance, store: JobStore, opts: LimitOptions): void {
  if (opts.perUserPerMin > 0) {
    const limiter = app.createRateLimit({
      max: opts.perUserPerMin,
      timeWindow: opts.windowMs ?? 60_000,
      keyGenerator: (req) => `user:${req.identity?.kind ?? ''}:${req.identity?.name ?? ''}`,
    }) as unknown as Limiter;
    app.addHook('onRequest', async (req, reply) => {
      if (!req.identity) return;
      await check(limiter, req, reply, `${req.identity.kind} ${req.identity.name}`);
    });
  }

  if (opts.maxRunningPerUser <= 0 && opts.maxQueuedPerUser <= 0) return;
  // Submissions past the check whose job may not be in the store yet, per user (timestamps).
  // Released when the answer goes out, or after PENDING_MS (a synchronous /execute holds its
  // request for the whole run, but its job is in the store within milliseconds).
  const PENDING_MS = 1000;
  const pending = new Map<string, number[]>();
  const held = Symbol('hubmill.quotaHeld');
  type Held = FastifyRequest & { [held]?: { user: string; at: number } };
  const live = (user: string): number[] => {
    const now = Date.now();
    const list = (pending.get(user) ?? []).filter((t) => now - t < PENDING_MS);
    if (list.length) pending.set(user, list);
    else pending.delete(user);
    return list;
  };
  const release = (req: Held) => {
    const h = req[held];
    if (!h) return;
    req[held] = undefined;
    const list = pending.get(h.user);
    if (!list) return;
    const i = list.indexOf(h.at);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) pending.delete(h.user);
  };

  app.addHook('preHandler', async (req: Held, reply) => {
    if (req.method !== 'POST' || !req.routeOptions.url || !SUBMIT_ROUTES.some((r) => r.test(req.routeOptions.url!))) return;
    // The user whose notebook runs; /run-notebook names none (its path does): the caller's quota applies.
    const body = (req.body ?? {}) as { username?: unknown };
    const username = (typeof body.username === 'string' && body.username !== '' ? body.username : defaultUsername(req.identity)) ?? req.identity?.name ?? null;
    if (!username) return;
    const maxRunning = opts.maxRunningPerUser > 0 ? opts.maxRunningPerUser : Infinity;
    const maxQueued = opts.maxQueuedPerUser > 0 ? opts.maxQueuedPerUser : Infinity;
    const cap = maxRunning + maxQueued;
    if (!Number.isFinite(cap)) return;
    const limit = cap + 1;
    const page = await store.list({ username, status: ['queued', 'running'], limit });
    const running = page.jobs.filter((j) => j.status === 'running').length;
    const queued = page.jobs.length - running + live(username).length;
    // A user's active runs (running + waiting) stay within both caps together; which runs
    // actually start is the runner's business, so the split between the two is not checked.
    if (running + queued + 1 > cap) {
      const after = opts.quotaRetryAfterS ?? 5;
      reply.header('retry-after', after);
      throw new RunQuotaError(
        `run quota reached for user '${username}': ${running} running and ${queued} waiting ` +
          `(at most ${opts.maxRunningPerUser || 'unlimited'} running plus ${opts.maxQueuedPerUser || 'unlimited'} waiting); retry when a run finishes`,
        after,
      );
    }
    const at = Date.now() + Math.random() / 1000; // unique per submission
    const list = live(username);
    list.push(at);
    pending.set(username, list);
    req[held] = { user: username, at };
  });
  // The job is in the store once the handler answered (or failed): stop counting it as pending.
  app.addHook('onSend', async (req: Held) => release(req));
  app.addHook('onResponse', async (req: Held) => release(req));
  app.addHook('onRequestAbort', async (req: Held) => release(req));
}
