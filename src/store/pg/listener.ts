/**
 * The one LISTEN connection of a process (per database): the job store's
 * channels (jobs queued, schedules changed) and the event bus's channel share
 * it. The store opens it (PgJobStore.listener) and the event bus, given it,
 * only subscribes (server-roles.ts); a bus used on its own opens its own.
 *
 * It connects on the first `listen` (or `start`), LISTENs on every channel
 * that has been subscribed, checks the connection with a periodic `SELECT 1`
 * (a connection that stopped answering counts as lost), and after a loss
 * reconnects with a growing backoff (0.25 s to 10 s by default), LISTENs again
 * and calls every `onReconnect` callback: notices sent while nobody listened
 * are lost, so subscribers re-read what may have changed.
 */
import pg from 'pg';
import type { Logger } from 'pino';

export interface PgListenerOptions {
  connection: string | pg.ClientConfig;
  /** Shown in pg_stat_activity, so an operator (or a test) can find the connection. */
  applicationName: string;
  logger?: Logger;
  /** How often the connection is checked with `SELECT 1` (default 30 s). */
  pingMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

export class PgListener {
  private readonly channels = new Map<string, Set<(payload: string) => void>>();
  private readonly reconnectFns = new Set<() => void>();
  private client: pg.Client | null = null;
  /** Channels the current connection LISTENs on. */
  private listened = new Set<string>();
  private failClient: ((err: Error) => void) | null = null;
  private connecting: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private lastError: Error | null = null;
  private closed = false;
  private everConnected = false;
  private readyWaiters: (() => void)[] = [];
  /** Successful (re)connections so far, for tests. */
  connections = 0;

  constructor(private readonly o: PgListenerOptions) {
    this.backoffMs = o.backoffMinMs ?? 250;
  }

  /** Calls `fn` with the payload of each notice on `channel` (from any process); returns the unsubscribe. */
  listen(channel: string, fn: (payload: string) => void): () => void {
    if (!CHANNEL.test(channel)) throw new Error(`invalid LISTEN channel ${JSON.stringify(channel)}`);
    if (this.closed) throw new Error('the LISTEN connection is closed');
    let set = this.channels.get(channel);
    if (!set) {
      set = new Set();
      this.channels.set(channel, set);
    }
    set.add(fn);
    if (this.client && !this.listened.has(channel)) void this.listenOn(this.client, channel);
    else this.ensureConnecting();
    return () => void set.delete(fn);
  }

  /** Calls `fn` after each reconnection (not the first connect); returns the unsubscribe. */
  onReconnect(fn: () => void): () => void {
    this.reconnectFns.add(fn);
    return () => void this.reconnectFns.delete(fn);
  }

  /** Connects now; rejects when the first attempt fails (later ones are retried in the background). */
  async start(): Promise<void> {
    this.ensureConnecting();
    await this.connecting;
    if (!this.client && !this.everConnected) throw this.lastError ?? new Error('the LISTEN connection could not be opened');
  }

  /** Resolves once LISTEN is in force on every subscribed channel (for tests and the bench). */
  ready(): Promise<void> {
    if (this.isReady()) return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  get connected(): boolean {
    return this.client !== null;
  }

  private isReady(): boolean {
    return this.client !== null && [...this.channels.keys()].every((c) => this.listened.has(c));
  }

  private checkReady(): void {
    if (this.isReady()) for (const r of this.readyWaiters.splice(0)) r();
  }

  private ensureConnecting(): void {
    if (!this.client && !this.connecting && !this.retryTimer && !this.closed) void this.connect();
  }

  private async listenOn(client: pg.Client, channel: string): Promise<void> {
    try {
      await client.query(`LISTEN ${channel}`);
      if (this.client !== client) return;
      this.listened.add(channel);
      this.checkReady();
    } catch (err) {
      if (this.client === client) this.failClient?.(err as Error);
    }
  }

  private call(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.o.logger?.error({ err: (err as Error).message }, `a ${what} listener failed`);
    }
  }

  private connect(): Promise<void> {
    this.retryTimer = undefined;
    const base: pg.ClientConfig = typeof this.o.connection === 'string' ? { connectionString: this.o.connection } : { ...this.o.connection };
    const client = new pg.Client({ ...base, application_name: this.o.applicationName, keepAlive: true });
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      this.lastError = err;
      if (this.client === client) {
        this.client = null;
        this.failClient = null;
        this.listened = new Set();
      }
      client.removeAllListeners('notification');
      client.on('error', () => undefined);
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.o.logger?.warn({ err: err.message, retryInMs: this.backoffMs }, 'the PostgreSQL LISTEN connection failed; reconnecting');
      this.retryTimer = setTimeout(() => void this.connect(), this.backoffMs);
      this.retryTimer.unref();
      this.backoffMs = Math.min(this.o.backoffMaxMs ?? 10_000, this.backoffMs * 2);
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('connection ended')));
    client.on('notification', (msg) => {
      const set = this.channels.get(msg.channel);
      if (!set || msg.payload === undefined) return;
      for (const fn of [...set]) this.call(`${msg.channel} notification`, () => fn(msg.payload!));
    });
    this.connecting = (async () => {
      try {
        await client.connect();
        const channels = [...this.channels.keys()];
        for (const channel of channels) await client.query(`LISTEN ${channel}`);
        if (this.closed || failed) {
          await client.end().catch(() => undefined);
          return;
        }
        this.client = client;
        this.failClient = fail;
        this.listened = new Set(channels);
        // Channels subscribed while this connection was being opened.
        for (const c of this.channels.keys()) if (!this.listened.has(c)) void this.listenOn(client, c);
        this.backoffMs = this.o.backoffMinMs ?? 250;
        this.connections++;
        this.startPing();
        this.checkReady();
        if (this.everConnected) {
          this.o.logger?.info('the PostgreSQL LISTEN connection is back');
          for (const fn of [...this.reconnectFns]) this.call('reconnect', fn);
        }
        this.everConnected = true;
      } catch (err) {
        fail(err as Error);
      } finally {
        this.connecting = null;
      }
    })();
    return this.connecting;
  }

  private startPing(): void {
    if (this.pingTimer) return;
    this.pingTimer = setInterval(() => void this.ping(), this.o.pingMs ?? 30_000);
    this.pingTimer.unref();
  }

  private async ping(): Promise<void> {
    const client = this.client;
    const fail = this.failClient;
    if (!client || !fail) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.query('SELECT 1'),
        new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('ping timed out')), 10_000))),
      ]);
    } catch (err) {
      // A connection that does not answer is treated as lost.
      if (this.client === client) fail(err as Error);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.channels.clear();
    this.reconnectFns.clear();
    await this.connecting;
    const c = this.client;
    this.client = null;
    this.failClient = null;
    if (c) {
      c.removeAllListeners('end');
      c.removeAllListeners('error');
      c.on('error', () => undefined);
      await c.end().catch(() => undefined);
    }
  }
}
