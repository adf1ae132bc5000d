/**
 * The errors of secrets (secrets/): each names its cause and the HTTP status it answers with.
 */
import { HubmillError } from '../errors.js';

/** A secret is to be stored (or read) but no key is configured. Raised by SecretVault; 503 naming the setting. */
export class SecretKeyMissingError extends HubmillError {
  override readonly code = 'SECRET_KEY_MISSING';
  override readonly httpStatus = 503;
  constructor(what: string) {
    super(`${what}: no secret key is configured; set HUBMILL_SECRET_KEY (or HUBMILL_SECRET_KEY_FILE) to a 32-byte key (44 base64 characters or 64 hex digits)`);
  }
}

/**
 * The store holds secrets that the configured key cannot open (none configured, or another key).
 * Raised at start by SecretVault.checkAtStart; the service does not start.
 */
export class SecretKeyMismatchError extends HubmillError {
  override readonly code = 'SECRET_KEY_MISMATCH';
  override readonly httpStatus = 500;
}

/** A stored value does not decrypt with the key (another key, or a tampered row). Raised by SecretCipher.open; 500. */
export class SecretDecryptError extends HubmillError {
  override readonly code = 'SECRET_DECRYPT';
  override readonly httpStatus = 500;
}

/** A secret's name, scope or value is not acceptable, or a job names a secret it cannot use. Raised by SecretVault and the producer; 422. */
export class SecretRefusedError extends HubmillError {
  override readonly code = 'SECRET_REFUSED';
  override readonly httpStatus = 422;
}

/** A secret already exists (POST) or does not (PUT, DELETE). Raised by SecretVault; 409 / 404. */
export class SecretExistsError extends HubmillError {
  override readonly code = 'SECRET_EXISTS';
  override readonly httpStatus = 409;
}

export class NoSuchSecretError extends HubmillError {
  override readonly code = 'NOT_FOUND';
  override readonly httpStatus = 404;
}
