/**
 * What a due schedule does now: pure functions of the schedule, its cron, the
 * time and its active runs, run by the store inside the fire transaction.
 *
 * Catch-up after downtime: `latest` runs the most recent missed time, `all`
 * the most recent `max_catchup` ones (oldest first), `none` only a time that is
 * on time: late by at most the scheduler's wake-up tolerance
 * (ON_TIME_TOLERANCE_MS) or the schedule's own `misfire_grace_s`, whichever is
 * larger. The other missed times are counted.
 * Overlap, when earlier runs are still queued or running: `skip` records the
 * fire as skipped, `queue` lets it wait for them, `allow` runs it while fewer
 * than `max_concurrent` are active. Fires of one catch-up batch do not count as
 * overlapping each other.
 */
import type { FirePlan, Schedule } from '../store/schedule-store.js';
import { nextFireAfter, type CronSpec } from './cron.js';

/**
 * How late the fire loop may reach a due time and still count it as on time: a
 * pass starts at the due time but may wait behind a busy event loop or a long
 * batch of fires. Catch-up "none" runs a fire only this late (or up to the
 * schedule's `misfire_grace_s`); the caught-up metric counts fires later than this.
 */
export const ON_TIME_TOLERANCE_MS = 2_000;

/** Upper bound of a schedule's `misfire_grace_s` (one day). */
export const MAX_MISFIRE_GRACE_S = 86_400;

/** How late a fire of this schedule may run under catch-up "none". */
export function misfireGraceMs(s: Pick<Schedule, 'misfire_grace_s'>): number {
  return Math.max(ON_TIME_TOLERANCE_MS, (s.misfire_grace_s ?? 0) * 1000);
}

/** Bound of the missed times walked through in one catch-up (the count of skipped ones is exact up to it). */
export const MAX_CATCHUP_WALK = 100_000;

/** The first fire time after `afterMs` within the schedule's start/end bounds; null when none. */
export function nextRunWithin(spec: CronSpec, s: Pick<Schedule, 'start_at_ms' | 'end_at_ms'>, afterMs: number): number | null {
  const from = s.start_at_ms !== null && s.start_at_ms - 1 > afterMs ? s.start_at_ms - 1 : afterMs;
  const t = nextFireAfter(spec, from);
  if (t === null || (s.end_at_ms !== null && t > s.end_at_ms)) return null;
  return t;
}

export function planFire(s: Schedule, spec: CronSpec, nowMs: number, activeRuns: number): FirePlan {
  const due: number[] = [];
  let walked = 0;
  let t: number | null = s.next_run_at_ms;
  const keep = s.catchup === 'all' ? Math.max(1, s.max_catchup) : 1;
  while (t !== null && t <= nowMs && (s.end_at_ms === null || t <= s.end_at_ms) && walked < MAX_CATCHUP_WALK) {
    due.push(t);
    if (due.length > keep) due.shift();
    walked++;
    t = nextFireAfter(spec, t);
  }
  if (walked >= MAX_CATCHUP_WALK && t !== null && t <= nowMs) t = nextRunWithin(spec, s, nowMs);
  let run = due;
  if (s.catchup === 'none') {
    const grace = misfireGraceMs(s);
    run = due.filter((x) => nowMs - x <= grace).slice(-1);
  }
  const missed = walked - run.length;
  const plan: FirePlan = { enqueue: [], defer: [], skippedOverlap: [], missed, nextRunAtMs: null };
  let active = activeRuns;
  for (const x of run) {
    if (s.overlap === 'queue') {
      (activeRuns > 0 || plan.defer.length > 0 ? plan.defer : plan.enqueue).push(x);
    } else if (s.overlap === 'allow') {
      if (active < Math.max(1, s.max_concurrent)) {
        plan.enqueue.push(x);
        active++;
      } else plan.skippedOverlap.push(x);
    } else if (activeRuns > 0) plan.skippedOverlap.push(x);
    else plan.enqueue.push(x);
  }
  plan.nextRunAtMs = t === null || (s.end_at_ms !== null && t > s.end_at_ms) ? null : t;
  return plan;
}
