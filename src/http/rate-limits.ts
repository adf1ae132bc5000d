/**
 * Request limits that keep one caller from taking the service down:
 *
 * - Requests per IP (before authentication, so a storm of bad tokens never
 *   reaches the hub) and per authenticated user, both through
 *   `@fastify/rate-limit`'s `createRateLimit` (fixed windows of one minute), so
 *   each runs exactly where it must in the hook order. Behind the hub's proxy the
 *   client address comes from X-Forwarded-For (Fastify `trustProxy`).
 *
 * Run quotas per user are not here: the runner's producer owns them for every
 * way a job enters (runner/quota.ts); their refusals (`RUN_QUOTA`) are 429
 * problems with Retry-After too.
 *
 * All refusals are 429 problems (`RATE_LIMITED`) with Retry-After. Admins are
 * not exempt (a runaway script with an admin token is still a runaway).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubmillError } from '../errors.js';
import { plainDefault } from '../settings/table.js';

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

export interface LimitOptions {
  /** Requests per minute per authenticated user; 0 = unlimited. */
  perUserPerMin: number;
  /** Requests per minute per client address; 0 = unlimited. */
  perIpPerMin: number;
  /** Window length (default: HUBMILL_RATE_LIMIT_WINDOW_S's; tests shorten it). */
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
    timeWindow: opts.windowMs ?? plainDefault('rateLimitWindowS') * 1000,
    keyGenerator: (req) => `ip:${req.ip}`,
  }) as unknown as Limiter;
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.url === undefined) return;
    await check(limiter, req, reply, `address ${req.ip}`);
  });
}

/** Per-user request limit. Call after the authentication hook is added, so `req.identity` is known. */
export function installUserLimits(app: FastifyInstance, opts: LimitOptions): void {
  if (opts.perUserPerMin > 0) {
    const limiter = app.createRateLimit({
      max: opts.perUserPerMin,
      timeWindow: opts.windowMs ?? plainDefault('rateLimitWindowS') * 1000,
      keyGenerator: (req) => `user:${req.identity?.kind ?? ''}:${req.identity?.name ?? ''}`,
    }) as unknown as Limiter;
    app.addHook('onRequest', async (req, reply) => {
      if (!req.identity) return;
      await check(limiter, req, reply, `${req.identity.kind} ${req.identity.name}`);
    });
  }
}
