/**
 * A float parameter that must stay a float in the target language.
 *
 * JavaScript has one number type, so once `-p x 1.0` or the YAML `x: 1.0` is parsed,
 * the fact that Python would have a `float` (and papermill would write `x = 1.0`) is
 * lost. Sources that know a value is a float (`parsePValue`, the YAML loader) wrap it
 * in a PyFloat; plain JS numbers are treated as ints when integral and floats
 * otherwise. `toJSON` returns the bare number so JSON.stringify keeps working
 * (NaN/Infinity become null there, as JSON has no spelling for them).
 */
export class PyFloat {
  constructor(readonly value: number) {}

  /** Python's `repr(float)` text: shortest round-trip digits, `1.0`, `1e+16`, `1e-05`, `nan`, `inf`. */
  repr(): string {
    return pyFloatRepr(this.value);
  }

  toJSON(): number {
    return this.value;
  }

  toString(): string {
    return this.repr();
  }
}

/**
 * Format a double like CPython's `repr()`: the shortest digits that round-trip
 * (JS and CPython both produce these), fixed notation when the decimal exponent
 * is in [-4, 16), scientific otherwise with at least two exponent digits.
 */
export function pyFloatRepr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const sign = value < 0 ? '-' : '';
  const [mantissa, expText] = Math.abs(value).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const exp = Number(expText);
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    return `${sign}${intPart}.${frac === '' ? '0' : frac}`;
  }
  const m = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
  const e = Math.abs(exp).toString().padStart(2, '0');
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
}
