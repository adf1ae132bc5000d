/**
 * Lossless JSON for Parameters (for job stores, HTTP bodies, logs). Plain JSON cannot
 * hold bigint, NaN/Infinity, or the int/float distinction of `1.0`, so those are tagged:
 * `{"$hubmill_float": "1.0" | "nan" | "inf" | "-inf"}` and `{"$hubmill_int": "12345678901234567890"}`.
 * Everything else is ordinary JSON, so other readers still see sensible values.
 */
import { ParameterError } from '../errors.js';
import { PyFloat } from './py-float.js';
import type { ParameterValue, Parameters } from './types.js';

const FLOAT_TAG = '$hubmill_float';
const INT_TAG = '$hubmill_int';

/** Parameters (or any ParameterValue) as plain JSON-compatible data with tags. */
export function parametersToJson(value: ParameterValue): unknown {
  if (typeof value === 'bigint') return { [INT_TAG]: value.toString() };
  if (value instanceof PyFloat) return { [FLOAT_TAG]: value.repr() };
  if (typeof value === 'number' && !Number.isFinite(value)) return { [FLOAT_TAG]: new PyFloat(value).repr() };
  if (Array.isArray(value)) return value.map(parametersToJson);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: parametersToJson(v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
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
      const big = BigInt(t);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
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
