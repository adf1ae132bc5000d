/**
 * Parsers of setting values: each takes what a flag or the environment gave
 * (a string, or a value from code) and returns the typed value or throws a
 * `UsageError` naming the setting (the CLI exits with status 2).
 */
import { UsageError } from '../errors.js';

export function bad(name: string, value: unknown, why: string): never {
  throw new UsageError(`invalid ${name} ${JSON.stringify(value)}: ${why}`);
}

export function toInt(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) bad(name, v, 'expected an integer');
  if (n < min || n > max) bad(name, v, `expected ${min}..${max}`);
  return n;
}

export function toNumber(name: string, v: unknown, min: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < min) bad(name, v, `expected a number >= ${min}`);
  return n;
}

export function toBool(name: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
  return bad(name, v, 'expected true or false');
}

export function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  const s = String(v) as T;
  if (!allowed.includes(s)) bad(name, v, `expected one of ${allowed.join(', ')}`);
  return s;
}

/** An http(s) URL without trailing slashes. */
export function httpUrl(name: string, v: unknown): string {
  const s = String(v).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(s)) bad(name, s, 'expected an http(s) URL');
  return s;
}

/** "python3:2,ir:0" → {python3: 2, ir: 0}; also accepts a JSON object. */
export function parsePoolSizes(v: unknown): Record<string, number> {
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, number> = {};
    for (const [k, n] of Object.entries(v)) out[k] = toInt(`pool size of ${k}`, n, 0, 64);
    return out;
  }
  const s = String(v).trim();
  if (s.startsWith('{')) {
    try {
      return parsePoolSizes(JSON.parse(s) as unknown);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      bad('HUBMILL_POOL', v, 'not valid JSON');
    }
  }
  const out: Record<string, number> = {};
  if (s === '') return out;
  for (const part of s.split(',')) {
    const m = /^\s*([A-Za-z0-9._-]+)\s*[:=]\s*(\d+)\s*$/.exec(part);
    if (!m) bad('HUBMILL_POOL', v, 'expected kernel:size[,kernel:size...]');
    out[m[1]!] = toInt(`pool size of ${m[1]}`, m[2], 0, 64);
  }
  return out;
}

export function parsePreload(v: unknown): Record<string, string> {
  let obj: unknown = v;
  if (typeof v === 'string') {
    if (v.trim() === '') return {};
    try {
      obj = JSON.parse(v);
    } catch {
      bad('HUBMILL_PRELOAD', v, 'expected a JSON object {"kernel": "code"}');
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) bad('HUBMILL_PRELOAD', v, 'expected an object');
  const out: Record<string, string> = {};
  for (const [k, code] of Object.entries(obj)) {
    if (typeof code !== 'string') bad(`preload of ${k}`, code, 'expected a string of code');
    out[k] = code;
  }
  return out;
}

/** A URL path that starts and ends with '/'. */
export function urlPrefix(name: string, v: unknown): string {
  let p = String(v).trim();
  if (!p.startsWith('/')) p = `/${p}`;
  if (!p.endsWith('/')) p = `${p}/`;
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(p) || p.includes('//')) bad(name, v, 'not a URL path');
  return p;
}

/** Comma-separated list (or an array from code), trimmed, empties dropped. */
export function list(v: unknown): readonly string[] {
  return Object.freeze((Array.isArray(v) ? v.map(String) : String(v).split(',')).map((x) => x.trim()).filter(Boolean));
}
