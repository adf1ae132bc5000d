/**
 * Path templating like papermill's `parameterize_path`: Python `str.format` fields
 * filled from the parameters plus the built-in `pm` mapping
 * (`{pm[run_uuid]}`, `{pm[current_datetime_local]}`, `{pm[current_datetime_utc]}`).
 * Supported: `{name}`, `{name[key]}` / `{name[0]}` lookups, `{{`/`}}`, and format specs
 * `:%Y-%m-%d…` (strftime) on the datetimes, `:[[fill]align][0][width][.prec][d|f|s]` elsewhere.
 */
import { randomUUID } from 'node:crypto';
import { ParameterError } from '../errors.js';
import { PyFloat, pyFloatRepr } from './py-float.js';
import { pythonLiteral } from './translators/index.js';
import type { ParameterValue, Parameters } from './notebook-types.js';

/** A datetime as Python's naive `datetime` would print it. */
class NaiveDateTime {
  constructor(
    readonly date: Date,
    readonly utc: boolean,
  ) {}
  part(kind: 'FullYear' | 'Month' | 'Date' | 'Hours' | 'Minutes' | 'Seconds' | 'Milliseconds' | 'Day'): number {
    const d = this.date as unknown as Record<string, () => number>;
    return d[`get${this.utc ? 'UTC' : ''}${kind}`]!.call(this.date);
  }
}

type PathValue = ParameterValue | NaiveDateTime | { [key: string]: PathValue };

export interface PathTemplateOptions {
  /** Value of pm[run_uuid]; default a fresh random UUID. */
  runUuid?: string;
  /** The moment for pm[current_datetime_*]; default now. */
  now?: Date;
}

/** Fill `{field}`s of `template`; a missing field is ParameterError `Missing parameter 'name'`. */
export function parameterizePath(template: string, params: Parameters, options: PathTemplateOptions = {}): string {
  const now = options.now ?? new Date();
  // User parameters override the built-ins, as papermill's dict.update does.
  const scope: Record<string, PathValue> = {
    pm: {
      run_uuid: options.runUuid ?? randomUUID(),
      current_datetime_local: new NaiveDateTime(now, false),
      current_datetime_utc: new NaiveDateTime(now, true),
    } as { [key: string]: PathValue },
    ...params,
  };
  let out = '';
  let i = 0;
  while (i < template.length) {
    const ch = template[i]!;
    if (ch === '{' && template[i + 1] === '{') {
      out += '{';
      i += 2;
    } else if (ch === '}' && template[i + 1] === '}') {
      out += '}';
      i += 2;
    } else if (ch === '}') {
      throw new ParameterError(`Output path '${template}': single '}' encountered in format string`);
    } else if (ch === '{') {
      const end = findFieldEnd(template, i + 1);
      if (end < 0) throw new ParameterError(`Output path '${template}': unmatched '{' in format string`);
      out += renderField(template.slice(i + 1, end), scope, template);
      i = end + 1;
    } else {
      out += ch;
      i += 1;
    }
  }
  return out;
}

function findFieldEnd(s: string, from: number): number {
  let inBracket = false;
  for (let j = from; j < s.length; j++) {
    const c = s[j];
    if (c === '[') inBracket = true;
    else if (c === ']') inBracket = false;
    else if (c === '}' && !inBracket) return j;
    else if (c === '{' && !inBracket) return -1;
  }
  return -1;
}

function renderField(field: string, scope: Record<string, PathValue>, template: string): string {
  const m = /^([^.[:!]*)((?:\[[^\]]*\])*)(?:!([rsa]))?(?::(.*))?$/s.exec(field);
  if (!m) throw new ParameterError(`Output path '${template}': unsupported field '{${field}}'`);
  const [, name = '', lookups = '', conversion, spec = ''] = m;
  if (name === '' || /^\d+$/.test(name)) {
    throw new ParameterError(`Output path '${template}': positional field '{${field}}' is not supported; use a parameter name`);
  }
  if (!Object.prototype.hasOwnProperty.call(scope, name)) throw new ParameterError(`Missing parameter '${name}'`);
  let value: PathValue | undefined = scope[name];
  for (const [, key] of lookups.matchAll(/\[([^\]]*)\]/g)) {
    if (Array.isArray(value) && /^\d+$/.test(key!)) {
      if (Number(key) >= value.length) throw new ParameterError(`Output path '${template}': index ${key} out of range`);
      value = value[Number(key)];
    } else if (isMapping(value) && Object.prototype.hasOwnProperty.call(value, key!)) {
      value = (value as Record<string, PathValue>)[key!];
    } else {
      throw new ParameterError(`Missing parameter '${key}'`);
    }
  }
  const v = value ?? null;
  if (conversion === 'r' || conversion === 'a') return formatValue(v instanceof NaiveDateTime ? `'${pyStr(v)}'` : pythonLiteral(v as ParameterValue), spec, template);
  if (v instanceof NaiveDateTime && spec !== '') return strftime(v, spec);
  return formatValue(v, spec, template);
}

function isMapping(v: unknown): v is Record<string, PathValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof PyFloat) && !(v instanceof NaiveDateTime);
}

/** Python's str() of a value (lists and dicts use hubmill's Python literal, with double quotes). */
function pyStr(v: PathValue): string {
  if (v instanceof NaiveDateTime) {
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    const base = `${p(v.part('FullYear'), 4)}-${p(v.part('Month') + 1)}-${p(v.part('Date'))} ${p(v.part('Hours'))}:${p(v.part('Minutes'))}:${p(v.part('Seconds'))}`;
    const ms = v.part('Milliseconds');
    return ms ? `${base}.${p(ms * 1000, 6)}` : base;
  }
  if (v === null) return 'None';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isSafeInteger(v) ? String(v) : pyFloatRepr(v);
  if (v instanceof PyFloat) return v.repr();
  return pythonLiteral(v as ParameterValue);
}

function formatValue(v: PathValue, spec: string, template: string): string {
  if (spec === '') return pyStr(v);
  const m = /^(?:(.)?([<>^=]))?([+\- ])?(0)?(\d+)?(?:\.(\d+))?([dfFeEs%])?$/s.exec(spec);
  if (!m) throw new ParameterError(`Output path '${template}': unsupported format spec ':${spec}'`);
  const [, fill0, align0, sign, zero, width, precision, type] = m;
  let text: string;
  const num = typeof v === 'number' ? v : v instanceof PyFloat ? v.value : typeof v === 'bigint' ? Number(v) : undefined;
  if (type === 'd') {
    if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) text = v.toString();
    else throw new ParameterError(`Output path '${template}': ':${spec}' needs an integer`);
  } else if (type && 'fFeE%'.includes(type)) {
    if (num === undefined || typeof v === 'boolean') throw new ParameterError(`Output path '${template}': ':${spec}' needs a number`);
    const prec = precision === undefined ? 6 : Number(precision);
    text =
      type === '%' ? `${(num * 100).toFixed(prec)}%` : type === 'e' || type === 'E' ? num.toExponential(prec).replace(/e([+-])(\d)$/, 'e$10$2') : num.toFixed(prec);
    if (type === 'E') text = text.toUpperCase();
  } else {
    text = pyStr(v);
    if (precision !== undefined && (type === 's' || typeof v === 'string')) text = [...text].slice(0, Number(precision)).join('');
  }
  if (sign === '+' && num !== undefined && num >= 0 && !text.startsWith('-')) text = `+${text}`;
  const w = width === undefined ? 0 : Number(width);
  const numeric = num !== undefined && typeof v !== 'string';
  const fill = fill0 ?? (zero && !align0 ? '0' : ' ');
  const align = align0 ?? (zero ? '=' : numeric ? '>' : '<');
  const len = [...text].length;
  if (len >= w) return text;
  const padding = fill.repeat(w - len);
  if (align === '<') return text + padding;
  if (align === '>') return padding + text;
  if (align === '^') {
    const left = Math.floor((w - len) / 2);
    return fill.repeat(left) + text + fill.repeat(w - len - left);
  }
  const signChar = /^[+-]/.test(text) ? text[0] : '';
  return signChar + padding + text.slice(signChar.length);
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** The strftime directives people put in file names (C locale). */
function strftime(d: NaiveDateTime, fmt: string): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return fmt.replace(/%(.)/gs, (all, c: string) => {
    switch (c) {
      case 'Y': return p(d.part('FullYear'), 4);
      case 'y': return p(d.part('FullYear') % 100);
      case 'm': return p(d.part('Month') + 1);
      case 'd': return p(d.part('Date'));
      case 'H': return p(d.part('Hours'));
      case 'I': return p(((d.part('Hours') + 11) % 12) + 1);
      case 'p': return d.part('Hours') < 12 ? 'AM' : 'PM';
      case 'M': return p(d.part('Minutes'));
      case 'S': return p(d.part('Seconds'));
      case 'f': return p(d.part('Milliseconds') * 1000, 6);
      case 'a': return DAYS[d.part('Day')]!.slice(0, 3);
      case 'A': return DAYS[d.part('Day')]!;
      case 'b': return MONTHS[d.part('Month')]!.slice(0, 3);
      case 'B': return MONTHS[d.part('Month')]!;
      case 'j': {
        const start = d.utc ? Date.UTC(d.part('FullYear'), 0, 1) : new Date(d.part('FullYear'), 0, 1).getTime();
        const today = d.utc ? Date.UTC(d.part('FullYear'), d.part('Month'), d.part('Date')) : new Date(d.part('FullYear'), d.part('Month'), d.part('Date')).getTime();
        return p(Math.round((today - start) / 86400000) + 1, 3);
      }
      case 'z': case 'Z': return ''; // naive datetimes have no zone, as in Python
      case '%': return '%';
      default: return all;
    }
  });
}
