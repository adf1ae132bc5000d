/**
 * A large `stream` message's content decoded slice by slice. ipykernel sends 0.2 s
 * of stdout as one message (10–50 MB from a fast printer); decoding its content
 * frame as one string and JSON.parse'ing that would hold the frame, the JSON text
 * and the parsed text at once. Here the text is parsed in slices of about 1 MiB
 * straight from the frame into a LongText, so only the frame and the text exist.
 * Used for the usual layout `{"name": "stdout", "text": "…"}` only; anything else
 * (or a slice that does not parse) gets null and the ordinary decode.
 */
import { LongText } from '../notebook/long-text.js';

/** Content frames at least this large are decoded here. */
export const LARGE_STREAM_BYTES = 4 * 1024 * 1024;
const SLICE_BYTES = 1024 * 1024;

const HEAD = /^\{\s*"name"\s*:\s*"(stdout|stderr)"\s*,\s*"text"\s*:\s*"/;
const TAIL = /"\s*\}\s*$/;
const BACKSLASH = 0x5c;

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

export function decodeLargeStream(frame: Buffer): { name: string; text: LongText } | null {
  const head = HEAD.exec(frame.toString('latin1', 0, 64));
  const tail = TAIL.exec(frame.toString('latin1', Math.max(0, frame.length - 16)));
  if (!head || !tail) return null;
  const start = head[0].length;
  const end = frame.length - tail[0].length;
  if (end < start) return null;
  const text = new LongText();
  try {
    for (let pos = start; pos < end; ) {
      let cut = Math.min(end, pos + SLICE_BYTES);
      if (cut < end) cut = safeCut(frame, cut, pos);
      if (cut <= pos) return null;
      const piece = JSON.parse(`"${frame.toString('utf8', pos, cut)}"`) as unknown;
      if (typeof piece !== 'string') return null;
      text.append(piece);
      pos = cut;
    }
  } catch {
    // Not one JSON string after all (an unescaped quote, more keys): the ordinary decode says what it is.
    return null;
  }
  return { name: head[1]!, text };
}
