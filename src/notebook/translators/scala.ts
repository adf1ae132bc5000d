/** The Scala translator (kernels scala, sparkkernel). */
import { pyFloatRepr } from '../py-float.js';
import type { ParameterValue } from '../notebook-types.js';
import { Translator, PLAIN_IDENT, checkCommentText, cLikeString, longSuffixed } from './base.js';

export class ScalaTranslator extends Translator {
  readonly name = 'scala';
  protected readonly identifier = PLAIN_IDENT;
  translateStr(value: string): string {
    // \u000A, \u000D, \u0022, \u005C are never emitted: Scala 2 decodes \u escapes before lexing.
    return cLikeString(value, { 0x08: '\\b', 0x0c: '\\f' }, 'surrogates');
  }
  override translateInt(value: bigint): string {
    return longSuffixed(value);
  }
  protected override nan(): string {
    return 'Double.NaN';
  }
  override translateFloat(value: number): string {
    if (Number.isFinite(value)) return pyFloatRepr(value);
    return Number.isNaN(value) ? 'Double.NaN' : value > 0 ? 'Double.PositiveInfinity' : 'Double.NegativeInfinity';
  }
  translateList(value: ParameterValue[]): string {
    return `Seq(${value.map((v) => this.translate(v)).join(', ')})`;
  }
  translateDict(value: { [key: string]: ParameterValue }): string {
    return `Map(${Object.entries(value).map(([k, v]) => `${this.translateStr(k)} -> ${this.translate(v)}`).join(', ')})`;
  }
  comment(text: string): string {
    checkCommentText(text);
    return `// ${text}`.trim();
  }
  assign(name: string, literal: string): string {
    return `val ${name} = ${literal}`;
  }
}
