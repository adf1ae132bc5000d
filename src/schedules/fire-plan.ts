/**
 * What a due schedule does now: pure functions of the schedule, its cron, the
 * time and its active runs, run by the store inside the fire transaction.
 *
 * Catch-up after downtime: `latest` runs the most recent missed time, `all`
 * the most recent `max_catchup` ones (oldest first), `none` only a time that is
 * not late by more than the misfire grace; the other missed times are counted.
 * Overlap, when earlier runs are still queued or running: `skip` records the
 * fire as skipped, `queue` lets it wait for them, `allow` runs it while fewer
 * than `max_concurrent` are active. Fires of one catch-up batch do not count as
 * overlapping each other.
 */
import type { FirePlan, Schedule } from '../store/schedule-store.js';
import { nextFireAfter, type CronSpec } from './cron.js';

/** Bound of the missed times walked through in one catch-up (the count of skipped ones is exact up to it). */
export const MAX_CATCHUP_WALK = 100_000;

/** The first fire time after `afterMs` within the schedule's start/end bounds; null when none. */
export function nextRunWithin(spec: CronSpec, s: Pick<Schedule, 'start_at_ms' | 'end_at_ms'>, afterMs: number): number | null {
  const from = s.start_at_ms !== null && s.start_at_ms - 1 > afterMs ? s.start_at_ms - 1 : afterMs;
  const t = nextFireAfter(spec, from);
  if (t === null || (s.end_at_ms !== null && t > s.end_at_ms)) return null;
  return t;
}

export function planFire(s: Schedule, spec: CronSpec, nowMs: number, activeRuns: number, misfireGraceMs: number): FirePlan {
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
  if (s.catchup === 'none') run = due.filter((x) => nowMs - x <= misfireGraceMs).slice(-1);
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
