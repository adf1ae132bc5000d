/**
 * Redaction of secret values: every form we know of a value (itself, its
 * base64 and base64url with and without padding, its URL encodings, its JSON
 * and HTML escapings) becomes `[REDACTED:NAME]`. The engine applies it to each
 * kernel message as it arrives (engine/cell-execution.ts), so the stored
 * notebook, events, results, webhooks and logs only ever see redacted text.
 * A value transformed any other way (sliced, reversed, hashed, encrypted,
 * base64 of a longer string, one character per line) cannot be recognized.
 *
 * Stream text comes in chunks: `StreamHold` keeps back the end of a chunk that
 * could be the start of a value until the next chunk (or the cell's end) tells,
 * so a value split across two messages is still caught.
 */
import { attachLongText, longTextOf, type LongText } from '../notebook/long-text.js';

export interface NamedValue {
  name: string;
  value: string;
}

/** Values shorter than this are refused at creation (runner/secret-vault.ts): redacting them would maul ordinary output. */
export const MIN_SECRET_LENGTH = 4;

/** The forms of a value that are replaced (each at least MIN_SECRET_LENGTH long). */
export function valueForms(value: string): string[] {
  const b64 = Buffer.from(value, 'utf8').toString('base64');
  const forms = new Set<string>([
    value,
    b64,
    b64.replace(/=+$/, ''),
    Buffer.from(value, 'utf8').toString('base64url'),
    encodeURIComponent(value),
    encodeURIComponent(value).replace(/%20/g, '+'),
    encodeURI(value),
    JSON.stringify(value).slice(1, -1),
    value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;' })[c]!),
    value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!),
  ]);
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class Redactor {
  /** Each form and the name it stands for, longest first (a longer form wins over one it contains). */
  private readonly forms: { text: string; token: string }[];
  private readonly byText = new Map<string, string>();
  private readonly re: RegExp | null;
  readonly maxFormLength: number;

  constructor(values: readonly NamedValue[]) {
    for (const { name, value } of values) {
      for (const f of valueForms(value)) if (!this.byText.has(f)) this.byText.set(f, `[REDACTED:${name}]`);
    }
    this.forms = [...this.byText].map(([text, token]) => ({ text, token })).sort((a, b) => b.text.length - a.text.length);
    this.re = this.forms.length ? new RegExp(this.forms.map((f) => escapeRe(f.text)).join('|'), 'g') : null;
    this.maxFormLength = this.forms[0]?.text.length ?? 0;
  }

  get empty(): boolean {
    return this.re === null;
  }

  /** The text with every known form replaced. */
  text(s: string): string {
    if (!this.re || s.length < MIN_SECRET_LENGTH) return s;
    return s.replace(this.re, (m) => this.byText.get(m) ?? m);
  }

  /** A copy of a JSON-like value with every string (and object key) redacted; the value itself when nothing changed. */
  deep<T>(v: T): T {
    if (!this.re) return v;
    return this.walk(v) as T;
  }

  private walk(v: unknown): unknown {
    if (typeof v === 'string') return this.text(v);
    if (Array.isArray(v)) {
      let changed = false;
      const out = v.map((x) => {
        const y = this.walk(x);
        if (y !== x) changed = true;
        return y;
      });
      return changed ? out : v;
    }
    if (v !== null && typeof v === 'object') {
      let changed = false;
      const out: Record<string, unknown> = {};
      let long: { key: string; text: LongText } | null = null;
      for (const k of Object.keys(v)) {
        // A stream output's LongText was redacted as its text arrived (engine/cell-execution.ts): it is
        // neither read (that would join it into one string, hundreds of MB) nor copied, but kept.
        const text = longTextOf(v, k);
        if (text) {
          long = { key: k, text };
          continue;
        }
        const x = (v as Record<string, unknown>)[k];
        const k2 = this.text(k);
        const y = this.walk(x);
        if (y !== x || k2 !== k) changed = true;
        out[k2] = y;
      }
      if (!changed) return v;
      if (long) attachLongText(out, long.key, long.text);
      return out;
    }
    return v;
  }

  /** The length of the longest end of `s` that is the start of a form (kept back until more text comes). */
  pendingTail(s: string): number {
    for (let k = Math.min(this.maxFormLength - 1, s.length); k > 0; k--) {
      const tail = s.slice(s.length - k);
      if (this.forms.some((f) => f.text.length > k && f.text.startsWith(tail))) return k;
    }
    return 0;
  }

  /** A hold for one cell's stream chunks (see StreamHold). */
  streams(): StreamHold {
    return new StreamHold(this);
  }
}

/**
 * One cell's stream text, per stream name: each chunk is redacted together with
 * what was kept back from the one before; the end that could start a value is
 * kept back again. Text of another stream (or any other output) flushes what is
 * kept first, so the order of outputs does not change.
 */
export class StreamHold {
  private readonly kept = new Map<string, string>();
  constructor(private readonly r: Redactor) {}

  /** The (stream name, text) pieces to emit now for a chunk of stream `name`, in order. */
  push(name: string, chunk: string): Array<[string, string]> {
    const out = this.flush(name);
    const text = this.r.text((this.kept.get(name) ?? '') + chunk);
    const k = this.r.pendingTail(text);
    this.kept.set(name, text.slice(text.length - k));
    if (k === 0) this.kept.delete(name);
    const now = text.slice(0, text.length - k);
    if (now !== '') out.push([name, now]);
    return out;
  }

  /** Everything kept back (except stream `but`'s), to emit before another output or at the cell's end. */
  flush(but?: string): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const [name, text] of this.kept) {
      if (name === but) continue;
      this.kept.delete(name);
      if (text !== '') out.push([name, text]);
    }
    return out;
  }
}
