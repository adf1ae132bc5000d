/**
 * How much stream text a job's live `output` events carry. The output notebook
 * keeps every byte; the live events (kept in the event log for reconnecting SSE
 * clients, stored by the PostgreSQL bus, rendered by the UI) carry the first
 * LIVE_STREAM_CHARS characters of the job's stream text, then one note, then no
 * more stream text: a job writing 100 MB to stdout must not be held again in
 * the event log, nor sent to every browser following it.
 */
import { LongText } from '../notebook/long-text.js';
import type { Output } from '../notebook/notebook-types.js';

/** Stream text (UTF-16 code units, as String#length) that one job's live events carry. */
export const LIVE_STREAM_CHARS = 1024 * 1024;

export const liveCutNote = (limit: number): string =>
  `\n[hubmill: the live view shows the first ${limit.toLocaleString('en')} characters of this job's stream output; the output notebook has all of it]\n`;

export class LiveOutputLimit {
  private sent = 0;
  private cut = false;

  constructor(private readonly limit = LIVE_STREAM_CHARS) {}

  /** The output as the live event carries it, or null when the event is not sent (stream text past the limit). */
  apply(output: Output): Output | null {
    if (output.output_type !== 'stream') return output;
    if (this.cut) return null;
    const raw = (output as { text?: unknown }).text;
    // A large message's text is a LongText: only what is sent is made a string.
    const text = raw instanceof LongText ? headOf(raw, this.limit - this.sent + 1) : Array.isArray(raw) ? raw.join('') : typeof raw === 'string' ? raw : '';
    if (this.sent + text.length <= this.limit) {
      this.sent += text.length;
      return raw instanceof LongText ? ({ ...output, text } as Output) : output;
    }
    this.cut = true;
    let keep = this.limit - this.sent;
    // Never cut a surrogate pair in two.
    const code = text.charCodeAt(keep - 1);
    if (keep > 0 && code >= 0xd800 && code <= 0xdbff) keep--;
    this.sent = this.limit;
    // A copy, not a slice: a slice would keep the whole (possibly huge) text alive in the event log.
    const head = Buffer.from(text.slice(0, keep), 'utf8').toString('utf8');
    return { ...output, text: head + liveCutNote(this.limit) } as Output;
  }
}

/** The first `chars` characters of a LongText (all of it when shorter), as one string. */
function headOf(text: LongText, chars: number): string {
  const parts: string[] = [];
  let n = 0;
  for (const p of text.pieces()) {
    if (n >= chars) break;
    parts.push(p.length > chars - n ? p.slice(0, chars - n) : p);
    n += parts[parts.length - 1]!.length;
  }
  return parts.join('');
}
