/**
 * The times papermill writes into `metadata.papermill`: Python's `datetime.isoformat()`
 * of an aware UTC datetime, e.g. `2026-12-02T06:22:11.693370+00:00`. Like Python, the
 * fraction is left out when the microseconds are zero.
 *
 * Where the microseconds come from (honestly): JavaScript's wall clock (`Date.now()`)
 * has millisecond resolution only. We add the monotonic clock's progress
 * (`performance.now()`, sub-millisecond) to a wall-clock anchor, so the digits below the
 * millisecond are real elapsed time from the monotonic clock, and durations computed
 * from two stamps are accurate to the microsecond. When the result and the wall clock
 * differ by a millisecond or more (the wall clock was adjusted, or the anchor is new),
 * we re-anchor on the wall clock, whose sub-millisecond digits are then zeros.
 */
import { performance } from 'node:perf_hooks';

let anchorWallUs = Date.now() * 1000;
let anchorMonoMs = performance.now();

/** Now, in integer microseconds since the epoch (well inside Number's exact range). */
export function nowMicros(): number {
  const wallUs = Date.now() * 1000;
  let us = anchorWallUs + Math.round((performance.now() - anchorMonoMs) * 1000);
  if (Math.abs(us - wallUs) >= 1000) {
    anchorWallUs = wallUs;
    anchorMonoMs = performance.now();
    us = wallUs;
  }
  return us;
}

/** `datetime.isoformat()` of the UTC instant `us` (microseconds since the epoch). */
export function isoformatUtc(us: number): string {
  const whole = Math.round(us);
  const micros = ((whole % 1_000_000) + 1_000_000) % 1_000_000;
  const seconds = new Date((whole - micros) / 1000).toISOString().slice(0, 19);
  return micros === 0 ? `${seconds}+00:00` : `${seconds}.${String(micros).padStart(6, '0')}+00:00`;
}

/** papermill's `(end - start).total_seconds()`: seconds with microsecond precision. */
export function secondsBetween(startUs: number, endUs: number): number {
  return (Math.round(endUs) - Math.round(startUs)) / 1_000_000;
}
