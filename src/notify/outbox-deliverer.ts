/**
 * Delivers the outbox (store/outbox-store.ts) on every node that runs jobs: it
 * leases due rows (another node skips them while the lease holds), sends each
 * (a signed webhook with `X-Hubmill-Delivery`, or a mail), and records the
 * outcome: delivered, a retry after `backoff × 2^(attempt−1)` (at most an hour),
 * or failed once the attempts are spent or retrying cannot help. A node that
 * dies mid-send leaves its lease to expire; the row is then sent again
 * (receivers deduplicate on the delivery id). Rows delivered or failed longer
 * ago than the jobs' retention are deleted, a batch an hour.
 */
import type { Logger } from 'pino';
import type { AttemptOutcome, OutboxDelivery, OutboxStore } from '../store/outbox-store.js';
import { postWebhookOnce } from '../schedules/webhook.js';
import type { WebhookAllowList } from '../schedules/webhook-address.js';
import { runMail } from './mail-message.js';
import { mailErrorIsFinal, type Mailer } from './mailer.js';
import { buildPayload, PayloadGoneError, type PayloadSources } from './payloads.js';

const MAX_BACKOFF_MS = 3_600_000;
const BATCH = 20;
const PRUNE_EVERY_MS = 3_600_000;
const PRUNE_BATCH = 500;

export interface DelivererOptions {
  outbox: OutboxStore;
  payloads: PayloadSources;
  allow: WebhookAllowList;
  /** Null when HUBMILL_SMTP_URL/HUBMILL_SMTP_FROM are unset: mail deliveries fail saying so. */
  mailer: Mailer | null;
  /** This node's name on the leases it takes. */
  owner: string;
  attempts: number;
  backoffMs: number;
  /** How long a lease holds (default 60 s: above a webhook's and a mail's time bound). */
  leaseMs?: number;
  /** Look for due rows at least this often (default 1 s); `wake` looks at once. */
  pollMs?: number;
  webhookTimeoutMs?: number;
  /** Delivered and failed rows are kept this many days (HUBMILL_RETENTION_DAYS); null: forever. */
  keepDays?: number | null;
  logger?: Logger;
  now?: () => number;
}

export function retryDelayMs(backoffMs: number, attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** Math.max(0, attempt - 1));
}

class FinalError extends Error {}

export class OutboxDeliverer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private prunedAtMs = 0;

  constructor(private readonly o: DelivererOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Looks for due rows now (a run ended here, a retry was asked). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.loop().finally(() => {
        this.running = null;
        if (!this.stopped) this.schedule(this.again ? 0 : (this.o.pollMs ?? 1000));
        this.again = false;
      });
    }, ms);
    this.timer.unref();
  }

  private async loop(): Promise<void> {
    try {
      while (!this.stopped && (await this.pass()) === BATCH);
      await this.prune();
    } catch (err) {
      this.o.logger?.warn({ err: (err as Error).message }, 'notification delivery pass failed');
    }
  }

  /** At most hourly: the rows older than the retention (one batch; the next hour takes more). */
  private async prune(): Promise<void> {
    const days = this.o.keepDays;
    const now = (this.o.now ?? Date.now)();
    if (!days || days <= 0 || now - this.prunedAtMs < PRUNE_EVERY_MS) return;
    this.prunedAtMs = now;
    const n = await this.o.outbox.prune(now - days * 86_400_000, PRUNE_BATCH);
    if (n > 0) this.o.logger?.info({ pruned: n }, 'old notification records pruned');
  }

  /** One pass: leases due rows and delivers them; returns how many were leased. */
  async pass(): Promise<number> {
    const rows = await this.o.outbox.claim(this.o.owner, this.o.leaseMs ?? 60_000, BATCH);
    await Promise.all(rows.map((d) => this.deliver(d)));
    return rows.length;
  }

  private async deliver(d: OutboxDelivery): Promise<void> {
    let outcome: AttemptOutcome;
    try {
      await this.send(d);
      outcome = { ok: true };
    } catch (err) {
      const error = (err as Error).message || String(err);
      const final = err instanceof FinalError || err instanceof PayloadGoneError || d.attempts >= this.o.attempts;
      outcome = { ok: false, error, retryAtMs: final ? null : (this.o.now ?? Date.now)() + retryDelayMs(this.o.backoffMs, d.attempts) };
      this.o.logger?.warn({ deliveryId: d.id, channel: d.channel, attempt: d.attempts, final, detail: error }, 'notification delivery failed');
    }
    await this.o.outbox.finish(d.id, this.o.owner, outcome).catch((err: unknown) => this.o.logger?.warn({ deliveryId: d.id, err: (err as Error).message }, 'recording a delivery failed'));
  }

  private async send(d: OutboxDelivery): Promise<void> {
    const p = await buildPayload(d, this.o.payloads);
    if (d.channel === 'webhook') {
      if (!p.webhook.secret) throw new FinalError('no signing secret: the webhook was removed');
      const r = await postWebhookOnce({ id: d.id, url: d.target, secret: p.webhook.secret, event: p.webhook.event, body: p.webhook.body }, this.o.allow, this.o.webhookTimeoutMs);
      if (r.ok) return;
      throw r.final ? new FinalError(r.detail) : new Error(r.detail);
    }
    if (!this.o.mailer) throw new FinalError('e-mail is not configured: set HUBMILL_SMTP_URL and HUBMILL_SMTP_FROM');
    try {
      await this.o.mailer.send(d.target, runMail(p.mail));
    } catch (err) {
      const msg = (err as Error).message;
      throw mailErrorIsFinal(err) ? new FinalError(msg) : new Error(msg);
    }
  }
}
