/**
 * JSON request bodies that keep a number's spelling. `JSON.stringify` writes the
 * float 2.0 as `2`, which the server (like Python's json) reads as an int; the
 * server reads parameters losslessly, so the form sends what the user typed:
 * a `RawJson` value is written into the body text as is.
 */
export class RawJson {
  /** `text` must be valid JSON (the form checks it with JSON.parse first). */
  constructor(readonly text: string) {}
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

/** A float's JSON literal that a Python-typed reader keeps a float: 2 → `2.0`, 2.5 → `2.5`, 1e21 → `1e+21`. */
export function floatLiteral(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`${n} has no JSON literal`);
  if (Object.is(n, -0)) return '-0.0';
  const s = String(n);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** JSON text of `value`, with each RawJson written verbatim (elsewhere as JSON.stringify writes it). */
export function jsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined || typeof v === 'function' ? 'null' : jsonText(v))).join(',')}]`;
  if (value !== null && typeof value === 'object' && !(value as { toJSON?: unknown }).toJSON) {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) if (v !== undefined && typeof v !== 'function') parts.push(`${JSON.stringify(k)}:${jsonText(v)}`);
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
