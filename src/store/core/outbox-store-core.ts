/**
 * The OutboxStore for both databases: every method is one statement of
 * core/outbox-sql.ts, run by the backend's executor (SQLite: on the job store's
 * connection; PostgreSQL: on its pool, the claim skipping rows locked by another node).
 */
import type { AttemptOutcome, OutboxDelivery, OutboxStore, OutboxSubject } from '../outbox-store.js';
import type { Sql, SqlDialect } from './dialect.js';
import { OutboxSql, rowToDelivery, type OutboxRow } from './outbox-sql.js';
import type { Row } from './steps.js';

export class OutboxStoreCore implements OutboxStore {
  readonly sql: OutboxSql;

  constructor(
    d: SqlDialect,
    private readonly exec: (q: Sql) => Promise<Row[]>,
    private readonly now: () => number = Date.now,
  ) {
    this.sql = new OutboxSql(d);
  }

  private async rows(q: Sql): Promise<OutboxDelivery[]> {
    return ((await this.exec(q)) as unknown as OutboxRow[]).map(rowToDelivery);
  }

  async claim(owner: string, leaseMs: number, limit: number): Promise<OutboxDelivery[]> {
    const now = this.now();
    // The deliverer polls every second: when nothing is due (the usual case) a read answers, not a write.
    if ((await this.exec(this.sql.anyClaimable(now))).length === 0) return [];
    return (await this.rows(this.sql.claim(owner, now, leaseMs, limit))).sort((a, b) => (a.next_attempt_ms ?? 0) - (b.next_attempt_ms ?? 0) || (a.id < b.id ? -1 : 1));
  }

  async finish(id: string, owner: string, outcome: AttemptOutcome): Promise<boolean> {
    return (await this.exec(this.sql.finish(id, owner, outcome, this.now()))).length > 0;
  }

  list(kind: OutboxSubject, subjectId: string, limit: number): Promise<OutboxDelivery[]> {
    return this.rows(this.sql.list(kind, subjectId, Math.max(1, Math.min(1000, limit))));
  }

  async get(id: string): Promise<OutboxDelivery | null> {
    return (await this.rows(this.sql.get(id)))[0] ?? null;
  }

  async retry(kind: OutboxSubject, subjectId: string, id: string): Promise<OutboxDelivery | 'delivered' | null> {
    const changed = (await this.rows(this.sql.retry(kind, subjectId, id, this.now())))[0];
    if (changed) return changed;
    const d = await this.get(id);
    return d && d.subject_kind === kind && d.subject_id === subjectId ? 'delivered' : null;
  }

  async prune(beforeMs: number, limit: number): Promise<number> {
    return (await this.exec(this.sql.prune(beforeMs, limit))).length;
  }

  async nextDueAt(): Promise<number | null> {
    const r = (await this.exec(this.sql.nextDue()))[0] as { at: number | string | null } | undefined;
    return r?.at == null ? null : Number(r.at);
  }
}
