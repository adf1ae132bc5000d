/**
 * The time limits of a run, in one value: the whole-run timeout and the
 * per-cell timeout, each bounded by a server maximum.
 *
 * One meaning of "unlimited": `null` (no maximum, no limit). The settings
 * (`HUBMILL_MAX_TIMEOUT_S`, `HUBMILL_MAX_CELL_TIMEOUT_S`) write it as 0, turned
 * into null here, once; the engine's `undefined` ms follows from it.
 *
 * One rule for "above the maximum": a job that asks for more than the maximum
 * is refused at intake (`LimitError`, 422, naming the maximum and its setting),
 * for every way a job arrives (HTTP API, seed endpoints, later schedules), never
 * silently clamped. A job without a limit gets the maximum. When a job accepted
 * earlier runs after the maximum was lowered (a restart with a new setting), the
 * maximum still bounds it: no run ever exceeds the current maximum.
 */
import { LimitError } from '../errors.js';
import { SETTINGS } from '../settings/table.js';

export interface TimeLimit {
  /** Seconds; null = unlimited. */
  readonly maxS: number | null;
  /** The setting that sets it, named in refusals. */
  readonly setting: string;
}

export interface Limits {
  /** Whole run (job field `timeout_s`). */
  readonly run: TimeLimit;
  /** One cell (job field `cell_timeout_s`, papermill's --execution-timeout). */
  readonly cell: TimeLimit;
}

/** The job fields that ask for limits. */
export interface RequestedLimits {
  timeout_s?: number | null;
  cell_timeout_s?: number | null;
}

const positiveOrNull = (v: number | null | undefined): number | null => (v !== undefined && v !== null && Number.isFinite(v) && v > 0 ? v : null);

/** The settings the limits come from (named as in Config); 0 (or less) or absent means unlimited. */
export interface LimitSettings {
  maxTimeoutS?: number | null;
  maxCellTimeoutS?: number | null;
}

/** Limits from the settings, where 0 (or less) means unlimited. */
export function limitsFromSettings(s: LimitSettings): Limits {
  return {
    run: { maxS: positiveOrNull(s.maxTimeoutS), setting: SETTINGS.maxTimeoutS.env },
    cell: { maxS: positiveOrNull(s.maxCellTimeoutS), setting: SETTINGS.maxCellTimeoutS.env },
  };
}

export const UNLIMITED: Limits = limitsFromSettings({});

function checkOne(field: string, value: number | null | undefined, limit: TimeLimit): void {
  if (value === undefined || value === null) return;
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) throw new LimitError(`${field} must be a positive number of seconds`);
  if (limit.maxS !== null && value > limit.maxS) {
    const err = new LimitError(`${field} ${value} exceeds the server maximum of ${limit.maxS} s (${limit.setting})`);
    Object.assign(err.extra, { field, maximum_s: limit.maxS });
    throw err;
  }
}

/** Refuses a job that asks for a limit above the maximum, or a limit that is not a positive number. */
export function checkRequestedLimits(limits: Limits, job: RequestedLimits): void {
  checkOne('timeout_s', job.timeout_s, limits.run);
  checkOne('cell_timeout_s', job.cell_timeout_s, limits.cell);
}

function effectiveMs(requested: number | null | undefined, limit: TimeLimit): number | undefined {
  const r = positiveOrNull(requested);
  const s = r === null ? limit.maxS : limit.maxS === null ? r : Math.min(r, limit.maxS);
  return s === null ? undefined : Math.round(s * 1000);
}

/** The limits a run gets, in ms for the engine (undefined = unlimited): the job's own, else the maximum; never above the maximum. */
export function runLimitsMs(limits: Limits, job: RequestedLimits): { runTimeoutMs: number | undefined; cellTimeoutMs: number | undefined } {
  return { runTimeoutMs: effectiveMs(job.timeout_s, limits.run), cellTimeoutMs: effectiveMs(job.cell_timeout_s, limits.cell) };
}
