/**
 * Values at rest: AES-256-GCM (node:crypto) with a fresh 96-bit nonce per
 * value; the scope and name are the additional data, so a value copied to
 * another row does not open. Stored as `v1.<nonce b64>.<ciphertext+tag b64>`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SecretDecryptError } from './errors.js';
import { keyId } from './key.js';

const VERSION = 'v1';

export class SecretCipher {
  readonly #key: Buffer;
  /** The key's id (key.ts), stored with every value it seals. */
  readonly keyId: string;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new TypeError('the secret key must be 32 bytes');
    this.#key = Buffer.from(key);
    this.keyId = keyId(this.#key);
  }

  seal(value: string, scope: string, name: string): string {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key, nonce);
    c.setAAD(aad(scope, name));
    const body = Buffer.concat([c.update(value, 'utf8'), c.final(), c.getAuthTag()]);
    return `${VERSION}.${nonce.toString('base64')}.${body.toString('base64')}`;
  }

  open(sealed: string, scope: string, name: string): string {
    const [v, n, b] = sealed.split('.');
    if (v !== VERSION || !n || !b) throw new SecretDecryptError(`secret ${name} (${scope}) is not in a known format`);
    const nonce = Buffer.from(n, 'base64');
    const body = Buffer.from(b, 'base64');
    try {
      const d = createDecipheriv('aes-256-gcm', this.#key, nonce);
      d.setAAD(aad(scope, name));
      d.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]).toString('utf8');
    } catch (err) {
      throw new SecretDecryptError(`secret ${name} (${scope}) does not decrypt with the configured key`, { cause: err });
    }
  }
}

function aad(scope: string, name: string): Buffer {
  return Buffer.from(`hubmill-secret\u0000${scope}\u0000${name}`, 'utf8');
}
