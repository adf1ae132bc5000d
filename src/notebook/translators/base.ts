/**
 * What every translator shares: the Translator base class (type dispatch and the
 * papermill defaults), the code-point helpers, and the escape rules common to several
 * languages. The per-language literal forms are tabled in ./index.ts.
 */
import { ParameterError } from '../../errors.js';
import { PyFloat, pyFloatRepr } from '../py-float.js';
import type { ParameterValue } from '../notebook-types.js';

const NON_PRINTABLE = /[\p{C}\p{Zl}\p{Zp}]/u;
const INT32_MIN = -2147483648n;
const INT32_MAX = 2147483647n;

/** Code points of `s`; a lone UTF-16 surrogate (not encodable in UTF-8) is a ParameterError. */
export function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      throw new ParameterError(
        `string contains a lone surrogate U+${hex(cp, 4)} at index ${out.length}, which no kernel can receive`,
      );
    }
    out.push(cp);
  }
  return out;
}

export function hex(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, '0');
}

export function isPrintable(cp: number): boolean {
  return !NON_PRINTABLE.test(String.fromCodePoint(cp));
}

export function utf16Units(cp: number): number[] {
  const s = String.fromCodePoint(cp);
  return s.length === 1 ? [s.charCodeAt(0)] : [s.charCodeAt(0), s.charCodeAt(1)];
}

export abstract class Translator {
  /** Registry name: python, R, scala, julia, matlab, csharp, fsharp, powershell, bash. */
  abstract readonly name: string;
  protected abstract readonly identifier: RegExp;

  /** A literal for any parameter value (type order as papermill: null, string, bool, int, float, dict, list). */
  translate(value: ParameterValue): string {
    if (value === null) return this.translateNone();
    if (typeof value === 'string') return this.translateStr(value);
    if (typeof value === 'boolean') return this.translateBool(value);
    if (typeof value === 'bigint') return this.translateInt(value);
    if (typeof value === 'number') {
      return Number.isSafeInteger(value) ? this.translateInt(BigInt(value)) : this.translateFloat(value);
    }
    if (value instanceof PyFloat) return this.translateFloat(value.value);
    if (Array.isArray(value)) return this.translateList(value);
    return this.translateDict(value);
  }

  abstract translateStr(value: string): string;
  translateNone(): string {
    return 'None';
  }
  translateBool(value: boolean): string {
    return value ? 'true' : 'false';
  }
  translateInt(value: bigint): string {
    return value.toString();
  }
  translateFloat(value: number): string {
    if (Number.isFinite(value)) return pyFloatRepr(value);
    return Number.isNaN(value) ? this.nan() : value > 0 ? this.inf() : `-${this.inf()}`;
  }
  protected nan(): string {
    return 'NaN';
  }
  protected inf(): string {
    return 'Inf';
  }
  abstract translateList(value: ParameterValue[]): string;
  abstract translateDict(value: { [key: string]: ParameterValue }): string;
  abstract comment(text: string): string;
  /** One assignment line without its newline. */
  abstract assign(name: string, literal: string): string;

  /** The variable name as written (R drops leading `_`); throws unless it is a plain identifier. */
  variableName(name: string): string {
    if (!this.identifier.test(name)) {
      throw new ParameterError(`Parameter name '${name}' is not a valid ${this.name} identifier`);
    }
    return name;
  }
}

/** `int` with an `L` suffix outside int32, for the JVM and .NET languages. */
export function longSuffixed(value: bigint): string {
  return value > INT32_MAX || value < INT32_MIN ? `${value}L` : value.toString();
}

export function checkCommentText(text: string, forbidden?: string): void {
  if (/[\r\n\u2028\u2029\u0085]/.test(text) || (forbidden && text.includes(forbidden))) {
    throw new ParameterError('the injected-cell comment must be a single line');
  }
}

export const PY_IDENT = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u;
export const PLAIN_IDENT = /^[\p{L}_][\p{L}\p{N}_]*$/u;

/** Java-style escapes shared by Scala, C# and F# (`extra` adds per-language short escapes). */
export function cLikeString(value: string, extra: Record<number, string>, astral: 'surrogates' | 'U8'): string {
  let out = '"';
  for (const cp of codePoints(value)) {
    const short = extra[cp] ?? BASE_ESCAPES[cp];
    if (short !== undefined) out += short;
    else if (isPrintable(cp)) out += String.fromCodePoint(cp);
    else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
    else if (astral === 'U8') out += `\\U${hex(cp, 8)}`;
    else out += utf16Units(cp).map((u) => `\\u${hex(u, 4)}`).join('');
  }
  return `${out}"`;
}
export const BASE_ESCAPES: Record<number, string> = { 0x5c: '\\\\', 0x22: '\\"', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };
