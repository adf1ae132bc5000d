/**
 * The opt-in strict check of submitted parameters (`strict_parameters: true`, sent by the
 * web UI's run form): every parameter must be one the notebook's parameters cell declares
 * (as `hubmill inspect` reports it), and its value must fit the parameter's type. Papermill
 * itself checks neither, so without the option nothing here applies.
 *
 * The type is the declared one (annotation or `# type:` comment): int, float, bool, str,
 * list (also List[…], tuple, Tuple[…]), dict (also Dict[…]), Optional[X] (X or None). Without
 * a declaration it is inferred from the default when that is a plain literal (`5` int, `0.5`
 * float, `True` bool, `"a"` str, `[1, 2]` list, `{"a": 1}` dict). Any other type, `None`
 * defaults and defaults that are expressions accept every value. An int fits a float.
 */
import { ParameterError } from '../errors.js';
import { PyFloat } from './py-float.js';
import type { InspectedParameter, ParameterValue, Parameters } from './notebook-types.js';

export type ParameterTypeName = 'int' | 'float' | 'bool' | 'str' | 'list' | 'dict';

export interface ExpectedType {
  type: ParameterTypeName;
  /** Optional[X]: None fits too. */
  optional: boolean;
}

export interface StrictParameterProblem {
  parameter: string;
  /** The expected type as written for people (`int`, `Optional[str]`), or null when the name is not declared. */
  expected: string | null;
  /** The Python type name of the given value. */
  given: string;
}

const DECLARED: Readonly<Record<string, ParameterTypeName>> = {
  int: 'int',
  float: 'float',
  bool: 'bool',
  str: 'str',
  list: 'list',
  List: 'list',
  tuple: 'list',
  Tuple: 'list',
  dict: 'dict',
  Dict: 'dict',
};

/** The type an annotation names, or null when it names none of ours (any value then fits). */
function declaredType(annotation: string): ExpectedType | null {
  const a = annotation.trim();
  const optional = /^Optional\s*\[(.*)\]$/s.exec(a);
  if (optional) {
    const inner = declaredType(optional[1]!);
    return inner && { type: inner.type, optional: true };
  }
  const base = /^([A-Za-z_]\w*)\s*(?:\[.*\])?$/s.exec(a)?.[1];
  const type = base !== undefined ? DECLARED[base] : undefined;
  return type ? { type, optional: false } : null;
}

// One token of a plain Python literal: a string (with an r/u prefix at most), a number, a keyword, or punctuation.
const LITERAL_TOKEN =
  /\s+|(?:[rRuU]?)(?:'''[\s\S]*?'''|"""[\s\S]*?"""|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")|[-+]?(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?|\b(?:True|False|None)\b|[[\]{}(),:]/y;

/** The tokens of `src` when it consists only of literal tokens; null otherwise (an expression). */
function literalTokens(src: string): string[] | null {
  const tokens: string[] = [];
  LITERAL_TOKEN.lastIndex = 0;
  while (LITERAL_TOKEN.lastIndex < src.length) {
    const m = LITERAL_TOKEN.exec(src);
    if (!m) return null;
    if (m[0].trim() !== '') tokens.push(m[0]);
  }
  return tokens;
}

const CLOSING: Readonly<Record<string, string>> = { '[': ']', '(': ')', '{': '}' };

/** Whether the first token is a bracket that the last token closes (brackets nest in any order). */
function enclosedByFirst(tokens: string[]): boolean {
  if (CLOSING[tokens[0]!] === undefined) return false;
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (CLOSING[t] !== undefined) depth++;
    else if (t === ']' || t === ')' || t === '}') depth--;
    if (depth === 0) return i === tokens.length - 1 && t === CLOSING[tokens[0]!];
  }
  return false;
}

/** The type of a default written as a plain literal, or null (an expression, None, a set, bytes…). */
function inferredType(defaultSrc: string): ExpectedType | null {
  const tokens = literalTokens(defaultSrc.trim());
  if (!tokens || tokens.length === 0) return null;
  const first = tokens[0]!;
  const of = (type: ParameterTypeName): ExpectedType => ({ type, optional: false });
  if (tokens.length === 1) {
    if (first === 'True' || first === 'False') return of('bool');
    if (first === 'None') return null;
    if (/^[rRuU]?['"]/.test(first)) return of('str');
    return /[.eE]/.test(first) ? of('float') : of('int');
  }
  if (!enclosedByFirst(tokens)) return null; // e.g. `[1][0]`: an expression
  if (first === '[') return of('list');
  // `()` and `(1, 2)` are tuples; `(1)` is just 1.
  if (first === '(' && (tokens.length === 2 || tokens.includes(','))) return of('list');
  // `{}` and `{k: v}` are dicts; `{1, 2}` is a set, which JSON cannot give.
  if (first === '{' && (tokens.length === 2 || tokens.includes(':'))) return of('dict');
  return null;
}

/** The type a declared parameter expects; null when any value fits. */
export function expectedParameterType(p: InspectedParameter): ExpectedType | null {
  if (p.inferred_type_name !== 'None' && p.inferred_type_name !== '') return declaredType(p.inferred_type_name);
  return inferredType(p.default);
}

/** The Python type name a value is injected as (the translators' order: int when a safe integer, else float). */
export function parameterTypeName(value: ParameterValue): string {
  if (value === null) return 'None';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? 'int' : 'float';
  if (value instanceof PyFloat) return 'float';
  return Array.isArray(value) ? 'list' : 'dict';
}

function fits(expected: ExpectedType, given: string): boolean {
  if (given === 'None') return expected.optional;
  return given === expected.type || (expected.type === 'float' && given === 'int');
}

function describeType(t: ExpectedType): string {
  return t.optional ? `Optional[${t.type}]` : t.type;
}

/** The parameters that are not declared or do not fit their type, in submission order. */
export function strictParameterProblems(declared: InspectedParameter[], params: Parameters): StrictParameterProblem[] {
  const byName = new Map(declared.map((p) => [p.name, p]));
  const problems: StrictParameterProblem[] = [];
  for (const [name, value] of Object.entries(params)) {
    const given = parameterTypeName(value);
    const p = byName.get(name);
    if (!p) {
      problems.push({ parameter: name, expected: null, given });
      continue;
    }
    const expected = expectedParameterType(p);
    if (expected && !fits(expected, given)) problems.push({ parameter: name, expected: describeType(expected), given });
  }
  return problems;
}

/**
 * Throws a ParameterError (422) naming every parameter that is not declared or does not fit
 * its type, with the expected and given types; `extra.parameters` lists them for clients.
 */
export function assertStrictParameters(declared: InspectedParameter[], params: Parameters): void {
  const problems = strictParameterProblems(declared, params);
  if (problems.length === 0) return;
  const names = declared.map((p) => p.name).join(', ') || 'none';
  const lines = problems.map((p) =>
    p.expected === null
      ? `Parameter '${p.parameter}' is not declared in the notebook's parameters cell (declared: ${names})`
      : `Parameter '${p.parameter}' expects ${p.expected}, got ${p.given}`,
  );
  const err = new ParameterError(`${lines.join('; ')} (strict_parameters)`);
  Object.assign(err.extra, { parameters: problems });
  throw err;
}
