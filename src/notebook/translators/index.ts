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
import { ParameterError, UnsupportedLanguageError } from '../../errors.js';
import type { ParameterValue, Parameters } from '../notebook-types.js';
import { Translator } from './base.js';
import { BashTranslator } from './bash.js';
import { CSharpTranslator, FSharpTranslator, PowershellTranslator } from './dotnet.js';
import { JuliaTranslator } from './julia.js';
import { MatlabTranslator } from './matlab.js';
import { PythonTranslator } from './python.js';
import { RTranslator } from './r.js';
import { ScalaTranslator } from './scala.js';

export { Translator } from './base.js';
export { BashTranslator } from './bash.js';
export { CSharpTranslator, FSharpTranslator, PowershellTranslator } from './dotnet.js';
export { JuliaTranslator } from './julia.js';
export { MatlabTranslator } from './matlab.js';
export { PythonTranslator } from './python.js';
export { RTranslator } from './r.js';
export { ScalaTranslator } from './scala.js';

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
