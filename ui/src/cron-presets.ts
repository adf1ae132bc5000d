/**
 * The schedule form's cron presets (hourly, daily at…, weekdays at…, weekly)
 * to and from a cron expression; anything else is "custom" and edited as text.
 * The server parses and previews the cron; this only writes and recognizes presets.
 */
export type Preset = 'hourly' | 'daily' | 'weekdays' | 'weekly' | 'custom';

export interface PresetState {
  preset: Preset;
  /** HH:MM (daily, weekdays, weekly); for hourly only the minutes count. */
  time: string;
  /** 0 = Sunday … 6 = Saturday (weekly). */
  weekday: number;
}

export const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const hm = (time: string): [number, number] => {
  const m = /^(\d{1,2}):(\d{2})$/.exec(time);
  return m ? [Math.min(23, Number(m[1])), Math.min(59, Number(m[2]))] : [9, 0];
};

export function cronFor(p: PresetState): string | null {
  const [h, m] = hm(p.time);
  switch (p.preset) {
    case 'hourly':
      return `${m} * * * *`;
    case 'daily':
      return `${m} ${h} * * *`;
    case 'weekdays':
      return `${m} ${h} * * 1-5`;
    case 'weekly':
      return `${m} ${h} * * ${p.weekday}`;
    default:
      return null;
  }
}

const pad = (n: string) => n.padStart(2, '0');

/** Recognizes a preset's cron (as cronFor writes it); else custom. */
export function presetOf(cron: string, fallbackTime = '09:00'): PresetState {
  const f = cron.trim().split(/\s+/);
  const num = (s: string | undefined, max: number) => s !== undefined && /^\d{1,2}$/.test(s) && Number(s) <= max;
  if (f.length === 5 && num(f[0], 59) && f[2] === '*' && f[3] === '*') {
    const mm = pad(f[0]!);
    if (f[1] === '*' && f[4] === '*') return { preset: 'hourly', time: `${fallbackTime.slice(0, 2)}:${mm}`, weekday: 1 };
    if (num(f[1], 23)) {
      const time = `${pad(f[1]!)}:${mm}`;
      if (f[4] === '*') return { preset: 'daily', time, weekday: 1 };
      if (f[4] === '1-5') return { preset: 'weekdays', time, weekday: 1 };
      if (num(f[4], 6)) return { preset: 'weekly', time, weekday: Number(f[4]) };
    }
  }
  return { preset: 'custom', time: fallbackTime, weekday: 1 };
}

/**
 * Current IANA names of zones that Chromium's ICU still lists under their old
 * name (people look for Kolkata, not Calcutta); both are offered, the server takes either.
 */
const RENAMED: Record<string, string> = {
  'Asia/Calcutta': 'Asia/Kolkata',
  'Asia/Saigon': 'Asia/Ho_Chi_Minh',
  'Asia/Katmandu': 'Asia/Kathmandu',
  'Asia/Rangoon': 'Asia/Yangon',
  'Europe/Kiev': 'Europe/Kyiv',
  'Atlantic/Faeroe': 'Atlantic/Faroe',
  'America/Buenos_Aires': 'America/Argentina/Buenos_Aires',
  'Pacific/Truk': 'Pacific/Chuuk',
};

/** The IANA zones the browser knows, UTC and the current names of renamed zones included. */
export function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  const zones = new Set(intl.supportedValuesOf?.('timeZone') ?? []);
  for (const [old, current] of Object.entries(RENAMED)) if (zones.has(old)) zones.add(current);
  zones.delete('UTC');
  return ['UTC', ...[...zones].sort()];
}

export function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** A fire time as the schedule's zone shows it, e.g. "Mon 2026-12-07 09:00 (Europe/Berlin)". */
export function inZone(iso: string, timeZone: string): string {
  try {
    const parts = new Intl.DateTimeFormat('en-CA', { timeZone, weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(iso));
    const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
    return `${get('weekday')} ${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`;
  } catch {
    return iso;
  }
}
