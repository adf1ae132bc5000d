/** The Julia translator. */
import type { ParameterValue } from '../notebook-types.js';
import { Translator, BASE_ESCAPES, PLAIN_IDENT, checkCommentText, codePoints, hex, isPrintable } from './base.js';

export class JuliaTranslator extends Translator {
  readonly name = 'julia';
  protected readonly identifier = PLAIN_IDENT;
  translateStr(value: string): string {
    let out = '"';
    for (const cp of codePoints(value)) {
      const short = cp === 0x24 ? '\\$' : BASE_ESCAPES[cp];
      if (short !== undefined) out += short;
      else if (isPrintable(cp)) out += String.fromCodePoint(cp);
      else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
      else out += `\\U${hex(cp, 8)}`;
    }
    return `${out}"`;
  }
  override translateNone(): string {
    return 'nothing';
  }
  translateList(value: ParameterValue[]): string {
    return `[${value.map((v) => this.translate(v)).join(', ')}]`;
  }
  translateDict(value: { [key: string]: ParameterValue }): string {
    return `Dict(${Object.entries(value).map(([k, v]) => `${this.translateStr(k)} => ${this.translate(v)}`).join(', ')})`;
  }
  comment(text: string): string {
    checkCommentText(text);
    return `# ${text}`.trim();
  }
  assign(name: string, literal: string): string {
    return `${name} = ${literal}`;
  }
}
