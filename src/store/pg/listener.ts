/**
 * LISTEN on one dedicated connection for jobs being queued, so idle workers
 * claim at once instead of waiting for their poll. The connection is opened on
 * the first subscriber, and re-opened with a growing backoff (0.25 s to 10 s)
 * after an error; after a reconnect the subscribers are called once, since a
 * job may have been queued while nobody listened.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { clientConfig, type PgTarget } from './connect.js';
import { JOB_QUEUED_CHANNEL } from './job-rows.js';

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;

export class JobQueuedListener {
  private readonly listeners = new Set<() => void>();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = BACKOFF_MIN_MS;
  private closed = false;
  private everConnected = false;
  private listening = false;
  private readyWaiters: (() => void)[] = [];

  constructor(
    private readonly target: PgTarget,
    private readonly logger?: Logger,
  ) {}

  /** Calls `fn` when a job is queued in this store's schema (by any node); returns the unsubscribe. */
  add(fn: () => void): () => void {
    this.listeners.add(fn);
    if (!this.client && !this.connecting && !this.retryTimer && !this.closed) this.connect();
    return () => void this.listeners.delete(fn);
  }

  /** Resolves once LISTEN is in force (for tests and the bench). */
  ready(): Promise<void> {
    if (this.listening) return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  private notify(): void {
    for (const fn of [...this.listeners]) {
      try {
        fn();
      } catch (err) {
        this.logger?.error({ err: (err as Error).message }, 'a job-queued listener failed');
      }
    }
  }

  private connect(): void {
    this.retryTimer = undefined;
    // Named after its schema, so an operator (or a test) can tell the LISTEN connections apart.
    const client = new pg.Client({ ...clientConfig(this.target), application_name: `hubmill-listen:${this.target.schema}` });
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      this.listening = false;
      if (this.client === client) this.client = null;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.logger?.warn({ err: err.message, retryInMs: this.backoffMs }, 'the PostgreSQL LISTEN connection failed; reconnecting');
      this.retryTimer = setTimeout(() => this.connect(), this.backoffMs);
      this.retryTimer.unref();
      this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs * 2);
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('connection ended')));
    client.on('notification', (msg) => {
      if (msg.channel === JOB_QUEUED_CHANNEL && msg.payload === this.target.schema) this.notify();
    });
    this.connecting = (async () => {
      try {
        await client.connect();
        await client.query(`LISTEN ${JOB_QUEUED_CHANNEL}`);
        if (this.closed || failed) {
          await client.end().catch(() => undefined);
          return;
        }
        this.client = client;
        this.listening = true;
        this.backoffMs = BACKOFF_MIN_MS;
        for (const r of this.readyWaiters.splice(0)) r();
        if (this.everConnected) this.notify();
        this.everConnected = true;
      } catch (err) {
        fail(err as Error);
      } finally {
        this.connecting = null;
      }
    })();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.listeners.clear();
    await this.connecting;
    const c = this.client;
    this.client = null;
    this.listening = false;
    if (c) {
      c.removeAllListeners('end');
      c.removeAllListeners('error');
      c.on('error', () => undefined);
      await c.end().catch(() => undefined);
    }
  }
}
