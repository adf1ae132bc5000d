/**
 * The secrets' and audit record's logic, once for both databases (store core:
 * steps that yield statements, core/steps.ts). Each backend runs the steps in
 * its own transaction (sqlite-secret-store.ts, pg/pg-secret-store.ts).
 */
import { decodeCursor, encodeCursor } from '../cursor.js';
import type { AuditEntry, AuditQuery, AuditStore, NewAuditEntry, SecretRecord, SecretStore, SecretWrite } from '../secret-store.js';
import { SqlArgs, type Sql, type SqlDialect } from './dialect.js';
import { pageLimit } from './page.js';
import { firstOf, rowsOf, type Row, type Steps } from './steps.js';
import { timeOrderedId } from './ids.js';

interface AuditRow {
  id: string;
  at_ms: number | string;
  actor: string;
  action: string;
  target: string;
  origin: string | null;
  detail: string | null;
}

function rowToSecret(r: Row): SecretRecord {
  return {
    scope: r.scope as string,
    name: r.name as string,
    sealed: r.sealed as string,
    key_id: r.key_id as string,
    set_by: r.set_by as string,
    created_at_ms: Number(r.created_at_ms),
    updated_at_ms: Number(r.updated_at_ms),
  };
}

function rowToAudit(r: AuditRow): AuditEntry {
  return {
    id: r.id,
    at_ms: Number(r.at_ms),
    actor: r.actor,
    action: r.action,
    target: r.target,
    origin: r.origin,
    detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
  };
}

let lastMs = 0;
let seq = 0;
/** Audit ids: time-ordered, and in this process in the order written within one millisecond, so the record pages by (at_ms, id). */
export function newAuditId(now: number): string {
  seq = now === lastMs ? seq + 1 : 0;
  lastMs = now;
  return timeOrderedId('aud', now).replace(/^aud_([0-9a-f]{12})/, (_, t: string) => `aud_${t}${seq.toString(16).padStart(4, '0')}`);
}

export abstract class SecretStoreCore implements SecretStore, AuditStore {
  constructor(
    protected readonly d: SqlDialect,
    protected readonly now: () => number,
  ) {}

  /** Runs steps in one write transaction (built afresh when the backend retries). */
  protected abstract tx<T>(make: () => Steps<T>): Promise<T>;
  protected abstract read<T>(steps: Steps<T>): Promise<T>;

  private q(build: (a: SqlArgs) => string): Sql {
    const a = new SqlArgs(this.d);
    const text = build(a);
    return { text, args: a.values };
  }

  private auditInsert(e: NewAuditEntry, now: number): Sql & { id: string } {
    const id = newAuditId(now);
    const detail = e.detail ? JSON.stringify(e.detail) : null;
    return {
      id,
      ...this.q((a) => `INSERT INTO audit_log (id, at_ms, actor, action, target, origin, detail) VALUES (${[id, now, e.actor, e.action, e.target, e.origin, detail].map((v) => a.add(v)).join(', ')})`),
    };
  }

  private *audited(e: NewAuditEntry, now: number): Steps<AuditEntry> {
    const ins = this.auditInsert(e, now);
    yield ins;
    return { id: ins.id, at_ms: now, actor: e.actor, action: e.action, target: e.target, origin: e.origin, detail: e.detail ?? null };
  }

  recordAudit(entry: NewAuditEntry): Promise<AuditEntry> {
    return this.tx(() => this.audited(entry, this.now()));
  }

  listAudit(query: AuditQuery): Promise<{ entries: AuditEntry[]; next_cursor: string | null }> {
    const limit = pageLimit(query.limit);
    const a = new SqlArgs(this.d);
    const where: string[] = [];
    if (query.actor !== undefined) where.push(`actor = ${a.add(query.actor)}`);
    if (query.action !== undefined) where.push(`action = ${a.add(query.action)}`);
    if (query.target_prefix !== undefined) where.push(`substr(target, 1, ${a.add(query.target_prefix.length)}) = ${a.add(query.target_prefix)}`);
    if (query.since_ms !== undefined) where.push(`at_ms >= ${a.add(query.since_ms)}`);
    if (query.until_ms !== undefined) where.push(`at_ms < ${a.add(query.until_ms)}`);
    if (query.cursor) {
      const c = decodeCursor(query.cursor);
      where.push(this.d.before('at_ms', 'id', c.createdAtMs, c.id, a));
    }
    const text = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at_ms DESC, id DESC LIMIT ${a.add(limit + 1)}`;
    return this.read(
      (function* () {
        const rows = (yield { text, args: a.values }) as unknown as AuditRow[];
        const page = rows.slice(0, limit).map(rowToAudit);
        const last = page[page.length - 1];
        return { entries: page, next_cursor: rows.length > limit && last ? encodeCursor(last.at_ms, last.id) : null };
      })(),
    );
  }

  createSecret(s: SecretWrite, audit: NewAuditEntry): Promise<SecretRecord | null> {
    const self = this;
    return this.tx(function* () {
      const now = self.now();
      const existing = yield* firstOf<Row>(self.q((a) => `SELECT name FROM secrets WHERE scope = ${a.add(s.scope)} AND name = ${a.add(s.name)}${self.d.forUpdate}`));
      if (existing) return null;
      const row = yield* firstOf<Row>(
        self.q(
          (a) =>
            `INSERT INTO secrets (scope, name, sealed, key_id, set_by, created_at_ms, updated_at_ms) VALUES (${[s.scope, s.name, s.sealed, s.key_id, s.set_by, now, now]
              .map((v) => a.add(v))
              .join(', ')}) ON CONFLICT DO NOTHING RETURNING *`,
        ),
      );
      if (!row) return null;
      yield* self.audited(audit, now);
      return rowToSecret(row);
    });
  }

  updateSecret(s: SecretWrite, audit: NewAuditEntry): Promise<SecretRecord | null> {
    const self = this;
    return this.tx(function* () {
      const now = self.now();
      const row = yield* firstOf<Row>(
        self.q(
          (a) =>
            `UPDATE secrets SET sealed = ${a.add(s.sealed)}, key_id = ${a.add(s.key_id)}, set_by = ${a.add(s.set_by)}, updated_at_ms = ${a.add(now)} WHERE scope = ${a.add(s.scope)} AND name = ${a.add(s.name)} RETURNING *`,
        ),
      );
      if (!row) return null;
      yield* self.audited(audit, now);
      return rowToSecret(row);
    });
  }

  deleteSecret(scope: string, name: string, audit: NewAuditEntry): Promise<boolean> {
    const self = this;
    return this.tx(function* () {
      const rows = yield* rowsOf<Row>(self.q((a) => `DELETE FROM secrets WHERE scope = ${a.add(scope)} AND name = ${a.add(name)} RETURNING name`));
      if (rows.length === 0) return false;
      yield* self.audited(audit, self.now());
      return true;
    });
  }

  async getSecret(scope: string, name: string): Promise<SecretRecord | null> {
    const row = await this.read(firstOf<Row>(this.q((a) => `SELECT * FROM secrets WHERE scope = ${a.add(scope)} AND name = ${a.add(name)}`)));
    return row ? rowToSecret(row) : null;
  }

  async listSecrets(scopes: readonly string[] | null): Promise<SecretRecord[]> {
    if (scopes !== null && scopes.length === 0) return [];
    const rows = await this.read(
      rowsOf<Row>(this.q((a) => `SELECT * FROM secrets${scopes === null ? '' : ` WHERE ${scopes.map((s) => `scope = ${a.add(s)}`).join(' OR ')}`} ORDER BY scope, name`)),
    );
    return rows.map(rowToSecret);
  }

  async keyIds(): Promise<Map<string, number>> {
    const rows = await this.read(rowsOf<Row>({ text: `SELECT key_id, ${this.d.count} AS n FROM secrets GROUP BY key_id`, args: [] }));
    return new Map(rows.map((r) => [r.key_id as string, Number(r.n)]));
  }

  resealAll(reseal: (r: SecretRecord) => { sealed: string; key_id: string }, audit: NewAuditEntry): Promise<number> {
    const self = this;
    return this.tx(function* () {
      const rows = (yield* rowsOf<Row>({ text: `SELECT * FROM secrets ORDER BY scope, name${self.d.forUpdate}`, args: [] })).map(rowToSecret);
      for (const r of rows) {
        const next = reseal(r);
        yield self.q((a) => `UPDATE secrets SET sealed = ${a.add(next.sealed)}, key_id = ${a.add(next.key_id)} WHERE scope = ${a.add(r.scope)} AND name = ${a.add(r.name)}`);
      }
      yield* self.audited({ ...audit, detail: { ...audit.detail, secrets: rows.length } }, self.now());
      return rows.length;
    });
  }
}
