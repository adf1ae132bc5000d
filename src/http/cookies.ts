/**
 * Cookie helpers for the browser session and the OAuth state cookie. @fastify/cookie's
 * parse/serialize need the plugin registered first (they load `cookie` lazily); these small
 * helpers do not, so the session authenticator works in the root auth hook. Signing is the plugin's.
 */
import { fastifyCookie } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface CookieOptions {
  path: string;
  secure: boolean;
  /** Seconds; 0 clears the cookie. */
  maxAge: number;
}

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

/** Always HttpOnly and SameSite=Lax; Secure as asked. */
export function serializeCookie(name: string, value: string, o: CookieOptions): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, `Path=${o.path}`, `Max-Age=${Math.max(0, Math.floor(o.maxAge))}`];
  if (o.maxAge <= 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  parts.push('HttpOnly', 'SameSite=Lax');
  if (o.secure) parts.push('Secure');
  return parts.join('; ');
}

/** Adds a Set-Cookie header, keeping those already set on the reply. */
export function appendCookie(reply: FastifyReply, name: string, value: string, o: CookieOptions): void {
  const prev = reply.getHeader('set-cookie');
  reply.header('set-cookie', [...(Array.isArray(prev) ? prev : prev ? [String(prev)] : []), serializeCookie(name, value, o)]);
}

/** A cookie's value as sent, or null. */
export function rawCookie(req: FastifyRequest, name: string): string | null {
  const header = req.headers.cookie;
  if (typeof header !== 'string' || header === '') return null;
  return parseCookies(header)[name] || null;
}

/** A cookie signed with `secret` (fastifyCookie.sign), or null when absent or forged. */
export function signedCookie(req: FastifyRequest, name: string, secret: string): string | null {
  const raw = rawCookie(req, name);
  if (!raw) return null;
  const u = fastifyCookie.unsign(raw, secret);
  return u.valid && u.value !== null ? u.value : null;
}

/**
 * Whether a cookie set in answer to `req` is marked Secure: when the request came over HTTPS, as
 * the socket or a trusted proxy's X-Forwarded-Proto says (Fastify's `protocol` believes the header
 * only from an address HUBMILL_TRUST_PROXY lists), or always (`always`: the hub is served over https).
 */
export function secureRequest(req: FastifyRequest, always = false): boolean {
  return always || String(req.protocol).toLowerCase() === 'https';
}
