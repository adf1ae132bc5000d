/**
 * LISTEN on one dedicated connection per store for its channels: jobs being
 * queued (idle workers claim at once instead of waiting for their poll) and
 * schedules being changed (every node's scheduler re-reads at once instead of
 * at its next pass). The payload is the store's schema; other schemas' notices
 * are ignored. The connection is opened on the first subscriber, and re-opened
 * with a growing backoff (0.25 s to 10 s) after an error; after a reconnect
 * every subscriber is called once, since something may have changed while
 * nobody listened.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { clientConfig, type PgTarget } from './connect.js';
import { JOB_QUEUED_CHANNEL } from './job-rows.js';

/** Sent (payload: the schema) in the transaction that creates, edits or deletes a schedule. */
export const SCHEDULES_CHANGED_CHANNEL = 'hubmill_schedules_changed';
/** The channels a store LISTENs on. */
export const STORE_CHANNELS = [JOB_QUEUED_CHANNEL, SCHEDULES_CHANGED_CHANNEL] as const;
export type StoreChannel = (typeof STORE_CHANNELS)[number];

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;

export class StoreListener {
  private readonly listeners = new Map<StoreChannel, Set<() => void>>(STORE_CHANNELS.map((c) => [c, new Set()]));
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

  /** Calls `fn` on each notice on `channel` for this store's schema (from any node); returns the unsubscribe. */
  add(channel: StoreChannel, fn: () => void): () => void {
    const set = this.listeners.get(channel);
    if (!set) throw new Error(`unknown store channel ${JSON.stringify(channel)}`);
    set.add(fn);
    if (!this.client && !this.connecting && !this.retryTimer && !this.closed) this.connect();
    return () => void set.delete(fn);
  }

  /** Resolves once LISTEN is in force (for tests and the bench). */
  ready(): Promise<void> {
    if (this.listening) return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  private notify(channels: readonly StoreChannel[]): void {
    for (const channel of channels) {
      for (const fn of [...this.listeners.get(channel)!]) {
        try {
          fn();
        } catch (err) {
          this.logger?.error({ channel, err: (err as Error).message }, 'a store notification listener failed');
        }
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
      const channel = STORE_CHANNELS.find((c) => c === msg.channel);
      if (channel && msg.payload === this.target.schema) this.notify([channel]);
    });
    this.connecting = (async () => {
      try {
        await client.connect();
        for (const channel of STORE_CHANNELS) await client.query(`LISTEN ${channel}`);
        if (this.closed || failed) {
          await client.end().catch(() => undefined);
          return;
        }
        this.client = client;
        this.listening = true;
        this.backoffMs = BACKOFF_MIN_MS;
        for (const r of this.readyWaiters.splice(0)) r();
        if (this.everConnected) this.notify(STORE_CHANNELS);
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
    for (const set of this.listeners.values()) set.clear();
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
