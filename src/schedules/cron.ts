/**
 * Cron expressions and their fire times in an IANA time zone.
 *
 * croner parses the fields; which instants fire is ours, because the cron
 * libraries disagree at daylight-saving transitions. The rule is ISC cron's:
 *  - spring forward: a wall-clock time inside the gap fires once, at the first
 *    instant after the gap (02:30 America/New_York on 2026-03-08 → 03:00 EDT);
 *  - fall back: a schedule with a fixed hour fires once, in the first pass
 *    (`30 1 * * *` → 01:30 EDT only); one whose hour field is `*` (or `*`/n)
 *    fires by real time through both passes.
 * The preview endpoint and the scheduler both call `nextFireAfter`.
 */
import { CronPattern } from 'croner';
import { InvalidScheduleError } from './schedule-errors.js';
import { gapEnd, instantsOf, offsetAt, shiftNear, validateTimeZone, wallOf } from './zoned-time.js';

export const CRON_NICKNAMES = ['@hourly', '@daily', '@weekly', '@monthly', '@yearly', '@annually'] as const;

export interface CronSpec {
  /** The expression as given. */
  readonly expression: string;
  readonly timezone: string;
  /** Hour field is a wildcard: repeated wall-clock times fire in both passes. */
  readonly hourWildcard: boolean;
  readonly second: readonly boolean[];
  readonly minute: readonly boolean[];
  readonly hour: readonly boolean[];
  /** Index 0 = day 1. */
  readonly day: readonly boolean[];
  /** Index 0 = January. */
  readonly month: readonly boolean[];
  /** Index 0 = Sunday. */
  readonly weekday: readonly boolean[];
  readonly anyDay: boolean;
  readonly anyWeekday: boolean;
}

/** Parses and checks a cron expression and time zone; InvalidScheduleError (422) says what is wrong. */
export function parseCron(expression: string, timezone = 'UTC'): CronSpec {
  const tz = validateTimeZone(timezone);
  const expr = typeof expression === 'string' ? expression.trim() : '';
  if (expr === '') throw new InvalidScheduleError('cron is empty: expected 5 fields (minute hour day month weekday), 6 with seconds first, or ' + CRON_NICKNAMES.join(', '));
  if (expr.startsWith('@')) {
    if (!(CRON_NICKNAMES as readonly string[]).includes(expr.toLowerCase())) {
      throw new InvalidScheduleError(`unknown cron nickname '${expr}': expected one of ${CRON_NICKNAMES.join(', ')}`);
    }
  } else {
    const fields = expr.split(/\s+/);
    if (fields.length !== 5 && fields.length !== 6) {
      throw new InvalidScheduleError(`cron '${expr}' has ${fields.length} fields: expected 5 (minute hour day month weekday) or 6 (seconds first)`);
    }
    const odd = /[?LW#]/i.exec(expr.replace(/\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)\b/gi, ''));
    if (odd) throw new InvalidScheduleError(`cron '${expr}': '${odd[0]}' is not supported; use numbers, names, ranges (a-b), lists (a,b) and steps (*/n)`);
  }
  let p: CronPattern;
  try {
    p = new CronPattern(expr.toLowerCase().startsWith('@') ? expr.toLowerCase() : expr, tz);
  } catch (e) {
    throw new InvalidScheduleError(`invalid cron '${expr}': ${(e as Error).message.replace(/^CronPattern:\s*/, '')}`);
  }
  const fields = p.pattern.trim().split(/\s+/);
  const hourField = fields.length === 6 ? fields[2]! : fields[1]!;
  const spec: CronSpec = {
    expression: expr,
    timezone: tz,
    hourWildcard: hourField.startsWith('*'),
    second: p.second.map(Boolean),
    minute: p.minute.map(Boolean),
    hour: p.hour.map(Boolean),
    day: p.day.map(Boolean),
    month: p.month.map(Boolean),
    weekday: p.dayOfWeek.slice(0, 7).map(Boolean),
    anyDay: p.starDOM,
    anyWeekday: p.starDOW,
  };
  if (nextMatchingWall(spec, Date.UTC(2000, 0, 1)) === null) {
    throw new InvalidScheduleError(`cron '${expr}' never fires (no date matches its day and month fields)`);
  }
  return spec;
}

function dayMatches(spec: CronSpec, d: Date): boolean {
  const dom = spec.day[d.getUTCDate() - 1]!;
  const dow = spec.weekday[d.getUTCDay()]!;
  if (spec.anyDay && spec.anyWeekday) return true;
  if (spec.anyDay) return dow;
  if (spec.anyWeekday) return dom;
  // Both restricted: either matches (Vixie/ISC cron).
  return dom || dow;
}

function firstFrom(arr: readonly boolean[], from: number): number {
  for (let i = from; i < arr.length; i++) if (arr[i]) return i;
  return -1;
}

/** Horizon of the search for a matching wall time (covers Feb 29 every 4 years and more). */
const SEARCH_YEARS = 9;

/** The first wall time ≥ `wall` (rounded up to a second) that matches the fields; null when none within the horizon. */
export function nextMatchingWall(spec: CronSpec, wall: number): number | null {
  const d = new Date(Math.ceil(wall / 1000) * 1000);
  const limitYear = d.getUTCFullYear() + SEARCH_YEARS;
  while (d.getUTCFullYear() <= limitYear) {
    if (!spec.month[d.getUTCMonth()]) {
      d.setUTCMonth(d.getUTCMonth() + 1, 1);
      d.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!dayMatches(spec, d)) {
      d.setUTCDate(d.getUTCDate() + 1);
      d.setUTCHours(0, 0, 0, 0);
      continue;
    }
    const h = firstFrom(spec.hour, d.getUTCHours());
    if (h < 0) {
      d.setUTCDate(d.getUTCDate() + 1);
      d.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (h !== d.getUTCHours()) {
      d.setUTCHours(h, 0, 0, 0);
      continue;
    }
    const mi = firstFrom(spec.minute, d.getUTCMinutes());
    if (mi < 0) {
      d.setUTCHours(d.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (mi !== d.getUTCMinutes()) {
      d.setUTCMinutes(mi, 0, 0);
      continue;
    }
    const s = firstFrom(spec.second, d.getUTCSeconds());
    if (s < 0) {
      d.setUTCMinutes(d.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    d.setUTCSeconds(s, 0);
    return d.getTime();
  }
  return null;
}

/** The instants one matching wall time fires at, by the rule in the file comment. */
function firesOf(spec: CronSpec, wall: number): number[] {
  const instants = instantsOf(wall, spec.timezone);
  if (instants.length === 0) return [gapEnd(wall, spec.timezone)];
  if (instants.length > 1 && !spec.hourWildcard) return [instants[0]!];
  return instants;
}

// Many schedules share an expression and fire at the same times: remember recent answers per spec.
const recent = new WeakMap<CronSpec, Map<number, number | null>>();
const RECENT_PER_SPEC = 64;

/** The first fire time strictly after `afterMs` (epoch ms), or null when the expression never fires again. */
export function nextFireAfter(spec: CronSpec, afterMs: number): number | null {
  let memo = recent.get(spec);
  if (!memo) recent.set(spec, (memo = new Map()));
  const hit = memo.get(afterMs);
  if (hit !== undefined) return hit;
  const result = computeNextFire(spec, afterMs);
  if (memo.size >= RECENT_PER_SPEC) memo.delete(memo.keys().next().value!);
  memo.set(afterMs, result);
  return result;
}

function computeNextFire(spec: CronSpec, afterMs: number): number | null {
  const tz = spec.timezone;
  // Wall order and instant order differ only near a transition, by at most its size: start that much earlier.
  let wall: number | null = afterMs + offsetAt(afterMs, tz) - shiftNear(afterMs, tz);
  let best: number | null = null;
  let stopAt = Infinity;
  while (true) {
    wall = nextMatchingWall(spec, wall);
    if (wall === null || wall > stopAt) break;
    for (const i of firesOf(spec, wall)) {
      if (i > afterMs && (best === null || i < best)) {
        best = i;
        stopAt = wallOf(best, tz) + shiftNear(best, tz);
      }
    }
    wall += 1000;
  }
  return best;
}

/** The next `count` fire times after `afterMs`. */
export function nextFires(spec: CronSpec, afterMs: number, count: number): number[] {
  const out: number[] = [];
  let t = afterMs;
  while (out.length < count) {
    const n = nextFireAfter(spec, t);
    if (n === null) break;
    out.push(n);
    t = n;
  }
  return out;
}
