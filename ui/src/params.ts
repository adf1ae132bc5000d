/**
 * Run-form fields from the parameters `hubmill inspect` reports: the kind of
 * input (from the annotation when there is one, else from the default's
 * literal), the default as a form value, and parsing/validation of what the
 * user typed. Python literals are read by a small parser (strings, numbers,
 * True/False/None, lists, tuples, dicts); what it cannot read stays text.
 * Floats and JSON values are sent as JSON text (RawJson), so `2.0` reaches the
 * kernel as a float, not the int 2 that a JavaScript number would become.
 */
import { floatLiteral, RawJson } from './json-text.js';

export type Kind = 'integer' | 'number' | 'boolean' | 'text' | 'json';

export interface Parameter {
  name: string;
  inferred_type_name: string;
  default: string;
  help: string;
}

export interface Field {
  name: string;
  kind: Kind;
  /** The form value of the default ('' when it cannot be read). */
  initial: string;
  /** The default as JSON, when it could be read. */
  defaultValue: unknown;
  readable: boolean;
  help: string;
  typeLabel: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Reads a Python (or simple R) literal; throws on anything else. */
export function parseLiteral(src: string): Json {
  let i = 0;
  const s = src.trim();
  const ws = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const fail = (): never => {
    throw new Error(`cannot read ${src}`);
  };
  const value = (): Json => {
    ws();
    const c = s[i];
    if (c === undefined) return fail();
    if (c === '[' || c === '(') return seq(c === '[' ? ']' : ')');
    if (c === '{') return dict();
    if (c === '"' || c === "'") return str();
    const word = /^(True|False|None|TRUE|FALSE|NULL|NA)\b/.exec(s.slice(i));
    if (word) {
      i += word[0].length;
      return word[0] === 'True' || word[0] === 'TRUE' ? true : word[0] === 'False' || word[0] === 'FALSE' ? false : null;
    }
    const num = /^[-+]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][-+]?\d+)?L?/.exec(s.slice(i));
    if (num) {
      i += num[0].length;
      const n = Number(num[0].replace(/[_L]/g, ''));
      return Number.isFinite(n) ? n : fail();
    }
    return fail();
  };
  const seq = (close: string): Json[] => {
    i++;
    const out: Json[] = [];
    for (;;) {
      ws();
      if (s[i] === close) {
        i++;
        return out;
      }
      out.push(value());
      ws();
      if (s[i] === ',') i++;
      else if (s[i] !== close) fail();
    }
  };
  const dict = (): { [k: string]: Json } => {
    i++;
    const out: { [k: string]: Json } = {};
    for (;;) {
      ws();
      if (s[i] === '}') {
        i++;
        return out;
      }
      const k = value();
      if (typeof k !== 'string' && typeof k !== 'number') fail();
      ws();
      if (s[i] !== ':') fail();
      i++;
      out[String(k)] = value();
      ws();
      if (s[i] === ',') i++;
      else if (s[i] !== '}') fail();
    }
  };
  const str = (): string => {
    const q = s[i]!;
    const triple = s.startsWith(q.repeat(3), i);
    i += triple ? 3 : 1;
    let out = '';
    const esc: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
    for (;;) {
      if (i >= s.length) fail();
      if (triple ? s.startsWith(q.repeat(3), i) : s[i] === q) {
        i += triple ? 3 : 1;
        return out;
      }
      if (s[i] === '\\') {
        const n = s[i + 1]!;
        if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
          i += 6;
          continue;
        }
        out += esc[n] ?? `\\${n}`;
        i += 2;
        continue;
      }
      out += s[i++];
    }
  };
  const v = value();
  ws();
  if (i !== s.length) fail();
  return v;
}

function kindFromAnnotation(t: string): Kind | null {
  const a = t.toLowerCase();
  // Optional[X] is typed as X (the server's strict check takes None too).
  const optional = /^optional\s*\[(.*)\]$/s.exec(a);
  if (optional) return kindFromAnnotation(optional[1]!.trim());
  if (a === 'int') return 'integer';
  if (a === 'float') return 'number';
  if (a === 'bool') return 'boolean';
  if (a === 'str') return 'text';
  if (/^(list|dict|tuple|typing\.|list\[|dict\[)/.test(a)) return 'json';
  return null;
}

function kindOfValue(v: Json, src: string): Kind {
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number') return Number.isInteger(v) && !/[.eE]/.test(src) ? 'integer' : 'number';
  if (typeof v === 'string') return 'text';
  return 'json';
}

export function fieldFor(p: Parameter): Field {
  let defaultValue: Json | undefined;
  let readable = true;
  try {
    defaultValue = parseLiteral(p.default);
  } catch {
    readable = false;
  }
  const kind = kindFromAnnotation(p.inferred_type_name) ?? (readable ? kindOfValue(defaultValue!, p.default) : 'text');
  let initial = '';
  if (readable) {
    if (kind === 'json') initial = JSON.stringify(defaultValue);
    else if (kind === 'boolean') initial = defaultValue ? 'true' : 'false';
    else initial = defaultValue === null ? '' : String(defaultValue);
  } else initial = p.default;
  const typeLabel = p.inferred_type_name !== 'None' ? p.inferred_type_name : kind === 'json' ? (Array.isArray(defaultValue) ? 'list' : 'dict') : kind;
  return { name: p.name, kind, initial, defaultValue, readable, help: p.help, typeLabel };
}

/**
 * The value to send for a field, or an error message to show next to it. A float
 * field sends a float literal (`2` typed → `2.0`), a JSON field the JSON as typed.
 */
export function readField(f: Field, raw: string): { value: unknown } | { error: string } {
  switch (f.kind) {
    case 'integer': {
      if (!/^\s*[-+]?\d+\s*$/.test(raw)) return { error: 'Enter a whole number' };
      const n = Number(raw);
      return Number.isSafeInteger(n) ? { value: n } : { error: 'Number out of range' };
    }
    case 'number': {
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n) ? { value: new RawJson(floatLiteral(n)) } : { error: 'Enter a number' };
    }
    case 'boolean':
      return { value: raw === 'true' };
    case 'json': {
      try {
        const v = JSON.parse(raw) as unknown;
        if (Array.isArray(f.defaultValue) && !Array.isArray(v)) return { error: 'Enter a JSON list, e.g. [1, 2]' };
        if (f.defaultValue && typeof f.defaultValue === 'object' && !Array.isArray(f.defaultValue) && (typeof v !== 'object' || v === null || Array.isArray(v))) {
          return { error: 'Enter a JSON object, e.g. {"a": 1}' };
        }
        return { value: new RawJson(raw.trim()) };
      } catch {
        return { error: 'Enter valid JSON' };
      }
    }
    default:
      return { value: raw };
  }
}

/** A job parameter value shown in a form field of that kind. */
export function formValue(f: Field, v: unknown): string {
  if (f.kind === 'json') return JSON.stringify(v);
  if (f.kind === 'boolean') return v ? 'true' : 'false';
  if (v && typeof v === 'object' && '$hubmill_float' in (v as object)) return String((v as Record<string, unknown>).$hubmill_float);
  return v === null || v === undefined ? '' : String(v);
}
