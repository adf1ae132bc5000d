/** The Python translator (kernels python, pysparkkernel). */
import { pyFloatRepr } from '../py-float.js';
import type { ParameterValue } from '../notebook-types.js';
import { Translator, PY_IDENT, checkCommentText, codePoints, hex, isPrintable } from './base.js';

export class PythonTranslator extends Translator {
  readonly name = 'python';
  protected readonly identifier = PY_IDENT;
  translateStr(value: string): string {
    let out = '"';
    for (const cp of codePoints(value)) {
      if (cp === 0x5c) out += '\\\\';
      else if (cp === 0x22) out += '\\"';
      else if (cp === 0x0a) out += '\\n';
      else if (cp === 0x0d) out += '\\r';
      else if (cp === 0x09) out += '\\t';
      else if (isPrintable(cp)) out += String.fromCodePoint(cp);
      else if (cp < 0x100) out += `\\x${hex(cp, 2).toLowerCase()}`;
      else if (cp < 0x10000) out += `\\u${hex(cp, 4).toLowerCase()}`;
      else out += `\\U${hex(cp, 8).toLowerCase()}`;
    }
    return `${out}"`;
  }
  override translateBool(value: boolean): string {
    return value ? 'True' : 'False';
  }
  override translateFloat(value: number): string {
    if (Number.isFinite(value)) return pyFloatRepr(value);
    return Number.isNaN(value) ? "float('nan')" : value > 0 ? "float('inf')" : "float('-inf')";
  }
  translateList(value: ParameterValue[]): string {
    return `[${value.map((v) => this.translate(v)).join(', ')}]`;
  }
  translateDict(value: { [key: string]: ParameterValue }): string {
    return `{${Object.entries(value).map(([k, v]) => `${this.translateStr(k)}: ${this.translate(v)}`).join(', ')}}`;
  }
  comment(text: string): string {
    checkCommentText(text);
    return `# ${text}`.trim();
  }
  assign(name: string, literal: string): string {
    return `${name} = ${literal}`;
  }
}
