/**
 * Parameter inspection (papermill's `--help-notebook` / `inspect_notebook`): read the
 * first `parameters` cell of a Python notebook with papermill's own line grouping and
 * regex, so hubmill reports the same names, types, defaults and help texts.
 */
import { InspectionUnsupportedError, NoParametersCellError } from './notebook-errors.js';
import { notebookKernel } from './kernel.js';
import { sourceText } from './read.js';
import { PythonTranslator, getTranslator } from './translators/index.js';
import type { Cell, InspectedParameter, Notebook } from './notebook-types.js';

export interface InspectOptions {
  /** Kernel name override; default the notebook's kernelspec name. */
  kernelName?: string;
  /** Language override; default the kernelspec's language, else language_info.name. */
  language?: string;
  /** Receives papermill's warnings, e.g. `Unable to parse line 3 'a = b = 1'.` */
  onWarning?: (message: string) => void;
}

// papermill PythonTranslator.PARAMETER_PATTERN; Python's Unicode \w is [\p{L}\p{N}_].
const W = String.raw`[\p{L}\p{N}_]`;
const PARAMETER_PATTERN = new RegExp(
  String.raw`^(?<target>${W}${W}*)\s*(:\s*["']?(?<annotation>${W}[\p{L}\p{N}_\[\],\s]*)["']?\s*)?=\s*(?<value>.*?)(\s*#\s*(type:\s*(?<type_comment>[^\s]*)\s*)?(?<help>.*))?$`,
  'u',
);

/** Index of the first cell carrying `tag`, or -1. */
export function findTaggedCell(nb: Notebook, tag: string): number {
  return nb.cells.findIndex((c) => cellTags(c).includes(tag));
}

export function cellTags(cell: Cell): string[] {
  const tags = (cell.metadata as { tags?: unknown } | undefined)?.tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

/**
 * Parameters declared in the first `parameters` cell. NoParametersCellError when there is
 * none; InspectionUnsupportedError for languages other than Python; UnsupportedLanguageError
 * when no translator exists at all.
 */
export function inspectParameters(nb: Notebook, options: InspectOptions = {}): InspectedParameter[] {
  const index = findTaggedCell(nb, 'parameters');
  if (index < 0) throw new NoParametersCellError("No cell tagged 'parameters'");
  const { kernelName, language } = notebookKernel(nb, options.kernelName, options.language);
  const translator = getTranslator(kernelName, language);
  if (!(translator instanceof PythonTranslator)) {
    throw new InspectionUnsupportedError(
      `Parameter inspection is not supported for language '${language ?? translator.name}' (kernel '${kernelName ?? ''}')`,
    );
  }
  return inspectPythonSource(sourceText(nb.cells[index]!), options.onWarning);
}

/** papermill's PythonTranslator.inspect on a cell's source text. */
export function inspectPythonSource(src: string, onWarning?: (message: string) => void): InspectedParameter[] {
  // Multi-line values (dicts, lists) are grouped from one line with `=` to the next.
  const grouped: string[] = [];
  let accumulator: string[] = [];
  pySplitLines(src).forEach((line, iline) => {
    const stripped = pyStrip(line);
    if (stripped.length === 0 || stripped.startsWith('#')) return;
    const nequal = line.split('=').length - 1;
    if (nequal > 0) {
      grouped.push(flatten(accumulator));
      accumulator = [];
      if (nequal > 1) {
        onWarning?.(`Unable to parse line ${iline + 1} '${line}'.`);
        return;
      }
    }
    accumulator.push(line);
  });
  grouped.push(flatten(accumulator));

  const params: InspectedParameter[] = [];
  for (const definition of grouped) {
    if (definition.length === 0) continue;
    const m = PARAMETER_PATTERN.exec(definition);
    if (!m?.groups?.target) continue;
    const g = m.groups;
    params.push({
      name: pyStrip(g.target!),
      inferred_type_name: pyStrip(g.annotation || g.type_comment || 'None'),
      default: pyStrip(g.value ?? ''),
      help: pyStrip(g.help ?? ''),
    });
  }
  return params;
}

/** Comments are dropped from every line but the last of a group (its comment is the help). */
function flatten(accumulator: string[]): string {
  let flat = '';
  for (const line of accumulator.slice(0, -1)) {
    const hash = line.indexOf('#');
    flat += pyStrip(hash >= 0 ? line.slice(0, hash) : line);
  }
  if (accumulator.length > 0) flat += pyStrip(accumulator[accumulator.length - 1]!);
  return flat;
}

/** Python's str.splitlines(): every Unicode line boundary, no trailing empty line. */
function pySplitLines(s: string): string[] {
  const lines = s.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function pyStrip(s: string): string {
  return s.replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/gu, '');
}

/**
 * papermill's `--help-notebook` text after the usage line: the header, then one line per
 * parameter (`  name: type (default value)` padded to column 34 before the help), or the
 * "No cell tagged" / "Can't infer anything" notes. `params` null means no parameters cell.
 */
export function formatInspection(nbPath: string, params: InspectedParameter[] | null): string {
  let out = `\nParameters inferred for notebook '${nbPath}':\n`;
  if (params === null) return `${out}\n  No cell tagged 'parameters'\n`;
  if (params.length === 0) {
    return `${out}\n  Can't infer anything about this notebook's parameters. It may not have any parameter defined.\n`;
  }
  for (const p of params) {
    const type = p.inferred_type_name === 'None' ? 'Unknown type' : p.inferred_type_name;
    const definition = `  ${p.name}: ${type} (default ${p.default})`;
    const width = [...definition].length;
    if (width > 30) out += p.help.length ? `${definition}\n${' '.repeat(34)}${p.help}\n` : `${definition}\n`;
    else out += `${definition}${' '.repeat(Math.max(0, 34 - width))}${p.help}\n`;
  }
  return out;
}

/** What a listing shows about a notebook: its parameters (none when it has no parameters cell), kernel and language. */
export function summarizeNotebook(nb: Notebook): { parameters: InspectedParameter[]; kernel: string | null; language: string | null } {
  const { kernelName, language } = notebookKernel(nb);
  let parameters: InspectedParameter[] = [];
  try {
    parameters = inspectParameters(nb);
  } catch (e) {
    // A notebook without a parameters cell is ordinary: it simply takes none.
    if (!(e instanceof NoParametersCellError)) throw e;
  }
  return { parameters, kernel: kernelName ?? null, language: language ?? null };
}
