/**
 * A run's bound on the outputs its notebook holds (the service's
 * HUBMILL_MAX_OUTPUT_BYTES; `hubmill run` has none unless asked). A run whose
 * outputs would pass it keeps what fits (a stream message is cut), gets one
 * note in the cell where it happened, and from then on its outputs are
 * dropped: the run goes on, and its notebook says what happened (the note, and
 * a warning in metadata.hubmill.warnings). Outputs removed by clear_output no
 * longer count. Sizes are UTF-8 bytes of stream text and tracebacks, and the
 * characters of rich outputs' strings (base64 images, HTML, text).
 */
import { LongText, longTextOf } from '../notebook/long-text.js';
import type { Output } from '../notebook/notebook-types.js';

type Json = Record<string, unknown>;

export const capNote = (maxBytes: number): string =>
  `[hubmill: output truncated: this run's outputs reached the limit of ${formatBytes(maxBytes)}` +
  ` (HUBMILL_MAX_OUTPUT_BYTES on the service); its later outputs were dropped and are not in this notebook]\n`;

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  return `${n.toLocaleString('en')} bytes`;
}

export class OutputCap {
  /** Bytes the outputs held now take. */
  held = 0;
  /** Bytes of output dropped since the cap was reached. */
  dropped = 0;
  truncated = false;
  private readonly sizes = new WeakMap<object, number>();

  constructor(readonly maxBytes: number | undefined) {}

  /**
   * Admits a new output (or a stream piece about to be merged): returns it (a
   * stream piece possibly cut), or null when it is dropped. `cut` says the cap
   * was reached by this one: the caller adds the note after it.
   */
  admit(out: Output): { output: Output | null; cut: boolean } {
    if (this.maxBytes === undefined) return { output: out, cut: false };
    const size = outputBytes(out as Json);
    if (this.truncated) {
      this.dropped += size;
      return { output: null, cut: false };
    }
    if (this.held + size <= this.maxBytes) return { output: out, cut: false };
    this.truncated = true;
    const room = this.maxBytes - this.held;
    if (out.output_type !== 'stream' || room <= 0) {
      this.dropped += size;
      return { output: null, cut: true };
    }
    const text = (out as Json).text;
    const head = text instanceof LongText ? longHead(text, room) : cutToBytes(String(text), room);
    this.dropped += size - Buffer.byteLength(head);
    return { output: head ? ({ ...out, text: head } as Output) : null, cut: true };
  }

  /** `out` (or a piece merged into `into`) is now held. */
  hold(out: Output, into?: Output): void {
    if (this.maxBytes === undefined) return;
    const size = outputBytes(out as Json);
    const target = into ?? out;
    this.sizes.set(target, (this.sizes.get(target) ?? 0) + size);
    this.held += size;
  }

  /** `out` was removed (clear_output). */
  release(out: Output): void {
    this.held -= this.sizes.get(out) ?? 0;
    this.sizes.delete(out);
  }

  /** The warning recorded in metadata.hubmill.warnings when the cap was reached, else null. */
  warning(): string | null {
    if (!this.truncated || this.maxBytes === undefined) return null;
    return `outputs truncated at ${formatBytes(this.maxBytes)} (HUBMILL_MAX_OUTPUT_BYTES): ${this.dropped.toLocaleString('en')} bytes of later output were dropped`;
  }
}

/** The longest head of `text` of at most `bytes` UTF-8 bytes, never cutting a character. */
function cutToBytes(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  // The longest head that fits: a binary search on its length in UTF-16 units.
  let lo = 0;
  let hi = Math.min(text.length, bytes);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (Buffer.byteLength(text.slice(0, mid)) <= bytes) lo = mid;
    else hi = mid - 1;
  }
  let end = lo;
  const code = text.charCodeAt(end - 1);
  if (end > 0 && code >= 0xd800 && code <= 0xdbff) end--;
  // A copy, not a slice of the message's text.
  return Buffer.from(text.slice(0, end), 'utf8').toString('utf8');
}

/** cutToBytes of a LongText (a large message's text): only the pieces up to `bytes` are joined, not the whole. */
function longHead(text: LongText, bytes: number): string {
  const parts: string[] = [];
  let n = 0;
  for (const p of text.pieces()) {
    parts.push(p);
    n += Buffer.byteLength(p);
    if (n > bytes) break;
  }
  return cutToBytes(parts.join(''), bytes);
}

function stringsLength(v: unknown): number {
  if (typeof v === 'string') return v.length;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + stringsLength(x), 0);
  if (v !== null && typeof v === 'object') return Object.values(v).reduce((n: number, x) => n + stringsLength(x), 0);
  return 8;
}

function textBytes(t: unknown): number {
  if (t instanceof LongText) return t.utf8Bytes();
  return typeof t === 'string' ? Buffer.byteLength(t) : stringsLength(t);
}

function outputBytes(o: Json): number {
  switch (o.output_type) {
    case 'stream':
      return textBytes(longTextOf(o, 'text') ?? o.text);
    case 'error':
      return (o.traceback as string[]).reduce((n, l) => n + Buffer.byteLength(String(l)), 0);
    default:
      return stringsLength(o.data);
  }
}
