/** The MATLAB translator. */
import type { ParameterValue } from '../notebook-types.js';
import { Translator, checkCommentText, codePoints, utf16Units } from './base.js';

/**
 * MATLAB text has no escapes: `"..."` only doubles `"` (and `'...'` doubles `'`), and
 * cannot hold a line break. Printable ASCII stays in the quotes; any other character is
 * appended as `char(N)` (UTF-16 code units), e.g. `("a" + char(10) + "b")`.
 */
function matlabText(value: string, quote: '"' | "'"): string {
  const parts: string[] = [];
  let run = '';
  let codes: number[] = [];
  const flushRun = () => {
    if (run) parts.push(`${quote}${run}${quote}`);
    run = '';
  };
  const flushCodes = () => {
    if (codes.length) parts.push(codes.length === 1 ? `char(${codes[0]})` : `char([${codes.join(' ')}])`);
    codes = [];
  };
  for (const cp of codePoints(value)) {
    if (cp >= 0x20 && cp < 0x7f) {
      flushCodes();
      run += cp === quote.charCodeAt(0) ? quote + quote : String.fromCodePoint(cp);
    } else {
      flushRun();
      codes.push(...utf16Units(cp));
    }
  }
  flushRun();
  flushCodes();
  if (parts.length === 0) return `${quote}${quote}`;
  if (parts.length === 1 && !parts[0]!.startsWith('char')) return parts[0]!;
  if (quote === "'") return `[${parts.join(' ')}]`;
  // string + char appends; a leading "" keeps the result a string rather than a char array.
  if (parts[0]!.startsWith('char')) parts.unshift('""');
  return `(${parts.join(' + ')})`;
}

export class MatlabTranslator extends Translator {
  readonly name = 'matlab';
  protected readonly identifier = /^[A-Za-z][A-Za-z0-9_]*$/;
  translateStr(value: string): string {
    return matlabText(value, '"');
  }
  override translateNone(): string {
    return 'NaN';
  }
  translateList(value: ParameterValue[]): string {
    return `{${value.map((v) => this.translate(v)).join(', ')}}`;
  }
  translateDict(value: { [key: string]: ParameterValue }): string {
    const entries = Object.entries(value);
    const keys = entries.map(([k]) => matlabText(k, "'")).join(', ');
    const vals = entries.map(([, v]) => this.translate(v)).join(', ');
    return `containers.Map({${keys}}, {${vals}})`;
  }
  comment(text: string): string {
    checkCommentText(text);
    return `% ${text}`.trim();
  }
  assign(name: string, literal: string): string {
    return `${name} = ${literal};`;
  }
}
