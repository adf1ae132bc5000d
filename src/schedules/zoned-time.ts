/**
 * Wall-clock arithmetic in an IANA time zone with nothing but `Intl`: the UTC
 * offset at an instant, the instants a wall-clock time maps to (none in a
 * spring-forward gap, two in a fall-back overlap), and where a gap ends.
 *
 * A "wall" time is a local date-time encoded as milliseconds as if it were UTC
 * (`Date.UTC(y, m, d, h, mi, s)`), so calendar arithmetic stays plain `Date`.
 */
import { InvalidScheduleError } from './schedule-errors.js';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The canonical IANA name of `tz`; throws InvalidScheduleError (422) for a name Intl does not know. */
export function validateTimeZone(tz: string): string {
  if (typeof tz !== 'string' || tz.trim() === '' || tz.length > 100) throw new InvalidScheduleError('timezone must be an IANA name such as Europe/Berlin');
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    throw new InvalidScheduleError(`unknown timezone '${tz}': expected an IANA name such as America/New_York or UTC`);
  }
}

/** The wall time (see the file comment) of `instantMs` in `tz`, whole seconds. */
export function wallOf(instantMs: number, tz: string): number {
  const parts = formatter(tz).formatToParts(new Date(Math.floor(instantMs / 1000) * 1000));
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, bc = false;
  for (const p of parts) {
    switch (p.type) {
      case 'year': y = Number(p.value); break;
      case 'month': mo = Number(p.value); break;
      case 'day': d = Number(p.value); break;
      case 'hour': h = Number(p.value); break;
      case 'minute': mi = Number(p.value); break;
      case 'second': s = Number(p.value); break;
      case 'era': bc = p.value === 'BC' || p.value === 'B'; break;
    }
  }
  const date = new Date(0);
  date.setUTCFullYear(bc ? 1 - y : y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  return date.getTime();
}

/** UTC offset of `tz` at `instantMs`, in ms (wall = instant + offset). */
export function offsetAt(instantMs: number, tz: string): number {
  const whole = Math.floor(instantMs / 1000) * 1000;
  return wallOf(whole, tz) - whole;
}

const DAY_MS = 86_400_000;

/** The instants (ascending) whose wall time in `tz` is `wall`: one normally, none in a gap, two in an overlap. */
export function instantsOf(wall: number, tz: string): number[] {
  const offsets = new Set([offsetAt(wall - 1.5 * DAY_MS, tz), offsetAt(wall, tz), offsetAt(wall + 1.5 * DAY_MS, tz)]);
  const out: number[] = [];
  for (const o of offsets) {
    const i = wall - o;
    if (wallOf(i, tz) === wall && !out.includes(i)) out.push(i);
  }
  return out.sort((a, b) => a - b);
}

/** For a wall time in a spring-forward gap: the first instant after the gap (the transition itself). */
export function gapEnd(wall: number, tz: string): number {
  const before = offsetAt(wall - 1.5 * DAY_MS, tz);
  const after = offsetAt(wall + 1.5 * DAY_MS, tz);
  let lo = wall - Math.max(before, after);
  let hi = wall - Math.min(before, after);
  const target = offsetAt(hi, tz);
  // Transitions fall on whole seconds: bisect to one.
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetAt(mid, tz) === target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The largest change of offset within a day either side of `instantMs` (0 away from transitions). */
export function shiftNear(instantMs: number, tz: string): number {
  const o = offsetAt(instantMs, tz);
  return Math.max(Math.abs(offsetAt(instantMs - DAY_MS, tz) - o), Math.abs(offsetAt(instantMs + DAY_MS, tz) - o));
}
