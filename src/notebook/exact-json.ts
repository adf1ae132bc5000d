/**
 * JSON text parsed the way Python's `json.loads` reads it, so writing it back
 * (notebook/write's toJsonText) gives the numbers as written: a number with a
 * fraction or an exponent is a float (PyFloat, `1.0` stays `1.0`), an integer
 * keeps every digit (bigint beyond 2^53). Notebooks and the kernel's display
 * data pass through here; papermill (Python) never changes their numbers.
 *
 * JSON.parse is native and fast, the lossless parser (`lossless-json`) is not,
 * so the lossless path runs only when the text holds a token that JSON.parse
 * could change (see mayChangeNumbers).
 */
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

/** `__proto__` as a key (spelled out or escaped): the lossless parser would set a prototype instead of a key. */
const PROTO_KEY = /__proto__|\\u005[fF]/;

/** True when JSON.parse might change a number in `text`. */
export function mayChangeNumbers(text: string): boolean {
  return RISKY_NUMBER.test(text);
}

/**
 * Lossless JSON.parse: numbers typed like Python's json (jsonNumberValue); a key
 * given twice keeps its last value, as in Python and JSON.parse. Throws a
 * SyntaxError for invalid JSON. Recursive: bound the nesting first where input is hostile.
 */
export function parseJsonLossless(text: string): unknown {
  return losslessParse(text, null, { parseNumber: jsonNumberValue, onDuplicateKey: ({ newValue }) => newValue });
}

/**
 * JSON.parse that keeps every number as written (see the module comment).
 * Invalid JSON throws JSON.parse's own SyntaxError (its messages name the position).
 * Where the lossless parser cannot keep the structure exactly (a `__proto__` key)
 * or cannot go as deep as JSON.parse, the plain JSON.parse result is returned.
 */
export function parseJsonExact(text: string): unknown {
  if (!mayChangeNumbers(text) || PROTO_KEY.test(text)) return JSON.parse(text);
  try {
    return parseJsonLossless(text);
  } catch {
    // Invalid JSON (JSON.parse throws its usual error) or nesting beyond the lossless parser's stack.
    return JSON.parse(text);
  }
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
