/**
 * Webhook notifications of schedule runs: a JSON POST signed with HMAC-SHA256
 * of the body under the schedule's secret (`X-Hubmill-Signature: sha256=<hex>`),
 * delivered in the background with retries and backoff, so nothing waits for it.
 * The connection goes only to an address that passed `checkAddress` (the name is
 * resolved once, checked, and that address is used), and redirects are not followed.
 */
import { createHmac } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Logger } from 'pino';
import { WebhookRefusedError } from './schedule-errors.js';
import { checkAddress, checkWebhookUrl, type WebhookAllowList } from './webhook-address.js';

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export interface Delivery {
  url: string;
  secret: string;
  event: string;
  body: unknown;
  /** The outbox row's id, sent as `X-Hubmill-Delivery` for receivers to deduplicate. */
  id?: string;
}

/** What one POST came to: delivered (2xx), or why not and whether a retry could help. */
export interface WebhookAttempt {
  ok: boolean;
  detail: string;
  /** True when retrying cannot help (refused address, 4xx other than 408/429). */
  final: boolean;
}

/** One signed POST of `d`, to an address that passed the allow-list check. */
export async function postWebhookOnce(d: Delivery, allow: WebhookAllowList, timeoutMs = 10_000): Promise<WebhookAttempt> {
  try {
    const status = await post(d, allow, timeoutMs);
    const ok = status >= 200 && status < 300;
    // 4xx other than 408/429 will not improve by retrying.
    return { ok, detail: `HTTP ${status}`, final: ok || (status >= 400 && status < 500 && status !== 408 && status !== 429) };
  } catch (e) {
    return { ok: false, detail: (e as Error).message, final: e instanceof WebhookRefusedError };
  }
}

export interface NotifierOptions {
  allow: WebhookAllowList;
  logger?: Logger;
  /** Attempts per delivery (default 5). */
  attempts?: number;
  /** First retry delay, doubled each time (default 2 s). */
  backoffMs?: number;
  /** Bound of one request (default 10 s). */
  timeoutMs?: number;
  /** Called after each attempt, for metrics and tests. */
  onAttempt?: (d: Delivery, ok: boolean, detail: string) => void;
}

export class WebhookNotifier {
  private readonly pending = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly opts: NotifierOptions) {}

  /** Queues a delivery and returns at once. */
  send(d: Delivery): void {
    if (this.closed) return;
    void this.attempt(d, 1);
  }

  private async attempt(d: Delivery, n: number): Promise<void> {
    const max = this.opts.attempts ?? 5;
    const { ok, detail, final } = await postWebhookOnce(d, this.opts.allow, this.opts.timeoutMs);
    this.opts.onAttempt?.(d, ok, detail);
    if (ok) return;
    this.opts.logger?.warn({ event: d.event, attempt: n, detail }, 'webhook delivery failed');
    if (final || n >= max || this.closed) return;
    const t = setTimeout(() => {
      this.pending.delete(t);
      void this.attempt(d, n + 1);
    }, (this.opts.backoffMs ?? 2000) * 2 ** (n - 1));
    t.unref();
    this.pending.add(t);
  }

  close(): void {
    this.closed = true;
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }
}

function post(d: Delivery, allow: WebhookAllowList, timeoutMs: number): Promise<number> {
  const url = checkWebhookUrl(d.url, allow);
  const body = JSON.stringify(d.body);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as unknown as LookupAddress[];
      try {
        for (const a of list) checkAddress(a.address, host, allow);
      } catch (e) {
        return callback(e as Error, '', 0);
      }
      const first = list[0]!;
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, [first]);
      callback(null, first.address, first.family);
    });
  };
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        method: 'POST',
        lookup,
        timeout: timeoutMs,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'hubmill-webhook',
          'x-hubmill-event': d.event,
          'x-hubmill-signature': signature(d.secret, body),
          ...(d.id ? { 'x-hubmill-delivery': d.id } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('webhook request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}
