/**
 * Lossless JSON for Parameters (for job stores, HTTP bodies, logs). Plain JSON cannot
 * hold bigint, NaN/Infinity, or the int/float distinction of `1.0`, so those are tagged:
 * `{"$hubmill_float": "1.0" | "nan" | "inf" | "-inf"}` and `{"$hubmill_int": "12345678901234567890"}`.
 * Everything else is ordinary JSON, so other readers still see sensible values.
 *
 * Nesting is bounded by MAX_PARAMETER_DEPTH everywhere parameters enter (HTTP bodies are
 * scanned as text before any parser recurses; see jsonTextDepth), so nothing here can
 * exhaust the stack.
 */
import { ParameterError } from '../errors.js';
import { PyFloat } from './py-float.js';
import type { ParameterValue, Parameters } from './notebook-types.js';

const FLOAT_TAG = '$hubmill_float';
const INT_TAG = '$hubmill_int';

/**
 * How deep parameters may nest: the mapping of names is level 1, `{"a": [1]}` is 2.
 * Deeper input is refused (422) before anything walks it.
 */
export const MAX_PARAMETER_DEPTH = 64;

/** The refusal for parameters deeper than MAX_PARAMETER_DEPTH. */
export function tooDeepError(): ParameterError {
  return new ParameterError(`parameters nest too deeply: at most ${MAX_PARAMETER_DEPTH} levels of objects and arrays are allowed`);
}

/** An exact integer: a number when JS can hold it exactly, else a bigint. */
export function exactInt(decimal: string | bigint): number | bigint {
  const big = typeof decimal === 'bigint' ? decimal : BigInt(decimal);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

/**
 * The value of a JSON number's text as Python's `json.loads` types it: with a fraction or
 * an exponent it is a float (`1.0`, `1e3` → PyFloat), otherwise an exact int.
 */
export function jsonNumberValue(text: string): number | bigint | PyFloat {
  return /[.eE]/.test(text) ? new PyFloat(Number(text)) : exactInt(text);
}

/**
 * The deepest nesting of objects and arrays in JSON text (`1` → 0, `{"a": []}` → 2), found
 * without parsing or recursion. Stops counting once `stopAbove` is passed, so the answer is
 * then only known to exceed it. Brackets inside strings are skipped; the text need not be valid.
 */
export function jsonTextDepth(text: string, stopAbove = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > stopAbove) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Parameters (or any ParameterValue) as plain JSON-compatible data with tags. */
export function parametersToJson(value: ParameterValue): unknown {
  return toTagged(value, 0, MAX_PARAMETER_DEPTH);
}

function toTagged(value: ParameterValue, depth: number, maxDepth: number): unknown {
  if (typeof value === 'bigint') return { [INT_TAG]: value.toString() };
  if (value instanceof PyFloat) return { [FLOAT_TAG]: value.repr() };
  if (typeof value === 'number' && !Number.isFinite(value)) return { [FLOAT_TAG]: new PyFloat(value).repr() };
  if (value === null || typeof value !== 'object') return value;
  if (depth >= maxDepth) throw tooDeepError();
  if (Array.isArray(value)) return value.map((v) => toTagged(v, depth + 1, maxDepth));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: toTagged(v, depth + 1, maxDepth), enumerable: true, writable: true, configurable: true });
  return out;
}

/** The inverse of parametersToJson; untagged JSON is accepted as is (integral numbers are ints). */
export function parametersFromJson(data: unknown): ParameterValue {
  if (data === null || typeof data === 'string' || typeof data === 'boolean' || typeof data === 'number') return data;
  if (Array.isArray(data)) return data.map(parametersFromJson);
  if (typeof data === 'object') {
    const obj = data as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && typeof obj[FLOAT_TAG] === 'string') {
      const t = obj[FLOAT_TAG] as string;
      const v = t === 'nan' ? NaN : t === 'inf' ? Infinity : t === '-inf' ? -Infinity : Number(t);
      if (Number.isNaN(v) && t !== 'nan') throw new ParameterError(`invalid ${FLOAT_TAG} value ${JSON.stringify(t)}`);
      return new PyFloat(v);
    }
    if (keys.length === 1 && typeof obj[INT_TAG] === 'string') {
      const t = obj[INT_TAG] as string;
      if (!/^-?\d+$/.test(t)) throw new ParameterError(`invalid ${INT_TAG} value ${JSON.stringify(t)}`);
      return exactInt(t);
    }
    const out: { [key: string]: ParameterValue } = {};
    for (const k of keys) Object.defineProperty(out, k, { value: parametersFromJson(obj[k]), enumerable: true, writable: true, configurable: true });
    return out;
  }
  throw new ParameterError(`unsupported parameter value of type ${typeof data}`);
}

/** JSON text for Parameters; round-trips through decodeParameters exactly. */
export function encodeParameters(params: Parameters): string {
  return JSON.stringify(parametersToJson(params));
}

/** Parameters from encodeParameters' text (or plain JSON of a mapping). */
export function decodeParameters(text: string): Parameters {
  const v = parametersFromJson(JSON.parse(text));
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof PyFloat) {
    throw new ParameterError('parameters must be a JSON object');
  }
  return v as Parameters;
}

/** Tagged JSON text for any JSON-like value holding parameter-like numbers (job results, errors); not depth-bounded. */
export function encodeJsonValue(value: unknown): string {
  return JSON.stringify(toTagged(value as ParameterValue, 0, Infinity));
}

/** The inverse of encodeJsonValue. */
export function decodeJsonValue<T>(text: string): T {
  return parametersFromJson(JSON.parse(text)) as T;
}

/** Assign without ever touching Object.prototype (a YAML key may be `__proto__`). */
export function setOwn(obj: Record<string, ParameterValue>, key: string, value: ParameterValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
