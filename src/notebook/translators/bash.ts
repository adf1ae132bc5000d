/** The bash translator (bash_kernel). */
import { ParameterError } from '../../errors.js';
import { PyFloat, pyFloatRepr } from '../py-float.js';
import type { ParameterValue } from '../notebook-types.js';
import { Translator, checkCommentText, codePoints, hex } from './base.js';

const SHLEX_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export class BashTranslator extends Translator {
  readonly name = 'bash';
  protected readonly identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;
  translateStr(value: string): string {
    const cps = codePoints(value);
    if (cps.includes(0)) throw new ParameterError('bash strings cannot contain NUL');
    if (value === '') return "''";
    if (SHLEX_SAFE.test(value)) return value;
    if (cps.every((cp) => cp >= 0x20 && cp < 0x7f)) return `'${value.replace(/'/g, "'\\''")}'`;
    // ANSI-C quoting keeps the code printable ASCII: bash_kernel types it into a pty.
    let out = "$'";
    for (const byte of Buffer.from(value, 'utf8')) {
      if (byte === 0x5c) out += '\\\\';
      else if (byte === 0x27) out += "\\'";
      else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
      else out += `\\x${hex(byte, 2)}`;
    }
    return `${out}'`;
  }
  override translateNone(): string {
    return '';
  }
  override translateFloat(value: number): string {
    if (Number.isFinite(value)) return pyFloatRepr(value);
    return Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
  }
  translateList(value: ParameterValue[]): string {
    const items = value.map((v) => {
      if (Array.isArray(v) || (typeof v === 'object' && v !== null && !(v instanceof PyFloat))) {
        throw new ParameterError('bash arrays cannot contain lists or mappings');
      }
      return this.translate(v);
    });
    return `(${items.join(' ')})`;
  }
  translateDict(): string {
    throw new ParameterError('bash has no translation for a mapping');
  }
  comment(text: string): string {
    checkCommentText(text);
    return `# ${text}`.trim();
  }
  assign(name: string, literal: string): string {
    return `${name}=${literal}`;
  }
}
