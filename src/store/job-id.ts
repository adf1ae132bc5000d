/**
 * Job ids: 26 characters of Crockford base32, ULID-like — 10 characters of epoch
 * milliseconds then 16 of randomness. They sort by creation time as plain
 * strings, and ids made in the same millisecond by one process stay ordered
 * (the random part is incremented instead of redrawn), so `ORDER BY id` is FIFO.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_LEN = 10;
const RANDOM_LEN = 16;

let lastMs = -1;
let lastRandom: number[] = [];

function encodeTime(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < TIME_LEN; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function freshRandom(): number[] {
  const bytes = randomBytes(RANDOM_LEN);
  // Keep the top digit below 16 so incrementing within a millisecond cannot overflow in practice.
  return Array.from(bytes, (b, i) => (i === 0 ? b % 16 : b % 32));
}

function increment(digits: number[]): number[] {
  const next = digits.slice();
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i]! < 31) {
      next[i]! += 1;
      return next;
    }
    next[i] = 0;
  }
  return freshRandom();
}

/** A new sortable unique job id. `nowMs` is for tests. */
export function newJobId(nowMs: number = Date.now()): string {
  if (nowMs === lastMs) {
    lastRandom = increment(lastRandom);
  } else {
    lastMs = nowMs;
    lastRandom = freshRandom();
  }
  return encodeTime(nowMs) + lastRandom.map((d) => ALPHABET[d]).join('');
}

const JOB_ID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** True when `id` has the shape of a job id (cheap check before a lookup). */
export function isJobId(id: string): boolean {
  return JOB_ID_RE.test(id);
}

/** The creation time encoded in a job id. */
export function jobIdTimeMs(id: string): number {
  let t = 0;
  for (const ch of id.slice(0, TIME_LEN)) t = t * 32 + ALPHABET.indexOf(ch);
  return t;
}
