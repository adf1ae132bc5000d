/**
 * A large `stream` message's content decoded slice by slice. ipykernel sends 0.2 s
 * of stdout as one message (10–50 MB from a fast printer); decoding its content
 * frame as one string and JSON.parse'ing that would hold the frame, the JSON text
 * and the parsed text at once. Here the text stays in the frame (a FrameText) and
 * is parsed in slices of about 1 MiB only as a reader iterates it: the output's
 * LongText appends (and spills) slice by slice, so the message costs its frame
 * and one slice, not its frame and its whole text.
 * Used for the usual layout `{"name": "stdout", "text": "…"}` only; anything else
 * gets null and the ordinary decode.
 */
import { isUtf8 } from 'node:buffer';
import { LongText } from '../notebook/long-text.js';
import { collectNow } from './large-messages.js';

/** Content frames at least this large are decoded here. */
export const LARGE_STREAM_BYTES = 4 * 1024 * 1024;
const SLICE_BYTES = 1024 * 1024;
/** A reader of a FrameText collects the garbage of its parsed slices after every this many bytes of frame. */
const COLLECT_EVERY_BYTES = 16 * 1024 * 1024;

const HEAD = /^\{\s*"name"\s*:\s*"(stdout|stderr)"\s*,\s*"text"\s*:\s*"/;
const TAIL = /"\s*\}\s*$/;
const BACKSLASH = 0x5c;
const QUOTE = 0x22;

/** Backslashes immediately before `i`. */
function backslashesBefore(frame: Buffer, i: number, from: number): number {
  let n = 0;
  while (i - 1 - n >= from && frame[i - 1 - n] === BACKSLASH) n++;
  return n;
}

/** A cut at or before `cut` that splits neither a UTF-8 character nor an escape (`\n`, `\u00e9`). */
function safeCut(frame: Buffer, cut: number, from: number): number {
  while (cut > from && (frame[cut]! & 0xc0) === 0x80) cut--;
  // Inside \uXXXX (the cut falls after its `u` and before its last digit): go back to its backslash.
  for (let k = 1; k <= 4 && cut - k - 1 >= from; k++) {
    if (frame[cut - k] === 0x75 && frame[cut - k - 1] === BACKSLASH && backslashesBefore(frame, cut - k, from) % 2 === 1) {
      cut = cut - k - 1;
      break;
    }
  }
  if (backslashesBefore(frame, cut, from) % 2 === 1) cut--;
  return cut;
}

const hex4 = (frame: Buffer, at: number): number => parseInt(frame.toString('latin1', at, at + 4), 16);

/**
 * The UTF-8 bytes of the text that the JSON string body from `start` to `end` (valid UTF-8) stands for,
 * as Buffer.byteLength counts them: an escape is one character (`\n`: 1 byte; `\uXXXX`: 1 to 3, a
 * pair of them 4, a lone surrogate 3, as U+FFFD).
 */
function escapedUtf8Bytes(frame: Buffer, start: number, end: number): number {
  let n = end - start;
  for (let i = frame.indexOf(BACKSLASH, start); i !== -1 && i < end; i = frame.indexOf(BACKSLASH, i)) {
    if (frame[i + 1] !== 0x75) {
      n -= 1;
      i += 2;
      continue;
    }
    const code = hex4(frame, i + 2);
    if (code >= 0xd800 && code <= 0xdbff && i + 12 <= end && frame[i + 6] === BACKSLASH && frame[i + 7] === 0x75) {
      const low = hex4(frame, i + 8);
      if (low >= 0xdc00 && low <= 0xdfff) {
        n -= 12 - 4;
        i += 12;
        continue;
      }
    }
    n -= 6 - (code < 0x80 ? 1 : code < 0x800 ? 2 : 3);
    i += 6;
  }
  return n;
}

/** Whether the bytes from `start` to `end` hold no unescaped `"` (then, between quotes, they are one JSON string's body). */
function oneStringBody(frame: Buffer, start: number, end: number): boolean {
  for (let q = frame.indexOf(QUOTE, start); q !== -1 && q < end; q = frame.indexOf(QUOTE, q + 1)) {
    if (backslashesBefore(frame, q, start) % 2 === 0) return false;
  }
  return true;
}

/**
 * A stream message's text, read from its frame when asked: each iteration of `pieces()` parses
 * the frame's text slice by slice again, so no more than one slice of it is held at a time (the
 * output's own LongText takes the pieces as they come, and spills them). Read-only.
 */
export class FrameText extends LongText {
  private bytes: number | null = null;

  constructor(
    private readonly frame: Buffer,
    private readonly start: number,
    private readonly end: number,
  ) {
    super();
  }

  override append(): void {
    throw new Error('FrameText is read-only');
  }

  override pieces(): Iterable<string> {
    const { frame, start, end } = this;
    return {
      *[Symbol.iterator]() {
        let sinceCollect = 0;
        for (let pos = start; pos < end; ) {
          let cut = Math.min(end, pos + SLICE_BYTES);
          if (cut < end) cut = safeCut(frame, cut, pos);
          if (cut <= pos) throw new Error('stream frame: no place to cut');
          yield JSON.parse(`"${frame.toString('utf8', pos, cut)}"`) as string;
          sinceCollect += cut - pos;
          pos = cut;
          if (sinceCollect >= COLLECT_EVERY_BYTES && pos < end) {
            sinceCollect = 0;
            collectNow();
          }
        }
      },
    };
  }

  /**
   * UTF-8 bytes of the text, counted on the frame without parsing it (the frame's bytes less what
   * its escapes add; a frame that is not valid UTF-8 is parsed and counted), then remembered.
   */
  override utf8Bytes(): number {
    this.bytes ??= isUtf8(this.frame.subarray(this.start, this.end)) ? escapedUtf8Bytes(this.frame, this.start, this.end) : super.utf8Bytes();
    return this.bytes;
  }
}

/**
 * The frame's text as a FrameText, when the frame is `{"name": "stdout"|"stderr", "text": "…"}`
 * with nothing else, else null (the ordinary decode says what it is). Checked here, before any
 * slice is parsed: the layout, no unescaped quote inside the text, and every slice boundary
 * possible; the slices then parse as they did when the kernel's json.dumps wrote them.
 */
export function decodeLargeStream(frame: Buffer): { name: string; text: LongText } | null {
  const head = HEAD.exec(frame.toString('latin1', 0, 64));
  const tail = TAIL.exec(frame.toString('latin1', Math.max(0, frame.length - 16)));
  if (!head || !tail) return null;
  const start = head[0].length;
  const end = frame.length - tail[0].length;
  if (end < start || !oneStringBody(frame, start, end)) return null;
  return { name: head[1]!, text: new FrameText(frame, start, end) };
}
