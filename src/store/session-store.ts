/**
 * Browser sessions (issue 18): what a signed-in browser's cookie points to.
 * The cookie holds only a random id; the store keeps its SHA-256 (`id_hash`),
 * who signed in, the credential the server re-checks on every request (stored
 * encrypted by the HTTP layer, http/session-crypto.ts) and the expiry. Sign-out
 * revokes one session, an admin all of a user's; expired rows are refused at
 * once and deleted by `deleteExpired`. On PostgreSQL every API node shares the
 * table, so a revocation is seen by all of them on their next request.
 * Times come from the store's clock (PostgreSQL: the database's), as for jobs.
 */
export type SessionVia = 'token-link' | 'oauth';
export type SessionKind = 'token' | 'user' | 'service';

export interface BrowserSession {
  id_hash: string;
  username: string;
  kind: SessionKind;
  via: SessionVia;
  /** The encrypted credential (never the plain token). */
  credential: string;
  created_at_ms: number;
  expires_at_ms: number;
}

export interface NewBrowserSession {
  id_hash: string;
  username: string;
  kind: SessionKind;
  via: SessionVia;
  credential: string;
  /** Lifetime from now (the store's clock). */
  ttl_ms: number;
}

export interface SessionStore {
  create(s: NewBrowserSession): Promise<BrowserSession>;
  /** The session if it exists and has not expired; null otherwise. */
  get(idHash: string): Promise<BrowserSession | null>;
  /** Deletes one session (sign-out); false when there was none. */
  revoke(idHash: string): Promise<boolean>;
  /** Deletes every session of a user (an admin's revoke-all); how many there were. */
  revokeUser(username: string): Promise<number>;
  /** Deletes the expired sessions; how many. */
  deleteExpired(): Promise<number>;
}
