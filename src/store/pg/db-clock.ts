/**
 * The database's clock, for nodes on several machines: a lease is judged by
 * comparing heartbeat times written by one node with the time another node
 * reads, so every node stamps with the same clock: its own, corrected by its
 * measured offset to the PostgreSQL server's (re-measured every 5 minutes).
 */
import type pg from 'pg';
import type { Logger } from 'pino';

const RESYNC_MS = 5 * 60_000;
/** An offset beyond this is worth an operator's attention (the lease absorbs it either way). */
const WARN_MS = 2000;

export class DbClock {
  offsetMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger?: Logger,
  ) {}

  readonly now = (): number => Date.now() + this.offsetMs;

  /** Measures the offset (the server's time minus ours at the middle of the round trip). */
  async sync(): Promise<number> {
    const t0 = Date.now();
    const res = await this.pool.query<{ ms: number }>('SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms');
    const t1 = Date.now();
    const offset = Math.round(res.rows[0]!.ms - (t0 + t1) / 2);
    if (Math.abs(offset) > WARN_MS && Math.abs(offset - this.offsetMs) > WARN_MS / 2) {
      this.logger?.warn({ offsetMs: offset }, "this machine's clock differs from the database's; job times use the database's clock");
    }
    this.offsetMs = offset;
    return offset;
  }

  start(): void {
    this.timer = setInterval(() => void this.sync().catch((err: Error) => this.logger?.warn({ err: err.message }, 'measuring the database clock failed')), RESYNC_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
