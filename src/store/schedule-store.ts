/**
 * The schedule store: schedules, their fires (one row per fire time, unique),
 * runs waiting to be enqueued (retries, queued overlaps), and the bookkeeping
 * of schedule jobs that ended. SqliteScheduleStore and PgScheduleStore implement it.
 * Times are epoch milliseconds (`*_ms`).
 *
 * The policy (which times fire, overlap, retries) is the scheduler's: the store
 * runs the scheduler's pure decision functions inside its transactions, so a
 * fire, its job and the schedule's new `next_run_at_ms` commit together.
 */
import type { Parameters } from '../notebook/notebook-types.js';
import type { Job, JobPage, JobTarget, NewJob } from './job-store.js';
import type { SecretRef } from './secret-store.js';

import type { Visibility } from './sharing-store.js';

export type OverlapPolicy = 'skip' | 'queue' | 'allow';
export const OVERLAP_POLICIES: readonly OverlapPolicy[] = ['skip', 'queue', 'allow'];
export type CatchupPolicy = 'latest' | 'all' | 'none';
export const CATCHUP_POLICIES: readonly CatchupPolicy[] = ['latest', 'all', 'none'];
export type NotifyEvent = 'failed' | 'timed_out' | 'succeeded' | 'retrying';
export const NOTIFY_EVENTS: readonly NotifyEvent[] = ['failed', 'timed_out', 'succeeded', 'retrying'];

export interface ScheduleNotify {
  /** A signed webhook (its key: the schedule's webhook_secret). */
  webhook_url?: string;
  /** E-mail addresses (HUBMILL_SMTP_URL). */
  email?: string[];
  on: NotifyEvent[];
}

/** The events a schedule's `notify` sends when its `on` is left out. */
export const DEFAULT_NOTIFY_ON: readonly NotifyEvent[] = ['failed', 'timed_out'];

/** The event a settled schedule job announces (null: none, e.g. cancelled): its retry, else its final status. */
export function settledEvent(job: Job, retried: boolean): NotifyEvent | null {
  if (retried) return 'retrying';
  return job.status === 'succeeded' || job.status === 'failed' || job.status === 'timed_out' ? job.status : null;
}

/** What a user sets on a schedule (create and PATCH). */
export interface ScheduleSettings {
  name: string;
  /** The notebook its fires run; '' for a pipeline schedule. */
  notebook: string;
  /** The pipeline its fires run (a run per fire time, with the schedule's parameters as the run's); null for a notebook schedule. */
  pipeline_id?: string | null;
  parameters: Parameters;
  kernel: string | null;
  cron: string;
  timezone: string;
  timeout_s: number | null;
  cell_timeout_s: number | null;
  overlap: OverlapPolicy;
  max_concurrent: number;
  max_retries: number;
  retry_backoff_s: number;
  catchup: CatchupPolicy;
  max_catchup: number;
  /** Catch-up "none": a fire up to this late still runs; null = only the scheduler's on-time tolerance. */
  misfire_grace_s: number | null;
  start_at_ms: number | null;
  end_at_ms: number | null;
  paused: boolean;
  notify: ScheduleNotify | null;
  /** The secrets its runs get as environment variables (names, as given); [] or absent = none. */
  secrets?: string[];
}

/** The settings a schedule gets when its creator leaves them out (the API documents the same). */
export const SCHEDULE_DEFAULTS: Omit<ScheduleSettings, 'name' | 'notebook' | 'cron'> = {
  pipeline_id: null,
  parameters: {},
  kernel: null,
  timezone: 'UTC',
  timeout_s: null,
  cell_timeout_s: null,
  overlap: 'skip',
  max_concurrent: 1,
  max_retries: 0,
  retry_backoff_s: 60,
  catchup: 'latest',
  max_catchup: 100,
  misfire_grace_s: null,
  start_at_ms: null,
  end_at_ms: null,
  paused: false,
  notify: null,
  secrets: [],
};

/**
 * The job a fire starts, as the intake checked it when the schedule was saved:
 * the decided target and server, the notebook path as normalized, the kernel,
 * the parameters and the limits (the job fields a schedule sets).
 */
export interface ScheduleJobTemplate {
  target: JobTarget;
  server_name: string | null;
  notebook: string;
  kernel: string | null;
  parameters: Parameters;
  timeout_s: number | null;
  cell_timeout_s: number | null;
  /** The secrets, each with the scope the check resolved it in (absent = none). */
  secrets?: SecretRef[];
}

/** The template of a checked job (what the intake answered for the schedule's settings). */
export function jobTemplateOf(job: NewJob): ScheduleJobTemplate {
  return {
    target: job.target ?? 'local',
    server_name: job.server_name ?? null,
    notebook: job.notebook,
    kernel: job.kernel ?? null,
    parameters: job.parameters,
    timeout_s: job.timeout_s ?? null,
    cell_timeout_s: job.cell_timeout_s ?? null,
    ...(job.secrets && job.secrets.length > 0 ? { secrets: job.secrets } : {}),
  };
}

/**
 * The job a schedule's settings describe, as the runner's check takes it (saving a
 * schedule, and the template backfill of schedules saved before templates were kept).
 */
export function scheduleCheckJob(
  owner: string,
  s: Pick<ScheduleSettings, 'notebook' | 'parameters' | 'kernel' | 'timeout_s' | 'cell_timeout_s' | 'secrets'>,
  by: string,
  ownerGroups?: readonly string[],
): NewJob {
  return {
    ...(s.secrets && s.secrets.length > 0 ? { secrets: s.secrets.map((name) => ({ name })) } : {}),
    ...(ownerGroups ? { owner_groups: ownerGroups } : {}),
    username: owner,
    notebook: s.notebook,
    parameters: s.parameters,
    kernel: s.kernel,
    timeout_s: s.timeout_s,
    cell_timeout_s: s.cell_timeout_s,
    submitted_by: by,
    source: 'schedule',
  };
}

export interface Schedule extends ScheduleSettings {
  id: string;
  /** The user whose home and identity the runs use. */
  owner: string;
  created_by: string;
  /** HMAC key of the webhook signatures; shown once, at creation. */
  webhook_secret: string | null;
  /** The next fire time; null when it fires no more (past end_at). */
  next_run_at_ms: number | null;
  last_fire_ms: number | null;
  last_job_id: string | null;
  /** Fire times that started a run (or waited for one, overlap "queue"). */
  fires: number;
  /** Missed fire times that catch-up did not run. */
  missed_skipped: number;
  /** Fire times skipped because an earlier run was still active. */
  overlap_skipped: number;
  /** Retries scheduled. */
  retries: number;
  /**
   * The checked job its fires start; null for schedules saved before templates were kept (fires use the
   * settings) until the scheduler stores theirs (schedules/template-backfill.ts).
   */
  job_template: ScheduleJobTemplate | null;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface NewSchedule extends ScheduleSettings {
  owner: string;
  created_by: string;
  webhook_secret: string | null;
  next_run_at_ms: number | null;
  /** The intake's checked job (the HTTP API always sets it); absent: fires build the job from the settings. */
  job_template?: ScheduleJobTemplate | null;
}

/** A change of a schedule: settings, and what the API and the scheduler set besides them. */
export type SchedulePatch = Partial<ScheduleSettings> & { next_run_at_ms?: number | null; webhook_secret?: string; job_template?: ScheduleJobTemplate };

/** The scheduler's decision for one due schedule (see schedules/fire-plan.ts). */
export interface FirePlan {
  /** Fire times to enqueue now, oldest first. */
  enqueue: number[];
  /** Fire times that wait for the earlier run (overlap "queue"). */
  defer: number[];
  /** Fire times skipped because an earlier run is active. */
  skippedOverlap: number[];
  /** Missed times catch-up skips (counted, not recorded one by one). */
  missed: number;
  nextRunAtMs: number | null;
}

export interface FireResult {
  schedule: Schedule;
  plan: FirePlan;
  jobs: Job[];
}

/** What to do after a schedule's job ended (see schedules/retry.ts). */
export interface SettleDecision {
  /** Enqueue attempt+1 at this time; null = no retry. */
  retryAtMs: number | null;
}

export interface Settled {
  job: Job;
  /** Null when the schedule was deleted meanwhile. */
  schedule: Schedule | null;
  retryAtMs: number | null;
}

export interface ListSchedulesQuery {
  owner?: string;
  /** A caller's own schedules and those shared with it (sharing-store.ts). */
  visible?: Visibility;
  cursor?: string;
  limit: number;
}

export interface SchedulePage {
  schedules: Schedule[];
  next_cursor: string | null;
}

export interface ScheduleStore {
  create(s: NewSchedule): Promise<Schedule>;
  get(id: string): Promise<Schedule | null>;
  list(query: ListSchedulesQuery): Promise<SchedulePage>;
  /** Applies a change; null when the schedule does not exist. */
  update(id: string, patch: SchedulePatch): Promise<Schedule | null>;
  /** Deletes the schedule, its fire records and pending runs; its jobs stay. */
  delete(id: string): Promise<boolean>;
  /** Unpaused schedules whose next fire time is ≤ nowMs, soonest first. */
  due(nowMs: number, limit: number): Promise<Schedule[]>;
  /** The soonest time anything is due (a fire or a pending run); null when nothing is. */
  nextDueAt(): Promise<number | null>;
  /**
   * In one transaction: re-reads the schedule, and unless it is gone, paused or
   * already fired by someone else (its next_run_at_ms differs from
   * `expectedNextRunAtMs`), asks `plan` (given the number of its queued or
   * running jobs) what to do, records each fire time (unique per schedule),
   * enqueues the jobs and stores the new next fire time.
   */
  fire(id: string, expectedNextRunAtMs: number, plan: (s: Schedule, activeRuns: number) => FirePlan): Promise<FireResult | null>;
  /** In one transaction: enqueues pending runs that are due (retries; queued overlaps once the schedule is idle). */
  enqueuePending(nowMs: number, limit: number): Promise<Job[]>;
  /**
   * In one transaction: takes schedule jobs that ended and were not handled yet,
   * asks `decide` about each (retry or not), records the retries, and marks them handled.
   */
  settleFinished(decide: (job: Job, schedule: Schedule | null) => SettleDecision, limit: number): Promise<Settled[]>;
  /** Jobs of one schedule, newest first. */
  runs(scheduleId: string, cursor: string | undefined, limit: number): Promise<JobPage>;
  /**
   * Stores the checked template of a schedule saved without one (see `Schedule.job_template`), unless
   * it has one by now or changed since it was read (`updated_at_ms` differs: an edit may have changed
   * the job). True when stored. Not a change of the schedule: `updated_at_ms` stays.
   */
  storeJobTemplate(id: string, template: ScheduleJobTemplate, ifUpdatedAtMs: number): Promise<boolean>;
  /** For /metrics. */
  countSchedules(): Promise<number>;
  /**
   * Optional: calls `fn` soon after a schedule is created, edited or deleted by
   * any process sharing the store, so every scheduler re-reads at once
   * (PostgreSQL: LISTEN/NOTIFY). Returns the unsubscribe. Without it, another
   * process's change is seen at the scheduler's next pass (at most 30 s).
   */
  onSchedulesChanged?(fn: () => void): () => void;
}

/**
 * The job one fire (or retry, or run now: `scheduledForMs` null) of a schedule
 * runs: its checked template. A schedule saved before templates were kept has
 * none: its settings are used, with `target` for the target (the store's
 * default: 'user-server' with HUBMILL_HOMES=user-server; run now leaves it to
 * the intake).
 */
export function scheduleJob(s: Schedule, scheduledForMs: number | null, attempt: number, target?: JobTarget): NewJob {
  const t = s.job_template;
  return {
    ...(t
      ? { target: t.target, server_name: t.server_name, notebook: t.notebook, kernel: t.kernel, parameters: t.parameters, timeout_s: t.timeout_s, cell_timeout_s: t.cell_timeout_s, secrets: t.secrets ?? null }
      : { target, notebook: s.notebook, kernel: s.kernel, parameters: s.parameters, timeout_s: s.timeout_s, cell_timeout_s: s.cell_timeout_s, secrets: s.secrets?.map((name) => ({ name })) ?? null }),
    username: s.owner,
    submitted_by: s.created_by,
    source: `schedule:${s.id}`,
    schedule_id: s.id,
    scheduled_for_ms: scheduledForMs,
    attempt,
  };
}
