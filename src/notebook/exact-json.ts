/**
 * JSON text parsed the way Python's `json.loads` reads it, so writing it back
 * (notebook/write's toJsonText) gives the numbers as written: a number with a
 * fraction or an exponent is a float (PyFloat, `1.0` stays `1.0`), an integer
 * keeps every digit (bigint beyond 2^53). Notebooks and the kernel's display
 * data pass through here; papermill (Python) never changes their numbers.
 *
 * Only the numbers JSON.parse could change are treated: they are found outside
 * strings (strings skipped with indexOf, numbers by a regex) and each wrapped in
 * a string with a random mark; the native JSON.parse reads the result, and its
 * reviver turns the marked strings into PyFloat/bigint. A JS parser
 * (`lossless-json`) walks every character of a notebook's strings (images,
 * HTML): on a 7 MB notebook it took ~10 s where this takes well under one.
 * Text without such a number (found by one regex test) goes to JSON.parse as is.
 */
import { randomBytes } from 'node:crypto';
import { parse as losslessParse } from 'lossless-json';
import { jsonNumberValue } from './parameters-json.js';
import { PyFloat } from './py-float.js';

/**
 * A number token JSON.parse could change: one with a fraction or an exponent
 * (`1.0` would come back as `1`), or an integer of 16 digits or more (past
 * 2^53 it would be rounded). Tokens follow `:`, `,` or `[` (or start the text);
 * string contents that look alike only cost the slower path, never a number.
 */
const RISKY_NUMBER = /(?:^|[:,[])\s*-?(?:\d+[.eE]|\d{16})/;

/**
 * A JSON number JSON.parse could change, in JSON's exact grammar (so malformed
 * numbers stay malformed): with a fraction or an exponent, or 16+ digits.
 * Matched left to right between strings, it never starts inside a number.
 */
const CHANGEABLE_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+|(?=[eE]))(?:[eE][+-]?\d+)?|-?[1-9]\d{15,}/g;

/** True when JSON.parse might change a number in `text`. */
export function mayChangeNumbers(text: string): boolean {
  return RISKY_NUMBER.test(text);
}

/**
 * Lossless JSON.parse with `lossless-json` (a JS parser; for small texts such as
 * HTTP bodies): numbers typed like Python's json (jsonNumberValue); a key given
 * twice keeps its last value, as in Python and JSON.parse. Throws a SyntaxError
 * for invalid JSON. Recursive: bound the nesting first where input is hostile.
 */
export function parseJsonLossless(text: string): unknown {
  return losslessParse(text, null, { parseNumber: jsonNumberValue, onDuplicateKey: ({ newValue }) => newValue });
}

/**
 * JSON.parse that keeps every number as written (see the module comment).
 * Invalid JSON throws JSON.parse's own SyntaxError (its messages name the position).
 * Nesting too deep for JSON.parse's reviver falls back to the plain JSON.parse result.
 */
export function parseJsonExact(text: string): unknown {
  if (!mayChangeNumbers(text)) return JSON.parse(text);
  try {
    return parseMarked(text);
  } catch {
    // Invalid JSON (JSON.parse throws its usual error) or nesting beyond the reviver's stack.
    return JSON.parse(text);
  }
}

function parseMarked(text: string): unknown {
  let mark: string;
  // Random, so no string of the input can be taken for a marked number; short, as it is written for each one.
  do mark = `#${randomBytes(6).toString('hex')}:`;
  while (text.includes(mark));
  return JSON.parse(markNumbers(text, mark), (key, value: unknown) => {
    // A number where JSON wants a key ({1.5: 0}) was invalid before it was marked.
    if (key.startsWith(mark)) throw new SyntaxError('a number as an object key');
    return typeof value === 'string' && value.startsWith(mark) ? jsonNumberValue(value.slice(mark.length)) : value;
  });
}

/**
 * `text` with each number JSON.parse could change written as a string `"<mark><number>"`.
 * Strings are skipped with indexOf (native), numbers found by a regex in what lies between.
 */
function markNumbers(text: string, mark: string): string {
  const parts: string[] = [];
  const quoted = `"${mark}$&"`;
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('"', i);
    const between = text.slice(i, open < 0 ? text.length : open);
    parts.push(between.replace(CHANGEABLE_NUMBER, quoted));
    if (open < 0) break;
    let close = open;
    for (;;) {
      close = text.indexOf('"', close + 1);
      if (close < 0) return text; // an unterminated string: invalid, JSON.parse will say where
      let slashes = 0;
      while (text.charCodeAt(close - 1 - slashes) === 0x5c) slashes++;
      if (slashes % 2 === 0) break;
    }
    parts.push(text.slice(open, close + 1));
    i = close + 1;
  }
  return parts.join('');
}

/**
 * A deep copy of JSON-like data (a notebook, its metadata) that keeps PyFloat
 * (shared: it is immutable) and bigint. structuredClone would turn a PyFloat
 * into a plain `{value}` object.
 */
export function cloneJson<T>(value: T): T {
  return copy(value) as T;
}

function copy(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof PyFloat) return value;
  if (Array.isArray(value)) return value.map(copy);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // defineProperty: a `__proto__` key stays a key.
    if (k === '__proto__') Object.defineProperty(out, k, { value: copy(v), enumerable: true, writable: true, configurable: true });
    else out[k] = copy(v);
  }
  return out;
}
