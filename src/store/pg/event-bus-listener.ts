/**
 * One dedicated connection that LISTENs on the event bus's channel, and keeps
 * listening: when the connection drops (the server restarted, a proxy cut it,
 * the backend was terminated) or stops answering the periodic ping, it
 * reconnects with a growing delay (up to `maxDelayMs`) and calls `onReconnect`,
 * so the bus reads back from the table what was published meanwhile.
 */
import pg from 'pg';
import type { Logger } from 'pino';

export interface ListenerOptions {
  connection: string | pg.ClientConfig;
  channel: string;
  log: Logger;
  onNotification(payload: string): void;
  /** Called after each successful reconnect (not the first connect). */
  onReconnect(): void;
  /** How often the connection is checked with `SELECT 1` (default 30 s). */
  pingMs?: number;
  /** Longest wait between reconnection attempts (default 5 s). */
  maxDelayMs?: number;
  /** Shown in pg_stat_activity (default 'hubmill event listener'). */
  applicationName?: string;
}

function clientConfig(c: string | pg.ClientConfig, applicationName: string): pg.ClientConfig {
  const base: pg.ClientConfig = typeof c === 'string' ? { connectionString: c } : { ...c };
  return { ...base, application_name: applicationName, keepAlive: true };
}

export class NotificationListener {
  private client: pg.Client | null = null;
  private closed = false;
  private connectedOnce = false;
  private delayMs = 100;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: ListenerOptions) {}

  /** Connects and listens; the first attempt's failure is thrown (later ones are retried). */
  async start(): Promise<void> {
    await this.connect();
    const ping = this.o.pingMs ?? 30_000;
    this.pingTimer = setInterval(() => void this.ping(), ping);
    this.pingTimer.unref();
  }

  get connected(): boolean {
    return this.client !== null;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(clientConfig(this.o.connection, this.o.applicationName ?? 'hubmill event listener'));
    client.on('notification', (msg) => {
      if (msg.channel === this.o.channel && msg.payload !== undefined) this.o.onNotification(msg.payload);
    });
    const lost = (why: string) => {
      if (this.client !== client) return;
      this.client = null;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.o.log.warn({ why }, 'event listener connection lost; reconnecting');
      this.scheduleReconnect();
    };
    client.on('error', (err) => lost(err.message));
    client.on('end', () => lost('connection ended'));
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.o.channel)}`);
    } catch (err) {
      client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.delayMs = 100;
    if (this.connectedOnce) {
      this.o.log.info('event listener reconnected');
      this.o.onReconnect();
    }
    this.connectedOnce = true;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.o.maxDelayMs ?? 5000, this.delayMs * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch((err: unknown) => {
        this.o.log.warn({ err: (err as Error).message }, 'event listener reconnect failed');
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref();
  }

  private async ping(): Promise<void> {
    const client = this.client;
    if (!client) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.query('SELECT 1'),
        new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('ping timed out')), 10_000))),
      ]);
    } catch (err) {
      if (this.client === client) {
        // A connection that does not answer is treated as lost.
        this.o.log.warn({ err: (err as Error).message }, 'event listener ping failed');
        this.client = null;
        client.end().catch(() => undefined);
        this.scheduleReconnect();
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}
