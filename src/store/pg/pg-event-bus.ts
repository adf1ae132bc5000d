/**
 * The event bus on PostgreSQL, for API and worker nodes sharing one database.
 *
 * - **Publish.** A process's events of one job are sent in order, in batches,
 *   each batch one statement: it takes the next ids from `job_event_seq` (the row
 *   lock orders concurrent publishers of one job), stores the events in
 *   `job_events` and sends `NOTIFY hubmill_job_events` with
 *   `<job id> <seq> <event JSON>` — or only `<job id> <seq>` when the event is
 *   larger than `inlineMaxBytes` (PostgreSQL refuses payloads of 8000 bytes or
 *   more): readers then take it from the table (the spill).
 * - **Subscribe.** On the process's one LISTEN connection (listener.ts): the
 *   store's, when given (`listener`), else the bus's own.
 *   Each subscriber remembers the id it saw last; the next event inline is
 *   delivered at once, anything else (a spilled event, a gap, a resume with
 *   `after`) is read from the table in id order. A slow poll and every listener
 *   reconnect read back what notifications may have missed.
 * - **Prune.** Events of jobs that ended more than `keepEndedMs` ago (or that
 *   did not change for `keepAnyMs`) are deleted, and a job keeps at most its
 *   newest `perJob` events.
 */
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { decodeJsonValue, encodeJsonValue } from '../../notebook/parameters-json.js';
import type { EventBus, JobEvent, JobEventCursor, JobEventListener } from '../job-event-types.js';
import { isTerminal } from '../job-store.js';
import { PgListener } from './listener.js';
import { EVENT_BUS_CHANNEL } from './channels.js';
import { eventBusTables, migrateSchema, type EventBusTables } from './event-bus-schema.js';

export { EVENT_BUS_CHANNEL };
/** NOTIFY payloads must stay under 8000 bytes; the job id and seq take the rest. */
const DEFAULT_INLINE_MAX_BYTES = 7000;
const BATCH = 100;
const PAGE = 500;

export interface PgEventBusOptions {
  /** For the LISTEN connection (and the pool, when `pool` is not given). */
  connection: string | pg.ClientConfig;
  /** Shared pool for the queries (default: the bus's own, closed with it). */
  pool?: pg.Pool;
  /** The process's LISTEN connection, shared (the job store's; default: the bus's own, closed with it). */
  listener?: PgListener;
  schema?: string;
  channel?: string;
  logger?: Logger;
  inlineMaxBytes?: number;
  /** Subscribers check for missed events this often (default 2 s). */
  pollMs?: number;
  keepEndedMs?: number;
  keepAnyMs?: number;
  perJob?: number;
  pruneEveryMs?: number;
  /** The LISTEN connection's application_name (tests find it in pg_stat_activity). */
  applicationName?: string;
}

interface Sub {
  jobId: string;
  listener: JobEventListener;
  /** The id of the last event delivered (or to resume after). */
  last: number;
  ready: boolean;
  pumping: boolean;
  again: boolean;
  closed: boolean;
}

interface Outbox {
  items: Array<{ text: string; ended: boolean | null }>;
  draining: Promise<void> | null;
}

function decode(text: string): JobEvent {
  return decodeJsonValue<JobEvent>(text);
}

export class PgEventBus implements EventBus {
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly t: EventBusTables;
  private readonly schema: string;
  private readonly channel: string;
  private readonly log: Logger;
  private readonly inlineMaxBytes: number;
  private readonly listener: PgListener;
  private readonly ownsListener: boolean;
  private readonly offs: (() => void)[] = [];
  private readonly subs = new Map<string, Set<Sub>>();
  private readonly outbox = new Map<string, Outbox>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(private readonly o: PgEventBusOptions) {
    this.ownsPool = !o.pool;
    this.pool = o.pool ?? new pg.Pool(typeof o.connection === 'string' ? { connectionString: o.connection, max: 4 } : { max: 4, ...o.connection });
    if (this.ownsPool) this.pool.on('error', (err) => this.log.warn({ err: err.message }, 'idle event bus connection failed'));
    this.schema = o.schema ?? 'public';
    this.t = eventBusTables(this.schema);
    this.channel = o.channel ?? EVENT_BUS_CHANNEL;
    this.log = (o.logger ?? pino({ enabled: false })).child({ component: 'event-bus' });
    this.inlineMaxBytes = Math.min(DEFAULT_INLINE_MAX_BYTES, Math.max(0, o.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES));
    this.ownsListener = !o.listener;
    this.listener =
      o.listener ?? new PgListener({ connection: o.connection, applicationName: o.applicationName ?? 'hubmill event listener', logger: this.log });
  }

  /** Creates the tables when missing, listens, and starts the catch-up poll and pruning. */
  async start(): Promise<void> {
    // On the store's pool, the store's numbered migrations made the tables (version 3).
    if (this.ownsPool) await migrateSchema(this.pool, this.schema);
    this.offs.push(
      this.listener.listen(this.channel, (payload) => this.onNotification(payload)),
      // Notices sent while the connection was down are lost: read back what was published meanwhile.
      this.listener.onReconnect(() => void this.catchUp()),
    );
    await this.listener.start();
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.o.pollMs ?? 2000, () => void this.catchUp());
    every(this.o.pruneEveryMs ?? 5 * 60_000, () => void this.prune().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'pruning job events failed')));
  }

  publish(event: JobEvent): void {
    if (this.closed) return;
    let box = this.outbox.get(event.job_id);
    if (!box) {
      box = { items: [], draining: null };
      this.outbox.set(event.job_id, box);
    }
    box.items.push({ text: encodeJsonValue(event), ended: event.type === 'state' ? isTerminal(event.status) : null });
    box.draining ??= this.drain(event.job_id, box);
  }

  private async drain(jobId: string, box: Outbox): Promise<void> {
    while (box.items.length > 0) {
      const batch = box.items.splice(0, BATCH);
      const ended = batch.reduce<boolean | null>((acc, i) => i.ended ?? acc, null);
      for (let attempt = 1; ; attempt++) {
        try {
          await this.insert(jobId, batch.map((i) => i.text), ended);
          break;
        } catch (err) {
          if (attempt >= 4 || this.closed) {
            this.log.error({ jobId, events: batch.length, err: (err as Error).message }, 'publishing job events failed; they are lost');
            break;
          }
          await new Promise((r) => setTimeout(r, 100 * 4 ** (attempt - 1)));
        }
      }
    }
    // Synchronous with the loop's last check: a publish after this starts a new drain.
    box.draining = null;
    if (this.outbox.get(jobId) === box) this.outbox.delete(jobId);
  }

  private async insert(jobId: string, texts: string[], ended: boolean | null): Promise<void> {
    await this.pool.query(
      `WITH s AS (
         INSERT INTO ${this.t.seq} AS q (job_id, last, ended, updated_at) VALUES ($1, $2::bigint, COALESCE($3::boolean, false), now())
         ON CONFLICT (job_id) DO UPDATE SET last = q.last + $2::bigint, ended = COALESCE($3::boolean, q.ended), updated_at = now()
         RETURNING last
       ), e AS (
         INSERT INTO ${this.t.events} (job_id, seq, event)
         SELECT $1, s.last - $2::bigint + x.ord, x.ev FROM s, unnest($4::text[]) WITH ORDINALITY AS x(ev, ord)
         RETURNING seq, event
       )
       SELECT e.seq, pg_notify($5, $1 || ' ' || e.seq || CASE WHEN octet_length(e.event) <= $6 THEN ' ' || e.event ELSE '' END) FROM e`,
      [jobId, texts.length, ended, texts, this.channel, this.inlineMaxBytes],
    );
  }

  private onNotification(payload: string): void {
    const a = payload.indexOf(' ');
    const b = a < 0 ? -1 : payload.indexOf(' ', a + 1);
    const jobId = a < 0 ? payload : payload.slice(0, a);
    const subs = this.subs.get(jobId);
    if (!subs || a < 0) return;
    const seq = Number(b < 0 ? payload.slice(a + 1) : payload.slice(a + 1, b));
    if (!Number.isSafeInteger(seq)) return;
    const text = b < 0 ? null : payload.slice(b + 1);
    let event: JobEvent | null = null;
    for (const sub of [...subs]) {
      if (!sub.ready || sub.pumping) {
        sub.again = true;
        continue;
      }
      if (seq <= sub.last) continue;
      if (seq === sub.last + 1 && text !== null) {
        try {
          event ??= decode(text);
        } catch (err) {
          this.log.warn({ jobId, seq, err: (err as Error).message }, 'undecodable job event notification');
          void this.pump(sub);
          continue;
        }
        sub.last = seq;
        this.call(sub, event, seq);
      } else {
        void this.pump(sub);
      }
    }
  }

  private call(sub: Sub, event: JobEvent, id: number): void {
    if (sub.closed) return;
    try {
      sub.listener(event, id);
    } catch (err) {
      this.log.warn({ jobId: sub.jobId, err: (err as Error).message }, 'job event listener failed');
    }
  }

  /** Delivers the stored events after the subscriber's last one, in id order. */
  private async pump(sub: Sub): Promise<void> {
    if (sub.closed) return;
    if (sub.pumping) {
      sub.again = true;
      return;
    }
    sub.pumping = true;
    try {
      do {
        sub.again = false;
        const { rows } = await this.pool.query<{ n: string; event: string }>(
          `SELECT e.seq::text AS n, e.event FROM ${this.t.events} e WHERE e.job_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT ${PAGE}`,
          [sub.jobId, sub.last],
        );
        for (const r of rows) {
          if (sub.closed) return;
          const seq = Number(r.n);
          if (seq <= sub.last) continue;
          sub.last = seq;
          let event: JobEvent;
          try {
            event = decode(r.event);
          } catch (err) {
            this.log.warn({ jobId: sub.jobId, seq, err: (err as Error).message }, 'undecodable stored job event skipped');
            continue;
          }
          this.call(sub, event, seq);
        }
        if (rows.length === PAGE) sub.again = true;
      } while (sub.again && !sub.closed);
    } catch (err) {
      // The poll tries again.
      this.log.warn({ jobId: sub.jobId, err: (err as Error).message }, 'reading job events failed');
    } finally {
      sub.pumping = false;
    }
  }

  /** Sets where a subscriber without `after` starts: after the job's newest event now. */
  private async init(sub: Sub): Promise<void> {
    try {
      const { rows } = await this.pool.query<{ last: string }>(`SELECT last::text AS last FROM ${this.t.seq} WHERE job_id = $1`, [sub.jobId]);
      if (sub.ready) return;
      sub.last = rows[0] ? Number(rows[0].last) : 0;
      sub.ready = true;
      if (sub.again) void this.pump(sub);
    } catch (err) {
      this.log.warn({ jobId: sub.jobId, err: (err as Error).message }, 'subscribing to job events failed; retrying');
    }
  }

  subscribe(jobId: string, listener: JobEventListener, opts: { after?: number } = {}): () => void {
    const sub: Sub = { jobId, listener, last: 0, ready: false, pumping: false, again: false, closed: this.closed };
    let set = this.subs.get(jobId);
    if (!set) {
      set = new Set();
      this.subs.set(jobId, set);
    }
    set.add(sub);
    if (opts.after !== undefined) {
      sub.last = Math.max(0, Math.floor(opts.after));
      sub.ready = true;
      void this.pump(sub);
    } else {
      void this.init(sub);
    }
    return () => {
      sub.closed = true;
      const s = this.subs.get(jobId);
      s?.delete(sub);
      if (s?.size === 0) this.subs.delete(jobId);
    };
  }

  /** Reads back, for every subscriber, what the notifications may have missed. */
  private async catchUp(): Promise<void> {
    const jobIds = [...this.subs.keys()];
    if (jobIds.length === 0 || this.closed) return;
    try {
      const { rows } = await this.pool.query<{ job_id: string; last: string }>(
        `SELECT job_id, last::text AS last FROM ${this.t.seq} WHERE job_id = ANY($1::text[])`,
        [jobIds],
      );
      const lastOf = new Map(rows.map((r) => [r.job_id, Number(r.last)]));
      for (const id of jobIds) {
        for (const sub of this.subs.get(id) ?? []) {
          if (!sub.ready) void this.init(sub);
          else if ((lastOf.get(id) ?? 0) > sub.last) void this.pump(sub);
        }
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'checking for missed job events failed');
    }
  }

  async cursor(jobId: string): Promise<JobEventCursor | null> {
    const { rows } = await this.pool.query<{ last: string; ended: boolean; first: string | null }>(
      `SELECT q.last::text AS last, q.ended, (SELECT min(e.seq) FROM ${this.t.events} e WHERE e.job_id = q.job_id)::text AS first
         FROM ${this.t.seq} q WHERE q.job_id = $1`,
      [jobId],
    );
    const r = rows[0];
    if (!r) return null;
    const last = Number(r.last);
    return { first: r.first === null ? last + 1 : Number(r.first), last, ended: r.ended };
  }

  /** Deletes the events of long-ended (or long-silent) jobs and each job's events beyond its newest `perJob`; returns the rows deleted. */
  async prune(): Promise<number> {
    const ended = this.o.keepEndedMs ?? 60 * 60_000;
    const any = this.o.keepAnyMs ?? 7 * 24 * 60 * 60_000;
    const gone = await this.pool.query(
      `WITH gone AS (
         DELETE FROM ${this.t.seq} WHERE (ended AND updated_at < now() - $1 * interval '1 millisecond') OR updated_at < now() - $2 * interval '1 millisecond'
         RETURNING job_id
       )
       DELETE FROM ${this.t.events} e USING gone WHERE e.job_id = gone.job_id`,
      [ended, any],
    );
    const trimmed = await this.pool.query(
      `DELETE FROM ${this.t.events} e USING ${this.t.seq} q WHERE e.job_id = q.job_id AND e.seq <= q.last - $1::bigint`,
      [Math.max(1, this.o.perJob ?? 10_000)],
    );
    return (gone.rowCount ?? 0) + (trimmed.rowCount ?? 0);
  }

  async flush(): Promise<void> {
    while (this.outbox.size > 0) {
      await Promise.all([...this.outbox.values()].map((b) => b.draining));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    this.closed = true;
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const set of this.subs.values()) for (const s of set) s.closed = true;
    this.subs.clear();
    for (const off of this.offs.splice(0)) off();
    if (this.ownsListener) await this.listener.close();
    if (this.ownsPool) await this.pool.end().catch(() => undefined);
  }
}
