/**
 * The secrets as the rest of hubmill uses them: the API's writes (sealed
 * here, audited in the same transaction), the names a job may use (resolved
 * at submission, 422 otherwise), and the values a run gets (opened at run
 * time, each use audited) with the redactor of those values.
 *
 * The key is the Config's (HUBMILL_SECRET_KEY / _FILE); without one, writes
 * answer 503 and a store that holds secrets refuses to start (`checkAtStart`).
 */
import type { AuditEntry, AuditQuery, AuditStore, NewAuditEntry, SecretRecord, SecretRef, SecretStore } from '../store/secret-store.js';
import { SecretCipher } from '../secrets/cipher.js';
import { NoSuchSecretError, SecretExistsError, SecretKeyMismatchError, SecretKeyMissingError, SecretRefusedError } from '../secrets/errors.js';
import { Redactor, MIN_SECRET_LENGTH, type NamedValue } from '../secrets/redactor.js';
import { checkSecretName, groupScope, userScope } from '../secrets/scope.js';

export const MAX_SECRET_BYTES = 64 * 1024;
/** At most this many secrets per job. */
export const MAX_JOB_SECRETS = 64;

/** Who writes, and from where (for the audit record). */
export interface SecretActor {
  name: string;
  origin: string | null;
}

/** The values a run gets: its kernel's environment, and the redactor of those values. */
export interface OpenedSecrets {
  env: Record<string, string>;
  values: NamedValue[];
  redactor: Redactor;
}

export const secretTarget = (scope: string, name: string): string => `secret:${scope}/${name}`;

export class SecretVault {
  readonly cipher: SecretCipher | null;

  constructor(
    readonly store: SecretStore & AuditStore,
    key: Buffer | null,
  ) {
    this.cipher = key ? new SecretCipher(key) : null;
  }

  /** Base64 key text (the Config's form) to a vault. */
  static fromConfig(store: SecretStore & AuditStore, secretKey: string | null): SecretVault {
    return new SecretVault(store, secretKey === null ? null : Buffer.from(secretKey, 'base64'));
  }

  /**
   * A store with secrets but no key, or with values another key sealed, is a clear error at start rather
   * than a failure at the first job that uses one.
   */
  async checkAtStart(): Promise<void> {
    const ids = await this.store.keyIds();
    const total = [...ids.values()].reduce((a, b) => a + b, 0);
    if (total === 0) return;
    if (!this.cipher) {
      throw new SecretKeyMismatchError(
        `the store holds ${total} secret(s) but no secret key is configured: set HUBMILL_SECRET_KEY (or HUBMILL_SECRET_KEY_FILE) to the key that sealed them`,
      );
    }
    const other = [...ids].filter(([id]) => id !== this.cipher!.keyId);
    if (other.length > 0) {
      const n = other.reduce((a, [, c]) => a + c, 0);
      throw new SecretKeyMismatchError(
        `${n} stored secret(s) were sealed with another key (key id ${other.map(([id]) => id).join(', ')}; configured: ${this.cipher.keyId}): ` +
          'configure that key, or finish its rotation with `hubmill secrets rotate-key`',
      );
    }
  }

  private need(what: string): SecretCipher {
    if (!this.cipher) throw new SecretKeyMissingError(what);
    return this.cipher;
  }

  private checkValue(value: string): void {
    if (value.length < MIN_SECRET_LENGTH) throw new SecretRefusedError(`a secret's value must be at least ${MIN_SECRET_LENGTH} characters (shorter ones cannot be redacted from output reliably)`);
    if (Buffer.byteLength(value, 'utf8') > MAX_SECRET_BYTES) throw new SecretRefusedError(`a secret's value must be at most ${MAX_SECRET_BYTES} bytes`);
    if (value.includes('\u0000')) throw new SecretRefusedError("a secret's value cannot contain NUL (it becomes an environment variable)");
  }

  private audit(actor: SecretActor, action: string, scope: string, name: string): NewAuditEntry {
    return { actor: actor.name, action, target: secretTarget(scope, name), origin: actor.origin, detail: { scope, name } };
  }

  async create(scope: string, name: string, value: string, actor: SecretActor): Promise<SecretRecord> {
    checkSecretName(name);
    this.checkValue(value);
    const cipher = this.need('cannot store a secret');
    const rec = await this.store.createSecret(
      { scope, name, sealed: cipher.seal(value, scope, name), key_id: cipher.keyId, set_by: actor.name },
      this.audit(actor, 'secret.create', scope, name),
    );
    if (!rec) throw new SecretExistsError(`secret '${name}' already exists in ${scope}: replace it with PUT`);
    return rec;
  }

  async update(scope: string, name: string, value: string, actor: SecretActor): Promise<SecretRecord> {
    checkSecretName(name);
    this.checkValue(value);
    const cipher = this.need('cannot store a secret');
    const rec = await this.store.updateSecret(
      { scope, name, sealed: cipher.seal(value, scope, name), key_id: cipher.keyId, set_by: actor.name },
      this.audit(actor, 'secret.update', scope, name),
    );
    if (!rec) throw new NoSuchSecretError(`secret '${name}' not found in ${scope}`);
    return rec;
  }

  async delete(scope: string, name: string, actor: SecretActor): Promise<void> {
    if (!(await this.store.deleteSecret(scope, name, this.audit(actor, 'secret.delete', scope, name)))) {
      throw new NoSuchSecretError(`secret '${name}' not found in ${scope}`);
    }
  }

  list(scopes: readonly string[] | null): Promise<SecretRecord[]> {
    return this.store.listSecrets(scopes);
  }

  recordAudit(entry: NewAuditEntry): Promise<AuditEntry> {
    return this.store.recordAudit(entry);
  }

  listAudit(q: AuditQuery): Promise<{ entries: AuditEntry[]; next_cursor: string | null }> {
    return this.store.listAudit(q);
  }

  /**
   * The secrets a job names, each resolved to the scope it is read from: the owner's own first, else one of
   * `groups` (the owner's hub groups, when known). A name found nowhere the owner may read, or in two of
   * their groups, is refused (422). A ref that already carries a scope (a schedule's checked template) is
   * checked to still exist there.
   */
  async resolve(owner: string, refs: readonly SecretRef[], groups: readonly string[] | undefined): Promise<SecretRef[]> {
    if (refs.length > MAX_JOB_SECRETS) throw new SecretRefusedError(`a job may use at most ${MAX_JOB_SECRETS} secrets`);
    const names = new Set<string>();
    for (const r of refs) {
      checkSecretName(r.name);
      if (names.has(r.name)) throw new SecretRefusedError(`secret '${r.name}' is named twice`);
      names.add(r.name);
    }
    if (refs.length === 0) return [];
    const scopes = [userScope(owner), ...(groups ?? []).map(groupScope)];
    const have = await this.store.listSecrets(scopes);
    const out: SecretRef[] = [];
    for (const r of refs) {
      const found = have.filter((s) => s.name === r.name && (r.scope === undefined || s.scope === r.scope));
      const own = found.find((s) => s.scope === userScope(owner));
      if (own) {
        out.push({ name: r.name, scope: own.scope });
        continue;
      }
      if (found.length === 1) {
        out.push({ name: r.name, scope: found[0]!.scope });
        continue;
      }
      if (found.length > 1) {
        throw new SecretRefusedError(`secret '${r.name}' exists in several of ${owner}'s groups (${found.map((s) => s.scope).join(', ')}); keep one, or a user secret of that name`);
      }
      const where = groups === undefined ? `${owner}'s own secrets (their groups are known only when they submit themselves)` : `${owner}'s own secrets or their groups' (${groups.join(', ') || 'none'})`;
      throw new SecretRefusedError(`secret '${r.name}' is not readable by ${owner}: not among ${where}`);
    }
    return out;
  }

  /**
   * Opens a job's secrets for its run (each use audited, origin `job:<id>`). A secret deleted since the
   * job was submitted fails the run with a 422-class error naming it.
   */
  async openForJob(job: { id: string; username: string; secrets?: readonly SecretRef[] }): Promise<OpenedSecrets | null> {
    const refs = job.secrets ?? [];
    if (refs.length === 0) return null;
    const cipher = this.need(`job ${job.id} uses secrets`);
    const values: NamedValue[] = [];
    for (const ref of refs) {
      const scope = ref.scope ?? userScope(job.username);
      const rec = await this.store.getSecret(scope, ref.name);
      if (!rec) throw new SecretRefusedError(`secret '${ref.name}' (${scope}) no longer exists`);
      values.push({ name: ref.name, value: cipher.open(rec.sealed, rec.scope, rec.name) });
    }
    for (const ref of refs) {
      const scope = ref.scope ?? userScope(job.username);
      await this.store.recordAudit({ actor: job.username, action: 'secret.use', target: secretTarget(scope, ref.name), origin: `job:${job.id}`, detail: { scope, name: ref.name, job_id: job.id } });
    }
    return { env: Object.fromEntries(values.map((v) => [v.name, v.value])), values, redactor: new Redactor(values) };
  }

  /** Re-seals every value under `next` (this vault's key must open them); returns how many. */
  async rotate(next: Buffer, actor: SecretActor): Promise<number> {
    const old = this.need('cannot rotate the key');
    const cipher = new SecretCipher(next);
    return this.store.resealAll(
      // A value already under the new key (a rotation run again) stays as it is.
      (r) => (r.key_id === cipher.keyId ? r : { sealed: cipher.seal(old.open(r.sealed, r.scope, r.name), r.scope, r.name), key_id: cipher.keyId }),
      { actor: actor.name, action: 'secret.rotate-key', target: 'secret:*', origin: actor.origin, detail: { from_key_id: old.keyId, to_key_id: cipher.keyId } },
    );
  }
}
