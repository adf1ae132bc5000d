/**
 * The outbox's statements for both databases (store/outbox-store.ts), and the
 * rows one run end adds: one per channel target whose `on` names the event.
 * The inserts run in the caller's transaction (settling a schedule job's end,
 * ending a pipeline run); the rest are single statements.
 */
import type { Job } from '../job-store.js';
import type { AttemptOutcome, OutboxChannel, OutboxDelivery, OutboxSubject } from '../outbox-store.js';
import { DEFAULT_NOTIFY_ON, settledEvent, type Schedule } from '../schedule-store.js';
import { SqlArgs, type Sql, type SqlDialect } from './dialect.js';
import { timeOrderedId } from './ids.js';

/** A `notify` setting as schedules and pipelines store it. */
/** How early a node may take a row due by another node's clock (the nodes' clock estimates differ by milliseconds). */
const CLOCK_SKEW_MS = 1000;

export interface NotifyTargets {
  webhook_url?: string | null;
  email?: readonly string[] | null;
  on?: readonly string[] | null;
}

export interface OutboxEnd {
  kind: OutboxSubject;
  subjectId: string;
  refId: string;
  event: string;
}

/** The targets a run end goes to: none when `on` (or `defaultOn`) lacks the event; a webhook only with its signing secret. */
export function outboxTargets(notify: NotifyTargets | null | undefined, event: string, defaultOn: readonly string[], hasSecret: boolean): { channel: OutboxChannel; target: string }[] {
  if (!notify) return [];
  if (!(notify.on ?? defaultOn).includes(event)) return [];
  const out: { channel: OutboxChannel; target: string }[] = [];
  if (notify.webhook_url && hasSecret) out.push({ channel: 'webhook', target: notify.webhook_url });
  for (const address of new Set(notify.email ?? [])) out.push({ channel: 'email', target: address });
  return out;
}

export const newDeliveryId = (nowMs: number): string => timeOrderedId('dlv', nowMs);

type OutboxRow = Omit<OutboxDelivery, 'next_attempt_ms'> & { next_attempt_ms: number | null; lease_owner: string | null; lease_until_ms: number | null };

export function rowToDelivery(r: OutboxRow): OutboxDelivery {
  return {
    id: r.id,
    subject_kind: r.subject_kind,
    subject_id: r.subject_id,
    ref_id: r.ref_id,
    event: r.event,
    channel: r.channel,
    target: r.target,
    status: r.status,
    attempts: Number(r.attempts),
    next_attempt_ms: r.status === 'pending' && r.next_attempt_ms !== null ? Number(r.next_attempt_ms) : null,
    last_error: r.last_error,
    created_at_ms: Number(r.created_at_ms),
    updated_at_ms: Number(r.updated_at_ms),
    delivered_at_ms: r.delivered_at_ms === null ? null : Number(r.delivered_at_ms),
  };
}

export class OutboxSql {
  constructor(readonly d: SqlDialect) {}

  private args(): SqlArgs {
    return new SqlArgs(this.d);
  }

  /** The inserts of one end's rows (due at once). */
  inserts(end: OutboxEnd, targets: readonly { channel: OutboxChannel; target: string }[], now: number): Sql[] {
    return targets.map((t) => {
      const a = this.args();
      const values = [newDeliveryId(now), end.kind, end.subjectId, end.refId, end.event, t.channel, t.target, 'pending', 0, now, now, now].map((v) => a.add(v));
      return {
        text: `INSERT INTO outbox (id, subject_kind, subject_id, ref_id, event, channel, target, status, attempts, next_attempt_ms, created_at_ms, updated_at_ms)
               VALUES (${values.join(', ')})`,
        args: a.values,
      };
    });
  }

  /** The rows of a schedule job's end, as it is settled (`retried`: a retry was scheduled); none for a deleted schedule. */
  scheduleEnd(s: Schedule | null, job: Job, retried: boolean, now: number): Sql[] {
    const event = s ? settledEvent(job, retried) : null;
    if (!s || !event) return [];
    return this.inserts({ kind: 'schedule', subjectId: s.id, refId: job.id, event }, outboxTargets(s.notify, event, DEFAULT_NOTIFY_ON, s.webhook_secret !== null), now);
  }

  /** The rows a claim at `now` may take (status, due, no lease held). */
  private claimable(a: SqlArgs, now: number): string {
    // Rows are written due at the writer's `now`; another node's clock estimate may lag it by a few milliseconds.
    return `status = 'pending' AND next_attempt_ms <= ${a.add(now + CLOCK_SKEW_MS)} AND (lease_until_ms IS NULL OR lease_until_ms < ${a.add(now)})`;
  }

  /** Whether a claim at `now` would take a row: a read (indexed by outbox_due), so an idle poll takes no write lock. */
  anyClaimable(now: number): Sql {
    const a = this.args();
    return { text: `SELECT 1 AS one FROM outbox WHERE ${this.claimable(a, now)} LIMIT 1`, args: a.values };
  }

  claim(owner: string, now: number, leaseMs: number, limit: number): Sql {
    const a = this.args();
    return {
      text: `UPDATE outbox SET lease_owner = ${a.add(owner)}, lease_until_ms = ${a.add(now + leaseMs)}, attempts = attempts + 1, updated_at_ms = ${a.add(now)}
             WHERE id IN (SELECT id FROM outbox WHERE ${this.claimable(a, now)}
                          ORDER BY next_attempt_ms, id LIMIT ${a.add(limit)}${this.d.skipLocked})
             RETURNING *`,
      args: a.values,
    };
  }

  finish(id: string, owner: string, outcome: AttemptOutcome, now: number): Sql {
    const a = this.args();
    const sets = outcome.ok
      ? `status = 'delivered', delivered_at_ms = ${a.add(now)}, next_attempt_ms = NULL, last_error = NULL`
      : outcome.retryAtMs === null
        ? `status = 'failed', next_attempt_ms = NULL, last_error = ${a.add(outcome.error.slice(0, 2000))}`
        : `next_attempt_ms = ${a.add(outcome.retryAtMs)}, last_error = ${a.add(outcome.error.slice(0, 2000))}`;
    return {
      text: `UPDATE outbox SET ${sets}, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ${a.add(now)}
             WHERE id = ${a.add(id)} AND lease_owner = ${a.add(owner)} AND status = 'pending' RETURNING id`,
      args: a.values,
    };
  }

  list(kind: OutboxSubject, subjectId: string, limit: number): Sql {
    const a = this.args();
    return {
      text: `SELECT * FROM outbox WHERE subject_kind = ${a.add(kind)} AND subject_id = ${a.add(subjectId)} ORDER BY created_at_ms DESC, id DESC LIMIT ${a.add(limit)}`,
      args: a.values,
    };
  }

  get(id: string): Sql {
    const a = this.args();
    return { text: `SELECT * FROM outbox WHERE id = ${a.add(id)}`, args: a.values };
  }

  /** A retry by hand: due now, attempts counted afresh; a lease held stays (its holder's outcome is then dropped). */
  retry(kind: OutboxSubject, subjectId: string, id: string, now: number): Sql {
    const a = this.args();
    return {
      text: `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_ms = ${a.add(now)}, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ${a.add(now)}
             WHERE id = ${a.add(id)} AND subject_kind = ${a.add(kind)} AND subject_id = ${a.add(subjectId)} AND status <> 'delivered' RETURNING *`,
      args: a.values,
    };
  }

  /** Deletes up to `limit` delivered or failed rows last changed before the cutoff, RETURNING id. */
  prune(cutoffMs: number, limit: number): Sql {
    const a = this.args();
    return {
      text: `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status <> 'pending' AND updated_at_ms < ${a.add(cutoffMs)} LIMIT ${a.add(limit)}) RETURNING id`,
      args: a.values,
    };
  }

  nextDue(): Sql {
    return { text: `SELECT MIN(next_attempt_ms) AS at FROM outbox WHERE status = 'pending'`, args: [] };
  }
}

export type { OutboxRow };
