/**
 * The schedule statements and row codec both schedule stores share (the
 * store core; the dialect differences are in core/dialect.ts): the column list,
 * a row to a Schedule, the create and update statements, the page queries of
 * schedules and of a schedule's runs, and the counts a fire and the settling
 * of finished runs use.
 */
import type { Parameters } from '../../notebook/notebook-types.js';
import { decodeJsonValue, decodeParameters, encodeJsonValue, encodeParameters, parametersFromJson, parametersToJson } from '../../notebook/parameters-json.js';
import type { ListSchedulesQuery, NewSchedule, Schedule, ScheduleJobTemplate, ScheduleNotify, SchedulePatch, ScheduleSettings } from '../schedule-store.js';
import { SqlArgs, type Sql, type SqlDialect } from './dialect.js';
import { ACTIVE_SQL, TERMINAL_SQL } from './job-rules.js';
import { visibleCondition } from './sharing-sql.js';
import { newestFirstQuery } from './page.js';
import { timeOrderedId } from './ids.js';

export type { SchedulePatch };

/** A `schedules` row as either database gives it (SQLite: 0/1 for `paused`). */
export interface ScheduleRow extends Omit<Schedule, 'parameters' | 'paused' | 'notify' | 'job_template' | 'secrets'> {
  parameters: string;
  secrets?: string | null;
  paused: number | boolean;
  notify: string | null;
  job_template: string | null;
}

/** The `job_template` column: JSON text, its parameters in the lossless encoding of job parameters. */
export function encodeJobTemplate(t: ScheduleJobTemplate): string {
  return JSON.stringify({ ...t, parameters: parametersToJson(t.parameters) });
}

export function decodeJobTemplate(text: string): ScheduleJobTemplate {
  const t = JSON.parse(text) as ScheduleJobTemplate;
  return { ...t, parameters: parametersFromJson(t.parameters) as ScheduleJobTemplate['parameters'] };
}

export function rowToSchedule(r: ScheduleRow): Schedule {
  return {
    ...r,
    parameters: decodeParameters(r.parameters),
    paused: r.paused === true || r.paused === 1,
    notify: r.notify === null ? null : decodeJsonValue<ScheduleNotify>(r.notify),
    job_template: r.job_template === null || r.job_template === undefined ? null : decodeJobTemplate(r.job_template),
    secrets: r.secrets ? (JSON.parse(r.secrets) as string[]) : [],
  };
}

export const SETTINGS_COLUMNS: readonly (keyof ScheduleSettings)[] = [
  'name', 'notebook', 'pipeline_id', 'parameters', 'kernel', 'cron', 'timezone', 'timeout_s', 'cell_timeout_s', 'overlap', 'max_concurrent',
  'max_retries', 'retry_backoff_s', 'catchup', 'max_catchup', 'misfire_grace_s', 'start_at_ms', 'end_at_ms', 'paused', 'notify', 'secrets',
];
const PATCHABLE: readonly string[] = [...SETTINGS_COLUMNS, 'next_run_at_ms', 'webhook_secret', 'job_template'];

/** Schedule ids: `sch_` + time-ordered hex, like job ids are. */
export function newScheduleId(nowMs: number): string {
  return timeOrderedId('sch', nowMs);
}

export class ScheduleSql {
  constructor(readonly d: SqlDialect) {}

  private value(key: string, v: unknown): unknown {
    if (key === 'parameters') return encodeParameters((v ?? {}) as Parameters);
    if (key === 'notify') return v === null || v === undefined ? null : encodeJsonValue(v);
    if (key === 'job_template') return v === null || v === undefined ? null : encodeJobTemplate(v as ScheduleJobTemplate);
    if (key === 'paused') return this.d.boolArg(Boolean(v));
    if (key === 'secrets') return Array.isArray(v) && v.length > 0 ? JSON.stringify(v) : null;
    return v ?? null;
  }

  /** The insert of a new schedule (RETURNING *). */
  create(s: NewSchedule, id: string, now: number): Sql {
    const a = new SqlArgs(this.d);
    const cols = ['id', 'owner', 'created_by', 'webhook_secret', 'next_run_at_ms', 'created_at_ms', 'updated_at_ms', 'job_template', ...SETTINGS_COLUMNS];
    const vals = [
      id, s.owner, s.created_by, s.webhook_secret, s.next_run_at_ms, now, now, this.value('job_template', s.job_template),
      ...SETTINGS_COLUMNS.map((k) => this.value(k, s[k])),
    ];
    return { text: `INSERT INTO schedules (${cols.join(', ')}) VALUES (${vals.map((v) => a.add(v)).join(', ')}) RETURNING *`, args: a.values };
  }

  /** The update of the patched settings (RETURNING *; no row: no such schedule). Unknown keys are ignored. */
  update(id: string, patch: SchedulePatch, now: number): Sql {
    const a = new SqlArgs(this.d);
    const sets = [`updated_at_ms = ${a.add(now)}`];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined || !PATCHABLE.includes(k)) continue;
      sets.push(`${k} = ${a.add(this.value(k, v))}`);
    }
    return { text: `UPDATE schedules SET ${sets.join(', ')} WHERE id = ${a.add(id)} RETURNING *`, args: a.values };
  }

  /** The backfill of a missing template: only while the row has none and is as it was read (no RETURNING; one row or none). */
  storeJobTemplate(id: string, template: ScheduleJobTemplate, ifUpdatedAtMs: number): Sql {
    const a = new SqlArgs(this.d);
    return {
      text: `UPDATE schedules SET job_template = ${a.add(encodeJobTemplate(template))}
             WHERE id = ${a.add(id)} AND job_template IS NULL AND updated_at_ms = ${a.add(ifUpdatedAtMs)}`,
      args: a.values,
    };
  }

  list(q: ListSchedulesQuery): Sql & { limit: number } {
    return newestFirstQuery(
      this.d,
      'schedules',
      (a) => [...(q.owner !== undefined ? [`owner = ${a.add(q.owner)}`] : []), ...(q.visible ? [visibleCondition(this.d, 'schedules', q.visible, a)] : [])],
      q.cursor,
      q.limit,
    );
  }

  /** One page of the jobs a schedule started, newest first. */
  runs(scheduleId: string, cursor: string | undefined, limit: number): Sql & { limit: number } {
    return newestFirstQuery(this.d, 'jobs', (a) => [`schedule_id = ${a.add(scheduleId)}`], cursor, limit);
  }

  /**
   * The schedule's queued and running jobs, or pipeline runs for a pipeline schedule (its overlap rule counts
   * them). A pipeline's task jobs carry no schedule_id: only the run counts, once.
   */
  activeRuns(scheduleId: string): Sql {
    const a = new SqlArgs(this.d);
    return {
      text: `SELECT (SELECT ${this.d.count} FROM jobs WHERE schedule_id IS NOT NULL AND schedule_id = ${a.add(scheduleId)} AND status IN (${ACTIVE_SQL}))
               + (SELECT ${this.d.count} FROM pipeline_runs WHERE schedule_id = ${a.add(scheduleId)} AND status IN ('queued', 'running')) AS n`,
      args: a.values,
    };
  }

  /** Finished runs not settled yet (retry or notify decided), oldest first, locked for the settler. */
  unsettled(limit: number): Sql {
    const a = new SqlArgs(this.d);
    return {
      // The partial index holds only unsettled schedule jobs; the status index would walk every finished job.
      text: `SELECT * FROM jobs${this.d.indexedBy('jobs_schedule_unsettled')} WHERE schedule_id IS NOT NULL AND schedule_settled = ${this.d.bool(false)} AND status IN (${TERMINAL_SQL})
             ORDER BY finished_at_ms, id LIMIT ${a.add(limit)}${this.d.skipLocked}`,
      args: a.values,
    };
  }
}
