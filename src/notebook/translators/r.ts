/** The R translator (kernels ir, sparkrkernel; language R). */
import { ParameterError } from '../../errors.js';
import type { ParameterValue } from '../notebook-types.js';
import { Translator, checkCommentText, codePoints, hex } from './base.js';

export class RTranslator extends Translator {
  readonly name = 'R';
  protected readonly identifier = /^(?:\p{L}|\.(?![0-9]))[\p{L}\p{N}._]*$/u;
  translateStr(value: string): string {
    let out = '"';
    for (const cp of codePoints(value)) {
      if (cp === 0) throw new ParameterError('R strings cannot contain NUL');
      if (cp === 0x5c) out += '\\\\';
      else if (cp === 0x22) out += '\\"';
      else if (cp === 0x0a) out += '\\n';
      else if (cp === 0x0d) out += '\\r';
      else if (cp === 0x09) out += '\\t';
      else if (cp >= 0x20 && cp < 0x7f) out += String.fromCodePoint(cp);
      // \u{} for everything else: source stays ASCII, so the session's locale cannot garble it.
      else if (cp < 0x10000) out += `\\u{${hex(cp, 4)}}`;
      else out += `\\U{${hex(cp, 8)}}`;
    }
    return `${out}"`;
  }
  override translateNone(): string {
    return 'NULL';
  }
  override translateBool(value: boolean): string {
    return value ? 'TRUE' : 'FALSE';
  }
  translateList(value: ParameterValue[]): string {
    return `list(${value.map((v) => this.translate(v)).join(', ')})`;
  }
  translateDict(value: { [key: string]: ParameterValue }): string {
    return `list(${Object.entries(value).map(([k, v]) => `${this.translateStr(k)} = ${this.translate(v)}`).join(', ')})`;
  }
  comment(text: string): string {
    checkCommentText(text);
    return `# ${text}`.trim();
  }
  override variableName(name: string): string {
    // Leading '_' is not legal in R names: papermill drops it.
    return super.variableName(name.replace(/^_+/, ''));
  }
  assign(name: string, literal: string): string {
    return `${name} = ${literal}`;
  }
}
