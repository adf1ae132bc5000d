/**
 * The secret key: 32 bytes written as 44 base64 characters or 64 hex digits
 * (HUBMILL_SECRET_KEY, or the first line of HUBMILL_SECRET_KEY_FILE), read
 * once by the settings (settings/table.ts). Kept in the Config as base64.
 */
import { createHmac } from 'node:crypto';

/** The key's 32 bytes, or a reason it is not a key. */
export function decodeSecretKey(text: string): Buffer | string {
  const s = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(s)) {
    const b = Buffer.from(s, 'base64');
    if (b.length === 32) return b;
  }
  return 'expected 32 bytes as 44 base64 characters or 64 hex digits (e.g. `openssl rand -base64 32`)';
}

/** A short, non-secret id of a key (stored with each value, so the start can tell a wrong key from a missing one). */
export function keyId(key: Buffer): string {
  return createHmac('sha256', key).update('hubmill secret key id').digest('hex').slice(0, 16);
}
