/**
 * YAML parameters (-y, -f, -b, and the API's YAML), resolved like PyYAML's SafeLoader minus
 * timestamps (papermill's NoDatesSafeLoader). Its own module so that the yaml package is
 * loaded only when a parameter source is YAML (notebook/parameters.ts imports it then).
 */
import { parseDocument, type ScalarTag, type Tags } from 'yaml';
import { ParameterError } from '../errors.js';
import { exactInt, setOwn } from './parameters-json.js';
import { PyFloat } from './py-float.js';
import type { ParameterValue, Parameters } from './notebook-types.js';

const pyYamlBool: ScalarTag = {
  tag: 'tag:yaml.org,2002:bool',
  default: true,
  identify: (v) => typeof v === 'boolean',
  test: /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  resolve: (s) => /^(?:yes|true|on)$/i.test(s),
};

const pyYamlInt: ScalarTag = {
  tag: 'tag:yaml.org,2002:int',
  default: true,
  identify: (v) => typeof v === 'bigint' || Number.isInteger(v),
  test: /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  resolve(str, onError) {
    let s = str.replace(/_/g, '');
    let sign = 1n;
    if (s[0] === '-' || s[0] === '+') {
      if (s[0] === '-') sign = -1n;
      s = s.slice(1);
    }
    try {
      if (s === '0') return 0;
      if (s.startsWith('0b')) return exactInt(sign * BigInt(s));
      if (s.startsWith('0x')) return exactInt(sign * BigInt(s));
      if (s.startsWith('0')) return exactInt(sign * BigInt(`0o${s.slice(1)}`));
      if (s.includes(':')) return exactInt(sign * sexagesimal(s, BigInt));
      return exactInt(sign * BigInt(s));
    } catch {
      onError(`invalid integer ${str}`);
      return str;
    }
  },
};

const pyYamlFloat: ScalarTag = {
  tag: 'tag:yaml.org,2002:float',
  default: true,
  identify: (v) => v instanceof PyFloat || typeof v === 'number',
  test: /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  resolve(str) {
    let s = str.replace(/_/g, '').toLowerCase();
    let sign = 1;
    if (s[0] === '-' || s[0] === '+') {
      if (s[0] === '-') sign = -1;
      s = s.slice(1);
    }
    if (s === '.inf') return new PyFloat(sign * Infinity);
    if (s === '.nan') return new PyFloat(NaN);
    if (s.includes(':')) return new PyFloat(sign * sexagesimal(s, Number));
    return new PyFloat(sign * Number(s));
  },
};

function sexagesimal<T extends number | bigint>(s: string, conv: (x: string) => T): T {
  // PyYAML: 1:30 = 90; the last part may be fractional for floats.
  const parts = s.split(':');
  let value = conv('0') as number | bigint;
  let base = conv('1') as number | bigint;
  for (let i = parts.length - 1; i >= 0; i--) {
    value = (value as number) + (conv(parts[i]!) as number) * (base as number);
    base = (base as number) * (conv('60') as number);
  }
  return value as T;
}

const REPLACED = new Set(['tag:yaml.org,2002:bool', 'tag:yaml.org,2002:int', 'tag:yaml.org,2002:float', 'tag:yaml.org,2002:timestamp']);

function pyYamlTags(defaults: Tags): Tags {
  const kept = defaults.filter((t) => typeof t !== 'string' && !REPLACED.has(t.tag));
  return [pyYamlBool, pyYamlInt, pyYamlFloat, ...kept];
}

/**
 * Parse YAML parameters like papermill: YAML 1.1 scalars as PyYAML resolves them
 * (`yes`/`on` booleans, `0o`-less octal, `1e3` stays a string, `.nan`/`.inf` floats),
 * no timestamp conversion (`2019-01-01` stays a string), duplicate keys last-wins.
 * An empty document is `{}`; any other non-mapping top level is a ParameterError.
 */
export function parseYamlParameters(text: string, sourceName: string): Parameters {
  const doc = parseDocument(text, {
    version: '1.1',
    schema: 'yaml-1.1',
    customTags: pyYamlTags,
    merge: true,
    uniqueKeys: false,
    prettyErrors: true,
  });
  if (doc.errors.length > 0) {
    throw new ParameterError(`${sourceName}: invalid YAML: ${doc.errors[0]!.message}`, { cause: doc.errors[0] });
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ParameterError(`${sourceName}: invalid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data) || data instanceof Map || data instanceof Set) {
    throw new ParameterError(`${sourceName}: parameters must be a YAML mapping of names to values, got ${describe(data)}`);
  }
  return toParameterValue(data, sourceName, '') as Parameters;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Map) return 'an ordered map';
  if (v instanceof Set) return 'a set';
  return `${typeof v} ${JSON.stringify(String(v))}`;
}

/** Convert the YAML loader's output into ParameterValue, rejecting what no translator can render. */
function toParameterValue(v: unknown, source: string, path: string): ParameterValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return v;
    case 'number':
      return Number.isInteger(v) ? v : new PyFloat(v);
  }
  if (v instanceof PyFloat) return v;
  if (Array.isArray(v)) return v.map((x, i) => toParameterValue(x, source, `${path}[${i}]`));
  if (v instanceof Map || v instanceof Set || v instanceof Uint8Array || v instanceof Date) {
    const what = v instanceof Uint8Array ? '!!binary' : v instanceof Date ? 'a timestamp' : v instanceof Set ? '!!set' : '!!omap/!!pairs';
    throw new ParameterError(`${source}: ${path || 'value'} is ${what}, which cannot be passed as a parameter`);
  }
  if (typeof v === 'object') {
    const out: { [key: string]: ParameterValue } = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      setOwn(out, k, toParameterValue(x, source, path ? `${path}.${k}` : k));
    }
    return out;
  }
  throw new ParameterError(`${source}: ${path || 'value'} has unsupported type ${typeof v}`);
}
