/**
 * The secret store and the audit record: both stores implement them on the
 * job store's database (SqliteSecretStore, PgSecretStore; the statements are
 * the store core's, core/secret-sql.ts). Values arrive here already sealed
 * (secrets/cipher.ts): the store never sees a plain value.
 *
 * A secret's `scope` is `user:<username>` or `group:<group>`; the audit
 * record is append-only and never holds a value.
 */

export interface SecretRecord {
  scope: string;
  name: string;
  /** The sealed value (secrets/cipher.ts). */
  sealed: string;
  /** The id of the key that sealed it (secrets/key.ts). */
  key_id: string;
  set_by: string;
  created_at_ms: number;
  updated_at_ms: number;
}

/** A secret a job uses, as resolved at submission: its name and the scope it was found in. */
export interface SecretRef {
  name: string;
  /** `user:<username>` or `group:<group>`; absent on a request not yet resolved (the producer resolves it). */
  scope?: string;
}

export interface NewAuditEntry {
  /** Who: the caller's name (or the job's owner for a use by a run). */
  actor: string;
  /** What happened, e.g. `secret.create`, `secret.update`, `secret.delete`, `secret.use`, `permissions.change`. */
  action: string;
  /** What it happened to, e.g. `secret:user:alice/DB_PASSWORD`, `schedule:sch_…`. */
  target: string;
  /** From where: the client's address (after the trusted proxies), or e.g. `job:<id>` for a run. */
  origin: string | null;
  /** More facts (never a value). */
  detail?: Record<string, unknown> | null;
}

export interface AuditEntry extends Required<NewAuditEntry> {
  id: string;
  at_ms: number;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  /** Entries whose target starts with this. */
  target_prefix?: string;
  since_ms?: number;
  until_ms?: number;
  cursor?: string;
  limit: number;
}

export interface AuditStore {
  /** Appends one entry (its own transaction). Permission changes and secret uses are recorded with it. */
  recordAudit(entry: NewAuditEntry): Promise<AuditEntry>;
  /** Newest first, `limit` at most, after an opaque cursor. */
  listAudit(q: AuditQuery): Promise<{ entries: AuditEntry[]; next_cursor: string | null }>;
}

export type SecretWrite = Pick<SecretRecord, 'scope' | 'name' | 'sealed' | 'key_id' | 'set_by'>;

export interface SecretStore {
  /** Inserts a secret with its audit entry in one transaction; null when the scope already has one of that name. */
  createSecret(s: SecretWrite, audit: NewAuditEntry): Promise<SecretRecord | null>;
  /** Replaces a value with its audit entry in one transaction; null when there is no such secret. */
  updateSecret(s: SecretWrite, audit: NewAuditEntry): Promise<SecretRecord | null>;
  /** Removes a secret with its audit entry in one transaction; false when there was none. */
  deleteSecret(scope: string, name: string, audit: NewAuditEntry): Promise<boolean>;
  getSecret(scope: string, name: string): Promise<SecretRecord | null>;
  /** The secrets of these scopes (all of them with null), by scope and name. */
  listSecrets(scopes: readonly string[] | null): Promise<SecretRecord[]>;
  /** How many secrets each key sealed (the start's check and key rotation). */
  keyIds(): Promise<Map<string, number>>;
  /** Re-seals every value in one transaction (key rotation); the audit entry is written in it. Returns the count. */
  resealAll(reseal: (r: SecretRecord) => { sealed: string; key_id: string }, audit: NewAuditEntry): Promise<number>;
}
