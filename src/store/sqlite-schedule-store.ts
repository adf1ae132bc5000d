/**
 * Schedules in the SQLite file of the job store, on its connection: a fire and
 * its job commit in one `BEGIN IMMEDIATE` transaction, and the UNIQUE
 * (schedule_id, scheduled_for_ms) of `schedule_fires` makes a fire time run
 * once however many processes share the file.
 */
import type Database from 'better-sqlite3';
import { HubmillError } from '../errors.js';
import type { Job, JobPage, JobTarget } from './job-store.js';
import {
  scheduleJob,
  type FirePlan,
  type FireResult,
  type ListSchedulesQuery,
  type NewSchedule,
  type Schedule,
  type ScheduleJobTemplate,
  type SchedulePage,
  type ScheduleStore,
  type SettleDecision,
  type Settled,
} from './schedule-store.js';
import { rowToJob, type JobRow } from './core/job-row.js';
import { insertQueuedJob } from './sqlite-job-rows.js';
import type { SqliteJobStore } from './sqlite-job-store.js';
import { SQLITE, type Sql } from './core/dialect.js';
import { newScheduleId, rowToSchedule, ScheduleSql, type ScheduleRow, type SchedulePatch } from './core/schedule-sql.js';
import { pageOf } from './core/page.js';
import { OutboxSql } from './core/outbox-sql.js';
import { noEffects, PipelineRuns, type RunEffects } from './core/pipeline-runs.js';
import { NotFoundError } from '../errors.js';

const SQL = new ScheduleSql(SQLITE);
const RUNS = new PipelineRuns(SQLITE);

const OUTBOX = new OutboxSql(SQLITE);
const notifyInserts = OUTBOX.scheduleEnd.bind(OUTBOX);

export class SqliteScheduleStore implements ScheduleStore {
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly jobTarget: JobTarget;
  private readonly jobs: SqliteJobStore;

  /** `jobTarget`: the target of the jobs fires start ('user-server' with HUBMILL_HOMES=user-server; default 'local'). */
  constructor(jobs: SqliteJobStore, opts: { now?: () => number; jobTarget?: JobTarget } = {}) {
    this.db = jobs.connection();
    this.jobs = jobs;
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

  private all<R>(q: Sql): R[] {
    return this.sql(q.text).all(...q.args) as R[];
  }

  /**
   * A pipeline schedule's run for one fire time (null: run now), in the caller's transaction; one per fire
   * time (the pipeline store finds a run already made for it). Null when the pipeline was deleted.
   */
  private startRun(s: Schedule, scheduledForMs: number | null, now: number, fx: RunEffects): string | null {
    const run = { pipeline_id: s.pipeline_id!, parameters: s.parameters, submitted_by: s.created_by, schedule_id: s.id, scheduled_for_ms: scheduledForMs };
    try {
      return this.jobs.runSteps(RUNS.createRun(run, this.jobTarget, now, fx));
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  }

  private activeRuns(id: string): number {
    const q = SQL.activeRuns(id);
    return (this.sql(q.text).get(...q.args) as { n: number }).n;
  }

  async create(s: NewSchedule): Promise<Schedule> {
    const now = this.now();
    return rowToSchedule(this.all<ScheduleRow>(SQL.create(s, newScheduleId(now), now))[0]!);
  }

  async get(id: string): Promise<Schedule | null> {
    return this.row(id);
  }

  async list(q: ListSchedulesQuery): Promise<SchedulePage> {
    const q2 = SQL.list(q);
    const page = pageOf(this.all<ScheduleRow>(q2), q2.limit);
    return { schedules: page.rows.map(rowToSchedule), next_cursor: page.next_cursor };
  }

  async update(id: string, patch: SchedulePatch): Promise<Schedule | null> {
    const q = SQL.update(id, patch, this.now());
    const r = this.db.transaction(() => this.all<ScheduleRow>(q)[0]).immediate();
    return r ? rowToSchedule(r) : null;
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
    const fx = noEffects();
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
        if (s.pipeline_id) {
          // A pipeline's run, in this transaction: its first jobs commit with the fire.
          const runId = this.startRun(s, t, now, fx);
          if (runId) this.sql('UPDATE schedule_fires SET job_id = ? WHERE schedule_id = ? AND scheduled_for_ms = ?').run(runId, id, t);
          fires++;
          lastJob = runId ?? lastJob;
          lastFire = t;
          continue;
        }
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
    const out = tx.immediate();
    this.jobs.announce(fx);
    return out;
  }

  async enqueuePending(nowMs: number, limit: number): Promise<Job[]> {
    const fx = noEffects();
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
        if (s.pipeline_id) {
          const runId = this.startRun(s, p.scheduled_for_ms, now, fx);
          if (runId) this.sql('UPDATE schedule_fires SET job_id = ? WHERE schedule_id = ? AND scheduled_for_ms = ?').run(runId, s.id, p.scheduled_for_ms);
          if (runId) this.sql('UPDATE schedules SET last_job_id = ? WHERE id = ?').run(runId, s.id);
          continue;
        }
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
    const out = tx.immediate();
    this.jobs.announce(fx);
    return out;
  }

  async settleFinished(decide: (job: Job, schedule: Schedule | null) => SettleDecision, limit: number): Promise<Settled[]> {
    const tx = this.db.transaction((): Settled[] => {
      const now = this.now();
      const rows = this.all<JobRow>(SQL.unsettled(limit));
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
        const retry = schedule && job.scheduled_for_ms !== null ? retryAtMs : null;
        // The end's notifications commit with its settling: never lost, never written twice.
        for (const q of notifyInserts(schedule, job, retry !== null, now)) this.sql(q.text).run(...q.args);
        out.push({ job, schedule, retryAtMs: retry });
      }
      return out;
    });
    return tx.immediate();
  }

  async runs(scheduleId: string, cursor: string | undefined, limit: number): Promise<JobPage> {
    const q = SQL.runs(scheduleId, cursor, limit);
    const page = pageOf(this.all<JobRow>(q), q.limit);
    return { jobs: page.rows.map(rowToJob), next_cursor: page.next_cursor };
  }

  async storeJobTemplate(id: string, template: ScheduleJobTemplate, ifUpdatedAtMs: number): Promise<boolean> {
    const q = SQL.storeJobTemplate(id, template, ifUpdatedAtMs);
    return this.db.transaction(() => this.sql(q.text).run(...q.args).changes > 0).immediate();
  }

  async countSchedules(): Promise<number> {
    return (this.sql('SELECT COUNT(*) AS n FROM schedules').get() as { n: number }).n;
  }
}

