/**
 * The cryptography of browser sessions (browser-sessions.ts):
 * - the session id: 32 random bytes (256 bits), base64url, the only thing the cookie holds;
 * - its SHA-256, the only form of it the store keeps (a copy of the table opens no session);
 * - the credential the server re-checks on each request (the API or OAuth token), sealed with
 *   AES-256-GCM under a key derived (HKDF-SHA256) from the session id and the cookie secret: the
 *   store alone cannot decrypt it, and the cookie carries no part of the token;
 * - the XSRF token, an HMAC of the session id under the cookie secret.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const ID_RE = /^[A-Za-z0-9_-]{43}$/;
const VERSION = 'v1';
const AAD = Buffer.from('hubmill browser session credential v1');

export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** A cookie value shaped like a session id (anything else is not looked up). */
export function isSessionId(s: string): boolean {
  return ID_RE.test(s);
}

export function sessionIdHash(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

function keyFor(id: string, secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(id, 'utf8'), Buffer.from(secret, 'utf8'), AAD, 32));
}

/** `v1.<nonce>.<ciphertext>.<tag>` (base64url): the credential as stored. */
export function sealCredential(token: string, id: string, secret: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', keyFor(id, secret), iv);
  c.setAAD(AAD);
  const ct = Buffer.concat([c.update(token, 'utf8'), c.final()]);
  return [VERSION, iv.toString('base64url'), ct.toString('base64url'), c.getAuthTag().toString('base64url')].join('.');
}

/** The credential, or null when it does not open (another secret, a changed row). */
export function openCredential(sealed: string, id: string, secret: string): string | null {
  const [v, iv, ct, tag] = sealed.split('.');
  if (v !== VERSION || iv === undefined || ct === undefined || tag === undefined) return null;
  try {
    const d = createDecipheriv('aes-256-gcm', keyFor(id, secret), Buffer.from(iv, 'base64url'));
    d.setAAD(AAD);
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** The XSRF token of a session (needs no storage; `GET ui/api/me` and `GET session` hand it out). */
export function xsrfForSession(id: string, secret: string): string {
  return createHmac('sha256', secret).update(`xsrf:${id}`).digest('base64url');
}
