/**
 * Schedules in the PostgreSQL store, on the job store's pool: a fire locks its
 * schedule's row (FOR UPDATE), so nodes firing the same schedule take turns and
 * the later one finds it already fired; the primary key (schedule_id,
 * scheduled_for_ms) of `schedule_fires` makes each fire time run once even if
 * next_run_at is set back. The fire, its jobs and the new next_run_at commit
 * together. Creating, editing and deleting a schedule NOTIFY
 * `hubmill_schedules_changed` in their transaction, so every node's scheduler
 * re-reads at once (`onSchedulesChanged`).
 */
import type pg from 'pg';
import type { Job, JobPage, JobTarget, NewJob } from '../job-store.js';
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
} from '../schedule-store.js';
import { query, withTx } from './connect.js';
import { OutboxSql } from '../core/outbox-sql.js';
import { rowToJob, type JobRow } from '../core/job-row.js';
import { insertQueuedJob } from './job-rows.js';
import type { PgJobStore } from './pg-job-store.js';
import { JOB_QUEUED_CHANNEL, SCHEDULES_CHANGED_CHANNEL } from './channels.js';
import { NotFoundError } from '../../errors.js';
import { noEffects, PipelineRuns } from '../core/pipeline-runs.js';
import { runAsync } from '../core/steps.js';
import { POSTGRES } from '../core/dialect.js';
import { newScheduleId, rowToSchedule, ScheduleSql, type ScheduleRow, type SchedulePatch } from '../core/schedule-sql.js';
import { pageOf } from '../core/page.js';

const SQL = new ScheduleSql(POSTGRES);
const RUNS = new PipelineRuns(POSTGRES);

type Db = pg.Pool | pg.ClientBase;

const OUTBOX = new OutboxSql(POSTGRES);
const notifyInserts = OUTBOX.scheduleEnd.bind(OUTBOX);

export class PgScheduleStore implements ScheduleStore {
  private readonly jobs: PgJobStore;
  private readonly pool: pg.Pool;
  private readonly schema: string;
  private readonly now: () => number;
  private readonly jobTarget: JobTarget;

  /** `jobTarget`: the target of the jobs fires start ('user-server' with HUBMILL_HOMES=user-server; default 'local'). */
  constructor(jobs: PgJobStore, opts: { now?: () => number; jobTarget?: JobTarget } = {}) {
    this.jobs = jobs;
    this.pool = jobs.pool;
    this.schema = jobs.schema;
    this.now = opts.now ?? jobs.now;
    this.jobTarget = opts.jobTarget ?? 'local';
  }

  private async row(c: Db, id: string, lock = false): Promise<Schedule | null> {
    const r = (await c.query<ScheduleRow>(`SELECT * FROM schedules WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id])).rows[0];
    return r ? rowToSchedule(r) : null;
  }

  /**
   * A pipeline schedule's run for one fire time, in the caller's transaction `c` (its first jobs are announced
   * at commit); one per fire time (the pipeline store finds a run already made for it). Null when the
   * pipeline was deleted.
   */
  private async startRun(c: pg.ClientBase, s: Schedule, scheduledForMs: number | null, now: number): Promise<string | null> {
    const fx = noEffects();
    const run = { pipeline_id: s.pipeline_id!, parameters: s.parameters, submitted_by: s.created_by, schedule_id: s.id, scheduled_for_ms: scheduledForMs };
    try {
      const id = await runAsync(RUNS.createRun(run, this.jobTarget, now, fx), async (q) => (await c.query(q.text, q.args)).rows);
      if (fx.queued > 0) await c.query('SELECT pg_notify($1, $2)', [JOB_QUEUED_CHANNEL, this.schema]);
      return id;
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  }

  private async activeRuns(c: Db, id: string): Promise<number> {
    const q = SQL.activeRuns(id);
    return (await c.query<{ n: number }>(q.text, q.args)).rows[0]!.n;
  }

  /** Delivered at commit, to every node listening on this schema (none if the transaction rolls back). */
  private async notifyChanged(c: pg.ClientBase): Promise<void> {
    await c.query('SELECT pg_notify($1, $2)', [SCHEDULES_CHANGED_CHANNEL, this.schema]);
  }

  /** Calls `fn` soon after a schedule of this store is created, edited or deleted, by any node; returns the unsubscribe. */
  onSchedulesChanged(fn: () => void): () => void {
    return this.jobs.onNotification(SCHEDULES_CHANGED_CHANNEL, fn);
  }

  private insertJob(c: pg.ClientBase, job: NewJob, now: number): Promise<Job | null> {
    // A clash on (schedule_id, scheduled_for_ms, attempt) means that run exists: nothing is inserted.
    return insertQueuedJob(c, this.schema, job, now, true);
  }

  async create(s: NewSchedule): Promise<Schedule> {
    const now = this.now();
    const q = SQL.create(s, newScheduleId(now), now);
    return withTx(this.pool, async (c) => {
      const res = await c.query<ScheduleRow>(q.text, q.args);
      await this.notifyChanged(c);
      return rowToSchedule(res.rows[0]!);
    });
  }

  async get(id: string): Promise<Schedule | null> {
    return this.row(this.pool, id);
  }

  async list(q: ListSchedulesQuery): Promise<SchedulePage> {
    const sql = SQL.list(q);
    const page = pageOf((await query<ScheduleRow>(this.pool, sql.text, sql.args)).rows, sql.limit);
    return { schedules: page.rows.map(rowToSchedule), next_cursor: page.next_cursor };
  }

  async update(id: string, patch: SchedulePatch): Promise<Schedule | null> {
    const q = SQL.update(id, patch, this.now());
    return withTx(this.pool, async (c) => {
      const res = await c.query<ScheduleRow>(q.text, q.args);
      if (!res.rows[0]) return null;
      await this.notifyChanged(c);
      return rowToSchedule(res.rows[0]);
    });
  }

  async delete(id: string): Promise<boolean> {
    return withTx(this.pool, async (c) => {
      const n = (await c.query('DELETE FROM schedules WHERE id = $1', [id])).rowCount ?? 0;
      await c.query('DELETE FROM schedule_fires WHERE schedule_id = $1', [id]);
      await c.query('DELETE FROM schedule_pending WHERE schedule_id = $1', [id]);
      if (n > 0) await this.notifyChanged(c);
      return n > 0;
    });
  }

  async due(nowMs: number, limit: number): Promise<Schedule[]> {
    const res = await query<ScheduleRow>(
      this.pool,
      'SELECT * FROM schedules WHERE NOT paused AND next_run_at_ms IS NOT NULL AND next_run_at_ms <= $1 ORDER BY next_run_at_ms LIMIT $2',
      [nowMs, limit],
    );
    return res.rows.map(rowToSchedule);
  }

  async nextDueAt(): Promise<number | null> {
    const res = await query<{ a: number | null; b: number | null }>(
      this.pool,
      `SELECT (SELECT MIN(next_run_at_ms) FROM schedules WHERE NOT paused AND next_run_at_ms IS NOT NULL) AS a,
              (SELECT MIN(p.due_at_ms) FROM schedule_pending p JOIN schedules s ON s.id = p.schedule_id
                WHERE NOT s.paused AND NOT p.wait_for_idle) AS b`,
    );
    const ts = [res.rows[0]!.a, res.rows[0]!.b].filter((t): t is number => t !== null);
    return ts.length ? Math.min(...ts) : null;
  }

  async fire(id: string, expectedNextRunAtMs: number, plan: (s: Schedule, activeRuns: number) => FirePlan): Promise<FireResult | null> {
    return withTx(this.pool, async (c) => {
      // The row lock makes concurrent fires of one schedule take turns; the later one sees the new next_run_at.
      const s = await this.row(c, id, true);
      if (!s || s.paused || s.next_run_at_ms !== expectedNextRunAtMs) return null;
      const p = plan(s, await this.activeRuns(c, id));
      const now = this.now();
      const record = async (t: number, outcome: string): Promise<boolean> =>
        ((
          await c.query(
            `INSERT INTO schedule_fires (schedule_id, scheduled_for_ms, outcome, job_id, fired_at_ms) VALUES ($1, $2, $3, NULL, $4)
             ON CONFLICT DO NOTHING`,
            [id, t, outcome, now],
          )
        ).rowCount ?? 0) > 0;
      const jobs: Job[] = [];
      let fires = 0;
      let skipped = 0;
      let lastJob = s.last_job_id;
      let lastFire = s.last_fire_ms;
      for (const t of p.enqueue) {
        // Recorded before the job: a time already fired (clock set back) is ignored, never run twice.
        if (!(await record(t, 'enqueued'))) continue;
        if (s.pipeline_id) {
          // A pipeline's run, in this transaction: its first jobs commit with the fire.
          const runId = await this.startRun(c, s, t, now);
          if (runId) await c.query('UPDATE schedule_fires SET job_id = $1 WHERE schedule_id = $2 AND scheduled_for_ms = $3', [runId, id, t]);
          fires++;
          lastJob = runId ?? lastJob;
          lastFire = t;
          continue;
        }
        const job = await this.insertJob(c, scheduleJob(s, t, 1, this.jobTarget), now);
        if (!job) continue;
        await c.query('UPDATE schedule_fires SET job_id = $1 WHERE schedule_id = $2 AND scheduled_for_ms = $3', [job.id, id, t]);
        jobs.push(job);
        fires++;
        lastJob = job.id;
        lastFire = t;
      }
      for (const t of p.defer) {
        if (!(await record(t, 'enqueued'))) continue;
        await c.query(
          `INSERT INTO schedule_pending (schedule_id, scheduled_for_ms, attempt, due_at_ms, wait_for_idle) VALUES ($1, $2, 1, $2, true)
           ON CONFLICT DO NOTHING`,
          [id, t],
        );
        fires++;
        lastFire = Math.max(lastFire ?? t, t);
      }
      for (const t of p.skippedOverlap) if (await record(t, 'skipped_overlap')) skipped++;
      const res = await c.query<ScheduleRow>(
        `UPDATE schedules SET next_run_at_ms = $1, fires = fires + $2, overlap_skipped = overlap_skipped + $3, missed_skipped = missed_skipped + $4,
           last_fire_ms = $5, last_job_id = $6, updated_at_ms = $7 WHERE id = $8 RETURNING *`,
        [p.nextRunAtMs, fires, skipped, p.missed, lastFire, lastJob, now, id],
      );
      return { schedule: rowToSchedule(res.rows[0]!), plan: p, jobs };
    });
  }

  async enqueuePending(nowMs: number, limit: number): Promise<Job[]> {
    return withTx(this.pool, async (c) => {
      // Pending rows are locked and skipped by another node doing the same; each is enqueued once.
      const rows = (
        await c.query<{ schedule_id: string; scheduled_for_ms: number; attempt: number; wait_for_idle: boolean }>(
          `SELECT p.* FROM schedule_pending p JOIN schedules s ON s.id = p.schedule_id
           WHERE p.due_at_ms <= $1 AND NOT s.paused ORDER BY p.due_at_ms, p.scheduled_for_ms LIMIT $2
           FOR UPDATE OF p SKIP LOCKED`,
          [nowMs, limit],
        )
      ).rows;
      const jobs: Job[] = [];
      const now = this.now();
      for (const p of rows) {
        // The schedule's lock orders this against its fires (which count its active runs too).
        const s = await this.row(c, p.schedule_id, true);
        if (!s) continue;
        if (p.wait_for_idle && (await this.activeRuns(c, s.id)) > 0) continue;
        await c.query('DELETE FROM schedule_pending WHERE schedule_id = $1 AND scheduled_for_ms = $2 AND attempt = $3', [
          s.id,
          p.scheduled_for_ms,
          p.attempt,
        ]);
        if (s.pipeline_id) {
          const runId = await this.startRun(c, s, p.scheduled_for_ms, now);
          if (!runId) continue;
          await c.query('UPDATE schedule_fires SET job_id = $1 WHERE schedule_id = $2 AND scheduled_for_ms = $3', [runId, s.id, p.scheduled_for_ms]);
          await c.query('UPDATE schedules SET last_job_id = $1 WHERE id = $2', [runId, s.id]);
          continue;
        }
        const job = await this.insertJob(c, scheduleJob(s, p.scheduled_for_ms, p.attempt, this.jobTarget), now);
        if (!job) continue;
        if (p.wait_for_idle) {
          await c.query('UPDATE schedule_fires SET job_id = $1 WHERE schedule_id = $2 AND scheduled_for_ms = $3', [job.id, s.id, p.scheduled_for_ms]);
        }
        await c.query('UPDATE schedules SET last_job_id = $1 WHERE id = $2', [job.id, s.id]);
        jobs.push(job);
      }
      return jobs;
    });
  }

  async settleFinished(decide: (job: Job, schedule: Schedule | null) => SettleDecision, limit: number): Promise<Settled[]> {
    return withTx(this.pool, async (c) => {
      // Locked and skipped by another node settling at the same time: each end is handled once.
      const unsettled = SQL.unsettled(limit);
      const rows = (await c.query<JobRow>(unsettled.text, unsettled.args)).rows;
      const out: Settled[] = [];
      for (const r of rows) {
        const job = rowToJob(r);
        const schedule = await this.row(c, job.schedule_id!);
        const { retryAtMs } = decide(job, schedule);
        await c.query('UPDATE jobs SET schedule_settled = true WHERE id = $1', [job.id]);
        if (retryAtMs !== null && schedule && job.scheduled_for_ms !== null) {
          await c.query(
            `INSERT INTO schedule_pending (schedule_id, scheduled_for_ms, attempt, due_at_ms, wait_for_idle) VALUES ($1, $2, $3, $4, false)
             ON CONFLICT DO NOTHING`,
            [schedule.id, job.scheduled_for_ms, job.attempt + 1, retryAtMs],
          );
          await c.query('UPDATE schedules SET retries = retries + 1 WHERE id = $1', [schedule.id]);
        }
        const retry = schedule && job.scheduled_for_ms !== null ? retryAtMs : null;
        // The end's notifications commit with its settling: never lost, never written twice.
        for (const q of notifyInserts(schedule, job, retry !== null, this.now())) await c.query(q.text, q.args);
        out.push({ job, schedule, retryAtMs: retry });
      }
      return out;
    });
  }

  async runs(scheduleId: string, cursor: string | undefined, limit: number): Promise<JobPage> {
    const q = SQL.runs(scheduleId, cursor, limit);
    const page = pageOf((await query<JobRow>(this.pool, q.text, q.args)).rows, q.limit);
    return { jobs: page.rows.map(rowToJob), next_cursor: page.next_cursor };
  }


  async storeJobTemplate(id: string, template: ScheduleJobTemplate, ifUpdatedAtMs: number): Promise<boolean> {
    const q = SQL.storeJobTemplate(id, template, ifUpdatedAtMs);
    return ((await query(this.pool, q.text, q.args)).rowCount ?? 0) > 0;
  }

  async countSchedules(): Promise<number> {
    return (await query<{ n: number }>(this.pool, 'SELECT COUNT(*)::int AS n FROM schedules')).rows[0]!.n;
  }
}

