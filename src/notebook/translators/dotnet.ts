/** The .NET Interactive translators: C#, F# and PowerShell. */
import { ParameterError } from '../../errors.js';
import { pyFloatRepr } from '../py-float.js';
import type { ParameterValue } from '../notebook-types.js';
import { Translator, PLAIN_IDENT, cLikeString, checkCommentText, codePoints, hex, isPrintable, longSuffixed } from './base.js';

export class CSharpTranslator extends Translator {
  readonly name = 'csharp';
  protected readonly identifier = PLAIN_IDENT;
  translateStr(value: string): string {
    return cLikeString(value, { 0x00: '\\0' }, 'U8');
  }
  override translateNone(): string {
    throw new ParameterError('C# has no translation for null (papermill: "Option type not implemented for C#")');
  }
  override translateInt(value: bigint): string {
    return longSuffixed(value);
  }
  override translateFloat(value: number): string {
    if (Number.isFinite(value)) return pyFloatRepr(value);
    return Number.isNaN(value) ? 'double.NaN' : value > 0 ? 'double.PositiveInfinity' : 'double.NegativeInfinity';
  }
  translateList(value: ParameterValue[]): string {
    return `new [] { ${value.map((v) => this.translate(v)).join(', ')} }`;
  }
  translateDict(value: { [key: string]: ParameterValue }): string {
    const kvps = Object.entries(value).map(([k, v]) => `{ ${this.translateStr(k)} , ${this.translate(v)} }`);
    return `new Dictionary<string,Object>{ ${kvps.join(', ')} }`;
  }
  comment(text: string): string {
    checkCommentText(text);
    return `// ${text}`.trim();
  }
  assign(name: string, literal: string): string {
    return `var ${name} = ${literal};`;
  }
}

export class FSharpTranslator extends Translator {
  readonly name = 'fsharp';
  protected readonly identifier = PLAIN_IDENT;
  translateStr(value: string): string {
    return cLikeString(value, {}, 'U8');
  }
  override translateInt(value: bigint): string {
    return longSuffixed(value);
  }
  override translateFloat(value: number): string {
    if (Number.isFinite(value)) return pyFloatRepr(value);
    return Number.isNaN(value) ? 'nan' : value > 0 ? 'infinity' : '-infinity';
  }
  translateList(value: ParameterValue[]): string {
    return `[ ${value.map((v) => this.translate(v)).join('; ')} ]`;
  }
  translateDict(value: { [key: string]: ParameterValue }): string {
    const tuples = Object.entries(value).map(([k, v]) => `(${this.translateStr(k)}, ${this.translate(v)} :> IComparable)`);
    return `[ ${tuples.join('; ')} ] |> Map.ofList`;
  }
  comment(text: string): string {
    checkCommentText(text, '*)');
    return `(* ${text} *)`.trim();
  }
  assign(name: string, literal: string): string {
    return `let ${name} = ${literal}`;
  }
}

// PowerShell reads the typographic quotes as quote characters too.
const PS_QUOTES = new Set([0x22, 0x201c, 0x201d, 0x201e]);

export class PowershellTranslator extends Translator {
  readonly name = 'powershell';
  protected readonly identifier = PLAIN_IDENT;
  translateStr(value: string): string {
    let out = '"';
    for (const cp of codePoints(value)) {
      if (cp === 0x60 || cp === 0x24 || PS_QUOTES.has(cp)) out += '`' + String.fromCodePoint(cp);
      else if (cp === 0x00) out += '`0';
      else if (cp === 0x0a) out += '`n';
      else if (cp === 0x0d) out += '`r';
      else if (cp === 0x09) out += '`t';
      else if (isPrintable(cp)) out += String.fromCodePoint(cp);
      else out += `\`u{${hex(cp, 4)}}`; // PowerShell 6+
    }
    return `${out}"`;
  }
  override translateNone(): string {
    return '$Null';
  }
  override translateBool(value: boolean): string {
    return value ? '$True' : '$False';
  }
  override translateFloat(value: number): string {
    if (Number.isFinite(value)) return pyFloatRepr(value);
    return Number.isNaN(value) ? '[double]::NaN' : value > 0 ? '[double]::PositiveInfinity' : '[double]::NegativeInfinity';
  }
  translateList(value: ParameterValue[]): string {
    return `@(${value.map((v) => this.translate(v)).join(', ')})`;
  }
  translateDict(value: { [key: string]: ParameterValue }): string {
    // papermill separates entries with a newline; `; ` keeps one line per parameter.
    return `@{${Object.entries(value).map(([k, v]) => `${this.translateStr(k)} = ${this.translate(v)}`).join('; ')}}`;
  }
  comment(text: string): string {
    checkCommentText(text);
    return `# ${text}`.trim();
  }
  assign(name: string, literal: string): string {
    return `$${name} = ${literal}`;
  }
}
