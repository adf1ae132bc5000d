/**
 * Schedules in the SQLite file of the job store, on its connection: a fire and
 * its job commit in one `BEGIN IMMEDIATE` transaction, and the UNIQUE
 * (schedule_id, scheduled_for_ms) of `schedule_fires` makes a fire time run
 * once however many processes share the file.
 */
import type Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { HubmillError } from '../errors.js';
import type { Parameters } from '../notebook/types.js';
import { TERMINAL_STATUSES, type Job, type JobPage, type JobTarget } from './job-store.js';
import {
  scheduleJob,
  type FirePlan,
  type FireResult,
  type ListSchedulesQuery,
  type NewSchedule,
  type Schedule,
  type ScheduleNotify,
  type SchedulePage,
  type ScheduleSettings,
  type ScheduleStore,
  type SettleDecision,
  type Settled,
} from './schedule-store.js';
import { decodeJsonValue, decodeParameters, encodeJsonValue, encodeParameters } from '../notebook/parameters-json.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { rowToJob, type JobRow } from './core/job-row.js';
import { insertQueuedJob } from './sqlite-job-rows.js';
import type { SqliteJobStore } from './sqlite-job-store.js';

interface ScheduleRow extends Omit<Schedule, 'parameters' | 'paused' | 'notify'> {
  parameters: string;
  paused: number;
  notify: string | null;
}

function rowToSchedule(r: ScheduleRow): Schedule {
  return {
    ...r,
    parameters: decodeParameters(r.parameters),
    paused: r.paused !== 0,
    notify: r.notify === null ? null : decodeJsonValue<ScheduleNotify>(r.notify),
  };
}

const SETTINGS_COLUMNS: readonly (keyof ScheduleSettings)[] = [
  'name', 'notebook', 'parameters', 'kernel', 'cron', 'timezone', 'timeout_s', 'cell_timeout_s', 'overlap', 'max_concurrent',
  'max_retries', 'retry_backoff_s', 'catchup', 'max_catchup', 'start_at_ms', 'end_at_ms', 'paused', 'notify',
];

function columnValue(key: string, v: unknown): unknown {
  if (key === 'parameters') return encodeParameters((v ?? {}) as Parameters);
  if (key === 'notify') return v === null || v === undefined ? null : encodeJsonValue(v);
  if (key === 'paused') return v ? 1 : 0;
  return v ?? null;
}

const ACTIVE = `status IN ('queued','running')`;
const TERMINAL_SQL = TERMINAL_STATUSES.map((s) => `'${s}'`).join(',');

/** Schedule ids: `sch_` + time-ordered hex, like job ids are. */
function newScheduleId(nowMs: number): string {
  return `sch_${nowMs.toString(16).padStart(12, '0')}${randomBytes(6).toString('hex')}`;
}

export class SqliteScheduleStore implements ScheduleStore {
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly jobTarget: JobTarget;

  /** `jobTarget`: the target of the jobs fires start ('user-server' with HUBMILL_HOMES=user-server; default 'local'). */
  constructor(jobs: SqliteJobStore, opts: { now?: () => number; jobTarget?: JobTarget } = {}) {
    this.db = jobs.connection();
    this.now = opts.now ?? Date.now;
    this.jobTarget = opts.jobTarget ?? 'local';
    const applied = jobs.appliedMigrations();
    if (!applied.includes(20)) throw new HubmillError('the job store lacks the schedules migration (20)');
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** Prepared once per SQL text: fires run thousands of times a minute. */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  private row(id: string): Schedule | null {
    const r = this.sql('SELECT * FROM schedules WHERE id = ?').get(id) as ScheduleRow | undefined;
    return r ? rowToSchedule(r) : null;
  }

  private activeRuns(id: string): number {
    return (this.sql(`SELECT COUNT(*) AS n FROM jobs WHERE schedule_id IS NOT NULL AND schedule_id = ? AND ${ACTIVE}`).get(id) as { n: number }).n;
  }

  async create(s: NewSchedule): Promise<Schedule> {
    const now = this.now();
    const id = newScheduleId(now);
    const cols = ['id', 'owner', 'created_by', 'webhook_secret', 'next_run_at_ms', 'created_at_ms', 'updated_at_ms', ...SETTINGS_COLUMNS];
    const vals = [id, s.owner, s.created_by, s.webhook_secret, s.next_run_at_ms, now, now, ...SETTINGS_COLUMNS.map((k) => columnValue(k, s[k]))];
    this.sql(`INSERT INTO schedules (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...vals);
    return this.row(id)!;
  }

  async get(id: string): Promise<Schedule | null> {
    return this.row(id);
  }

  async list(q: ListSchedulesQuery): Promise<SchedulePage> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.owner !== undefined) {
      where.push('owner = ?');
      args.push(q.owner);
    }
    if (q.cursor) {
      const c = decodeCursor(q.cursor);
      where.push('(created_at_ms < ? OR (created_at_ms = ? AND id < ?))');
      args.push(c.createdAtMs, c.createdAtMs, c.id);
    }
    const limit = Math.max(1, Math.min(1000, Math.floor(q.limit) || 1));
    const rows = this.db
      .prepare(`SELECT * FROM schedules ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at_ms DESC, id DESC LIMIT ?`)
      .all(...args, limit + 1) as ScheduleRow[];
    const page = rows.slice(0, limit).map(rowToSchedule);
    const last = page[page.length - 1];
    return { schedules: page, next_cursor: rows.length > limit && last ? encodeCursor(last.created_at_ms, last.id) : null };
  }

  async update(id: string, patch: Partial<ScheduleSettings> & { next_run_at_ms?: number | null; webhook_secret?: string }): Promise<Schedule | null> {
    const tx = this.db.transaction((): Schedule | null => {
      if (!this.row(id)) return null;
      const sets: string[] = ['updated_at_ms = ?'];
      const args: unknown[] = [this.now()];
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined || !(SETTINGS_COLUMNS as readonly string[]).concat('next_run_at_ms', 'webhook_secret').includes(k)) continue;
        sets.push(`${k} = ?`);
        args.push(columnValue(k, v));
      }
      this.sql(`UPDATE schedules SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
      return this.row(id);
    });
    return tx.immediate();
  }

  async delete(id: string): Promise<boolean> {
    const tx = this.db.transaction((): boolean => {
      const n = this.sql('DELETE FROM schedules WHERE id = ?').run(id).changes;
      this.sql('DELETE FROM schedule_fires WHERE schedule_id = ?').run(id);
      this.sql('DELETE FROM schedule_pending WHERE schedule_id = ?').run(id);
      return n > 0;
    });
    return tx.immediate();
  }

  async due(nowMs: number, limit: number): Promise<Schedule[]> {
    const rows = this.db
      .prepare('SELECT * FROM schedules WHERE paused = 0 AND next_run_at_ms IS NOT NULL AND next_run_at_ms <= ? ORDER BY next_run_at_ms LIMIT ?')
      .all(nowMs, limit) as ScheduleRow[];
    return rows.map(rowToSchedule);
  }

  async nextDueAt(): Promise<number | null> {
    const a = this.sql('SELECT MIN(next_run_at_ms) AS t FROM schedules WHERE paused = 0 AND next_run_at_ms IS NOT NULL').get() as { t: number | null };
    const b = this.db
      .prepare('SELECT MIN(p.due_at_ms) AS t FROM schedule_pending p JOIN schedules s ON s.id = p.schedule_id WHERE s.paused = 0 AND p.wait_for_idle = 0')
      .get() as { t: number | null };
    const ts = [a.t, b.t].filter((t): t is number => t !== null);
    return ts.length ? Math.min(...ts) : null;
  }

  async fire(id: string, expectedNextRunAtMs: number, plan: (s: Schedule, activeRuns: number) => FirePlan): Promise<FireResult | null> {
    const tx = this.db.transaction((): FireResult | null => {
      const s = this.row(id);
      if (!s || s.paused || s.next_run_at_ms !== expectedNextRunAtMs) return null;
      const p = plan(s, this.activeRuns(id));
      const now = this.now();
      const record = this.sql(
        'INSERT OR IGNORE INTO schedule_fires (schedule_id, scheduled_for_ms, outcome, job_id, fired_at_ms) VALUES (?, ?, ?, ?, ?)',
      );
      const jobs: Job[] = [];
      let fires = 0;
      let skipped = 0;
      let lastJob = s.last_job_id;
      let lastFire = s.last_fire_ms;
      for (const t of p.enqueue) {
        // Recorded before the job: a time already fired (clock set back) is ignored, never run twice.
        if (record.run(id, t, 'enqueued', null, now).changes === 0) continue;
        const job = insertQueuedJob(this.db, scheduleJob(s, t, 1, this.jobTarget), now);
        this.sql('UPDATE schedule_fires SET job_id = ? WHERE schedule_id = ? AND scheduled_for_ms = ?').run(job.id, id, t);
        jobs.push(job);
        fires++;
        lastJob = job.id;
        lastFire = t;
      }
      for (const t of p.defer) {
        if (record.run(id, t, 'enqueued', null, now).changes === 0) continue;
        this.db
          .prepare('INSERT OR IGNORE INTO schedule_pending (schedule_id, scheduled_for_ms, attempt, due_at_ms, wait_for_idle) VALUES (?, ?, 1, ?, 1)')
          .run(id, t, t);
        fires++;
        lastFire = Math.max(lastFire ?? t, t);
      }
      for (const t of p.skippedOverlap) if (record.run(id, t, 'skipped_overlap', null, now).changes > 0) skipped++;
      this.db
        .prepare(
          `UPDATE schedules SET next_run_at_ms = ?, fires = fires + ?, overlap_skipped = overlap_skipped + ?, missed_skipped = missed_skipped + ?,
             last_fire_ms = ?, last_job_id = ?, updated_at_ms = ? WHERE id = ?`,
        )
        .run(p.nextRunAtMs, fires, skipped, p.missed, lastFire, lastJob, now, id);
      return { schedule: this.row(id)!, plan: p, jobs };
    });
    return tx.immediate();
  }

  async enqueuePending(nowMs: number, limit: number): Promise<Job[]> {
    const tx = this.db.transaction((): Job[] => {
      const rows = this.db
        .prepare(
          `SELECT p.* FROM schedule_pending p JOIN schedules s ON s.id = p.schedule_id
           WHERE p.due_at_ms <= ? AND s.paused = 0 ORDER BY p.due_at_ms, p.scheduled_for_ms LIMIT ?`,
        )
        .all(nowMs, limit) as { schedule_id: string; scheduled_for_ms: number; attempt: number; wait_for_idle: number }[];
      const jobs: Job[] = [];
      const now = this.now();
      for (const p of rows) {
        const s = this.row(p.schedule_id);
        if (!s) continue;
        if (p.wait_for_idle && this.activeRuns(s.id) > 0) continue;
        this.sql('DELETE FROM schedule_pending WHERE schedule_id = ? AND scheduled_for_ms = ? AND attempt = ?').run(s.id, p.scheduled_for_ms, p.attempt);
        const exists = this.db
          .prepare('SELECT 1 FROM jobs WHERE schedule_id = ? AND scheduled_for_ms = ? AND attempt = ?')
          .get(s.id, p.scheduled_for_ms, p.attempt);
        if (exists) continue;
        const job = insertQueuedJob(this.db, scheduleJob(s, p.scheduled_for_ms, p.attempt, this.jobTarget), now);
        if (p.wait_for_idle) this.sql('UPDATE schedule_fires SET job_id = ? WHERE schedule_id = ? AND scheduled_for_ms = ?').run(job.id, s.id, p.scheduled_for_ms);
        this.sql('UPDATE schedules SET last_job_id = ? WHERE id = ?').run(job.id, s.id);
        jobs.push(job);
      }
      return jobs;
    });
    return tx.immediate();
  }

  async settleFinished(decide: (job: Job, schedule: Schedule | null) => SettleDecision, limit: number): Promise<Settled[]> {
    const tx = this.db.transaction((): Settled[] => {
      const rows = this.db
        .prepare(
          // The partial index holds only unsettled schedule jobs; the status index would walk every finished job.
          `SELECT * FROM jobs INDEXED BY jobs_schedule_unsettled
           WHERE schedule_id IS NOT NULL AND schedule_settled = 0 AND status IN (${TERMINAL_SQL})
           ORDER BY finished_at_ms, id LIMIT ?`,
        )
        .all(limit) as JobRow[];
      const out: Settled[] = [];
      for (const r of rows) {
        const job = rowToJob(r);
        const schedule = this.row(job.schedule_id!);
        const { retryAtMs } = decide(job, schedule);
        this.sql('UPDATE jobs SET schedule_settled = 1 WHERE id = ?').run(job.id);
        if (retryAtMs !== null && schedule && job.scheduled_for_ms !== null) {
          this.db
            .prepare('INSERT OR IGNORE INTO schedule_pending (schedule_id, scheduled_for_ms, attempt, due_at_ms, wait_for_idle) VALUES (?, ?, ?, ?, 0)')
            .run(schedule.id, job.scheduled_for_ms, job.attempt + 1, retryAtMs);
          this.sql('UPDATE schedules SET retries = retries + 1 WHERE id = ?').run(schedule.id);
        }
        out.push({ job, schedule, retryAtMs: schedule && job.scheduled_for_ms !== null ? retryAtMs : null });
      }
      return out;
    });
    return tx.immediate();
  }

  async runs(scheduleId: string, cursor: string | undefined, limit: number): Promise<JobPage> {
    const args: unknown[] = [scheduleId];
    let where = 'schedule_id = ?';
    if (cursor) {
      const c = decodeCursor(cursor);
      where += ' AND (created_at_ms < ? OR (created_at_ms = ? AND id < ?))';
      args.push(c.createdAtMs, c.createdAtMs, c.id);
    }
    const n = Math.max(1, Math.min(1000, Math.floor(limit) || 1));
    const rows = this.sql(`SELECT * FROM jobs WHERE ${where} ORDER BY created_at_ms DESC, id DESC LIMIT ?`).all(...args, n + 1) as JobRow[];
    const page = rows.slice(0, n).map(rowToJob);
    const last = page[page.length - 1];
    return { jobs: page, next_cursor: rows.length > n && last ? encodeCursor(last.created_at_ms, last.id) : null };
  }

  async countSchedules(): Promise<number> {
    return (this.sql('SELECT COUNT(*) AS n FROM schedules').get() as { n: number }).n;
  }
}

