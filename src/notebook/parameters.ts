/**
 * Parameter sources and their merge, as papermill's CLI does it:
 * inject-paths, then every -b (base64 YAML), -f (YAML/JSON file), -y (inline YAML),
 * -p NAME VALUE (typed like Python), -r NAME VALUE (raw string); later wins, shallow.
 */
import { readFile } from 'node:fs/promises';
import { ParameterError } from '../errors.js';
import { exactInt, setOwn } from './parameters-json.js';
import { PyFloat } from './py-float.js';
import type { ParameterValue, Parameters } from './notebook-types.js';

// Python's int() and float() grammars for decimal text (underscores only between digits).
const DIGITS = String.raw`[0-9](?:_?[0-9])*`;
const PY_INT = new RegExp(`^[+-]?${DIGITS}$`);
const PY_FLOAT = new RegExp(String.raw`^[+-]?(?:(?:${DIGITS})?\.${DIGITS}|${DIGITS}\.?)(?:[eE][+-]?${DIGITS})?$`);
const PY_FLOAT_SPECIAL = /^([+-]?)(inf|infinity|nan)$/i;

/**
 * Type a `-p` value like papermill: `True`/`False`/`None`, else an int if Python's
 * `int()` accepts it, else a float if `float()` does, else the string unchanged.
 * So `1e3` is the float 1000.0, `true` and `0x10` stay strings.
 */
export function parsePValue(raw: string): ParameterValue {
  if (raw === 'True') return true;
  if (raw === 'False') return false;
  if (raw === 'None') return null;
  // int()/float() ignore surrounding whitespace.
  const text = raw.trim();
  if (PY_INT.test(text)) return exactInt(text.replace(/_/g, ''));
  if (PY_FLOAT.test(text)) return new PyFloat(Number(text.replace(/_/g, '')));
  const special = PY_FLOAT_SPECIAL.exec(text);
  if (special) {
    const v = special[2]!.toLowerCase() === 'nan' ? NaN : Infinity;
    return new PyFloat(special[1] === '-' ? -v : v);
  }
  return raw;
}
export interface ParameterSources {
  /** Extra parameters merged first (papermill's --inject-paths: PAPERMILL_INPUT_PATH, PAPERMILL_OUTPUT_PATH). */
  injectPaths?: Parameters;
  /** -b values: base64 of a YAML mapping. */
  base64Yaml?: string[];
  /** -f paths: YAML or JSON files (JSON is read as YAML, like papermill). */
  files?: string[];
  /** -y values: inline YAML mappings. */
  yaml?: string[];
  /** -p NAME VALUE pairs, typed by parsePValue. */
  p?: [string, string][];
  /** -r NAME VALUE pairs, always strings. */
  r?: [string, string][];
}

/** The YAML loader (about 70 modules of the yaml package), loaded only when a source is YAML: `hubmill run -p` starts without it. */
const yaml = () => import('./yaml-parameters.js');

/** Merge every parameter source in papermill's order; later sources win key by key (shallow). */
export async function mergeParameters(sources: ParameterSources): Promise<Parameters> {
  const out: Parameters = {};
  const merge = (p: Parameters) => {
    for (const [k, v] of Object.entries(p)) setOwn(out, k, v);
  };
  if (sources.injectPaths) merge(sources.injectPaths);
  for (const [i, b64] of (sources.base64Yaml ?? []).entries()) {
    const compact = b64.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact)) throw new ParameterError(`-b #${i + 1}: not valid base64`);
    merge((await yaml()).parseYamlParameters(Buffer.from(compact, 'base64').toString('utf8'), `-b #${i + 1}`));
  }
  for (const file of sources.files ?? []) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new ParameterError(`${file}: cannot read parameters file (${code})`, { cause: err });
    }
    merge((await yaml()).parseYamlParameters(text, file));
  }
  for (const [i, y] of (sources.yaml ?? []).entries()) merge((await yaml()).parseYamlParameters(y, `-y #${i + 1}`));
  for (const [name, raw] of sources.p ?? []) setOwn(out, name, parsePValue(raw));
  for (const [name, raw] of sources.r ?? []) setOwn(out, name, raw);
  return out;
}
