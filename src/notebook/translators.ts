/**
 * Parameter translators: render merged parameters as source code for the kernel's
 * language, following papermill's tables (see docs/papermill-semantics.md) except
 * for string literals, which papermill builds with Python's `unicode_escape` (wrong
 * for `é` everywhere but Python). Here every string literal is built per language so
 * the kernel reads back exactly the original string and a value can never become code:
 *
 * | language   | literal form                                                                 |
 * |------------|------------------------------------------------------------------------------|
 * | python     | `"…"`; `\\ \" \n \r \t`; other non-printables `\xNN`/`\uNNNN`/`\UNNNNNNNN`     |
 * | R          | `"…"`; `\\ \" \n \r \t`; non-ASCII and controls `\u{N}`/`\U{N}` (locale-proof); NUL impossible |
 * | scala      | `"…"`; Java escapes `\\ \" \b \f \n \r \t`; other non-printables `\uNNNN` (UTF-16) |
 * | julia      | `"…"`; `\\ \" \$ \n \r \t`; other non-printables `\uNNNN`/`\UNNNNNNNN`         |
 * | matlab     | `"…"` with `""`; no escapes exist, so other characters are appended as `+ char(N)` |
 * | c#         | `"…"`; `\\ \" \0 \n \r \t`; other non-printables `\uNNNN`/`\UNNNNNNNN`          |
 * | f#         | `"…"`; `\\ \" \n \r \t`; other non-printables `\uNNNN`/`\UNNNNNNNN`            |
 * | powershell | `"…"`; backtick escapes for `` ` " $ `` and smart quotes, `` `0 `n `r `t ``, `` `u{N} `` |
 * | bash       | printable ASCII: shlex.quote (`'…'`, `'\''`); otherwise `$'…'` with `\xNN` UTF-8 bytes; NUL impossible |
 *
 * "Non-printable" means Unicode categories C* (controls, format, private use, unassigned),
 * Zl and Zp. Lone surrogates are rejected for every language. bash never receives raw
 * control characters because bash_kernel types code into a pty, where ^C/^U/^D act.
 * Parameter names must be identifiers of the target language (papermill pastes them raw).
 */
import { ParameterError, UnsupportedLanguageError } from '../errors.js';
import { PyFloat, pyFloatRepr } from './py-float.js';
import type { ParameterValue, Parameters } from './types.js';

const NON_PRINTABLE = /[\p{C}\p{Zl}\p{Zp}]/u;
const INT32_MIN = -2147483648n;
const INT32_MAX = 2147483647n;

/** Code points of `s`; a lone UTF-16 surrogate (not encodable in UTF-8) is a ParameterError. */
function codePoints(s: string): number[] {
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

function hex(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, '0');
}

function isPrintable(cp: number): boolean {
  return !NON_PRINTABLE.test(String.fromCodePoint(cp));
}

function utf16Units(cp: number): number[] {
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
function longSuffixed(value: bigint): string {
  return value > INT32_MAX || value < INT32_MIN ? `${value}L` : value.toString();
}

function checkCommentText(text: string, forbidden?: string): void {
  if (/[\r\n\u2028\u2029\u0085]/.test(text) || (forbidden && text.includes(forbidden))) {
    throw new ParameterError('the injected-cell comment must be a single line');
  }
}

const PY_IDENT = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u;
const PLAIN_IDENT = /^[\p{L}_][\p{L}\p{N}_]*$/u;

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

/** Java-style escapes shared by Scala, C# and F# (`extra` adds per-language short escapes). */
function cLikeString(value: string, extra: Record<number, string>, astral: 'surrogates' | 'U8'): string {
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
const BASE_ESCAPES: Record<number, string> = { 0x5c: '\\\\', 0x22: '\\"', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

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

const python = new PythonTranslator();
const r = new RTranslator();
const scala = new ScalaTranslator();

/** Kernel names and languages with a translator; kernel name is looked up first, then language. */
const REGISTRY: ReadonlyMap<string, Translator> = new Map<string, Translator>([
  ['python', python],
  ['pysparkkernel', python],
  ['R', r],
  ['ir', r],
  ['sparkrkernel', r],
  ['scala', scala],
  ['sparkkernel', scala],
  ['julia', new JuliaTranslator()],
  ['matlab', new MatlabTranslator()],
  ['.net-csharp', new CSharpTranslator()],
  ['.net-fsharp', new FSharpTranslator()],
  ['.net-powershell', new PowershellTranslator()],
  ['bash', new BashTranslator()],
]);
const REGISTRY_LOWER = new Map([...REGISTRY].map(([k, v]) => [k.toLowerCase(), v]));

/**
 * The translator for a kernel: by kernel name, then by language (exactly, then
 * ignoring case, e.g. a kernelspec saying `r`). UnsupportedLanguageError names both.
 */
export function getTranslator(kernelName: string | undefined, language: string | undefined): Translator {
  const found =
    (kernelName !== undefined && REGISTRY.get(kernelName)) ||
    (language !== undefined && (REGISTRY.get(language) ?? REGISTRY_LOWER.get(language.toLowerCase())));
  if (found) return found;
  const err = new UnsupportedLanguageError(
    `No parameter translator for kernel '${kernelName ?? ''}' or language '${language ?? ''}'`,
  );
  Object.assign(err.extra, { kernel_name: kernelName ?? null, language: language ?? null });
  throw err;
}

/**
 * The injected cell's source: the comment line (`# Parameters`), then one assignment per
 * parameter; every line ends in `\n`. A value or name that cannot be rendered safely is a
 * ParameterError naming the parameter.
 */
export function renderParametersCell(params: Parameters, translator: Translator, comment = 'Parameters'): string {
  let out = `${translator.comment(comment)}\n`;
  for (const [name, value] of Object.entries(params)) {
    try {
      out += `${translator.assign(translator.variableName(name), translator.translate(value))}\n`;
    } catch (err) {
      if (err instanceof ParameterError && !err.message.startsWith('Parameter ')) {
        throw new ParameterError(`Parameter '${name}': ${err.message}`, { cause: err });
      }
      throw err;
    }
  }
  return out;
}

/** A Python literal for `value` (exported for round-trip tests through a real interpreter). */
export function pythonLiteral(value: ParameterValue): string {
  return python.translate(value);
}

/** An R literal for `value` (exported for round-trip tests through a real interpreter). */
export function rLiteral(value: ParameterValue): string {
  return r.translate(value);
}
