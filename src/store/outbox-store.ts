/**
 * The outbox of notifications (webhooks and e-mail of schedule and pipeline run
 * ends). A row is written in the transaction that settles a schedule job's end
 * (ScheduleStore.settleFinished) or ends a pipeline run (core/pipeline-runs.ts),
 * so an end is never lost and never notified twice; any node then delivers it
 * (notify/outbox-deliverer.ts), holding a lease on the row while it tries.
 */
export type OutboxChannel = 'webhook' | 'email';
export type OutboxSubject = 'schedule' | 'pipeline';
export type OutboxStatus = 'pending' | 'delivered' | 'failed';

export interface OutboxDelivery {
  /** Sent to webhook receivers as `X-Hubmill-Delivery`, for them to deduplicate. */
  id: string;
  subject_kind: OutboxSubject;
  /** The schedule's or the pipeline's id. */
  subject_id: string;
  /** The job (schedule) or the pipeline run that ended. */
  ref_id: string;
  /** A schedule's NotifyEvent, or the pipeline run's final status. */
  event: string;
  channel: OutboxChannel;
  /** The webhook URL or the e-mail address. */
  target: string;
  status: OutboxStatus;
  attempts: number;
  next_attempt_ms: number | null;
  last_error: string | null;
  created_at_ms: number;
  updated_at_ms: number;
  delivered_at_ms: number | null;
}

/** What one attempt came to: delivered, or an error and when to try again (null: given up, `failed`). */
export type AttemptOutcome = { ok: true } | { ok: false; error: string; retryAtMs: number | null };

export interface OutboxStore {
  /** Leases up to `limit` due pending rows to `owner` until now + leaseMs (each counts an attempt); rows another lease holds are skipped. */
  claim(owner: string, leaseMs: number, limit: number): Promise<OutboxDelivery[]>;
  /** Records an attempt's outcome; false when `owner` no longer holds the row's lease (nothing changes). */
  finish(id: string, owner: string, outcome: AttemptOutcome): Promise<boolean>;
  /** The deliveries of one schedule or pipeline, newest first. */
  list(kind: OutboxSubject, subjectId: string, limit: number): Promise<OutboxDelivery[]>;
  get(id: string): Promise<OutboxDelivery | null>;
  /**
   * Makes a pending or failed delivery of this subject due now, with a fresh count of attempts.
   * Null: no such delivery of this subject; 'delivered': it was delivered (nothing changes).
   */
  retry(kind: OutboxSubject, subjectId: string, id: string): Promise<OutboxDelivery | 'delivered' | null>;
  /** Deletes up to `limit` delivered or failed rows last changed before `beforeMs` (retention); returns how many. */
  prune(beforeMs: number, limit: number): Promise<number>;
  /** The soonest next attempt of a pending row, or null. */
  nextDueAt(): Promise<number | null>;
}
