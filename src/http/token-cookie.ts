/**
 * Browser sign-in without a hub: opening `/?token=…` (or `ui/signin?token=…`)
 * stores the token in an HttpOnly, signed cookie (`hubmill-token`, SameSite=Lax,
 * Path={prefix}) and redirects to the UI without the token in the address bar.
 * The cookie's token is checked on every request by the same token checks as
 * a header would be (the static token, hub tokens), so changing or revoking the
 * token ends the session. Unsafe methods authenticated by this cookie must send
 * `X-XSRF-Token` (see oauth.ts; the value comes from `GET ui/api/me`).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { fastifyCookie } from '@fastify/cookie';
import { safeEqual, type Authenticator, type Identity } from './auth.js';
import { ForbiddenError } from './http-errors.js';
import { cookieValue, serializeCookie, xsrfFor, XSRF_HEADER } from './oauth.js';

export const TOKEN_COOKIE = 'hubmill-token';

/** Something that can say who a bare token belongs to (StaticTokenAuthenticator, HubAuthenticator). */
export interface TokenIdentifier {
  identify(token: string): Promise<Identity | null> | Identity | null;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export class TokenCookieAuthenticator implements Authenticator {
  constructor(
    private readonly identifiers: TokenIdentifier[],
    private readonly cookieSecret: string,
  ) {}

  token(req: FastifyRequest): string | null {
    return cookieValue(req, TOKEN_COOKIE, this.cookieSecret);
  }

  async authenticate(req: FastifyRequest): Promise<Identity | null> {
    const token = this.token(req);
    if (token === null) return null;
    let identity: Identity | null = null;
    for (const i of this.identifiers) {
      identity = await i.identify(token);
      if (identity) break;
    }
    if (!identity) return null;
    if (UNSAFE.has(req.method)) {
      const sent = req.headers[XSRF_HEADER];
      if (typeof sent !== 'string' || !safeEqual(sent, xsrfFor(token, this.cookieSecret))) {
        throw new ForbiddenError(`a request authenticated by the sign-in cookie must send the ${XSRF_HEADER} header from GET ui/api/me`);
      }
    }
    return identity;
  }
}

/** Sets (value) or clears (null) the token cookie on a reply. */
export function setTokenCookie(reply: FastifyReply, o: { prefix: string; secret: string; secure: boolean; value: string | null; maxAgeS?: number }): void {
  const value = o.value === null ? '' : fastifyCookie.sign(o.value, o.secret);
  const cookie = serializeCookie(TOKEN_COOKIE, value, {
    path: o.prefix,
    httpOnly: true,
    sameSite: 'lax',
    secure: o.secure,
    maxAge: o.value === null ? 0 : (o.maxAgeS ?? 7 * 24 * 3600),
  });
  const prev = reply.getHeader('set-cookie');
  reply.header('set-cookie', [...(Array.isArray(prev) ? prev : prev ? [String(prev)] : []), cookie]);
}
