/**
 * References in a task's parameters (and in a for_each's items):
 * `{{parameters.NAME}}`, `{{tasks.KEY.result.NAME}}`, `{{item}}`, `{{item.NAME}}`,
 * `{{run.id}}` and `{{run.scheduled_for}}`, spaces inside the braces allowed.
 *
 * A string that is exactly one reference becomes the referenced value with its
 * type (a PyFloat stays a float, a bigint keeps every digit, lists and objects stay
 * lists and objects). A reference inside a longer string is written in as text:
 * strings as they are, numbers as Python writes them (`1.0`, `1e-05`, every digit
 * of a big integer), everything else as JSON (`true`, `null`, `[1, 2]` → `[1,2]`).
 * A value that is missing throws PipelineReferenceError naming the reference:
 * never a `None` in its place. Substituted values are not searched again, so a
 * result cannot smuggle a reference in.
 *
 * What counts as a reference: braces around a dotted path (`{{a.b-c.d_e}}`). A path
 * that starts with none of the four roots is refused (checkPipeline reports it),
 * so a typo is not passed on silently; braces around anything else
 * (`{{ x + 1 }}`, `{{}}`) are left as text.
 */
import { cloneJson } from '../notebook/exact-json.js';
import type { ParameterValue, Parameters } from '../notebook/notebook-types.js';
import { PyFloat, pyFloatRepr } from '../notebook/py-float.js';
import { toJsonText } from '../notebook/write.js';
import { PipelineReferenceError } from './pipeline-errors.js';

export type PipelineRef =
  | { kind: 'parameter'; name: string }
  | { kind: 'task_result'; task: string; name: string }
  /** name null: the whole item (`{{item}}`). */
  | { kind: 'item'; name: string | null }
  | { kind: 'run'; field: 'id' | 'scheduled_for' };

/** One reference found in a value. */
export interface RefOccurrence {
  /** Where in the value, as a JSON path suffix (`""` for the value itself, `[0].x`...). */
  path: string;
  /** The reference as written, braces included (`{{ item.lr }}`). */
  text: string;
  /** The parsed reference, or null when it is malformed (see `problem`). */
  ref: PipelineRef | null;
  /** Why a malformed reference cannot be used; null when `ref` is set. */
  problem: string | null;
}

/** What a reference may read while a task starts. */
export interface RefScope {
  /** The run's parameters (the pipeline's defaults merged with the run's own). */
  parameters: Parameters;
  /** A task's result as seen downstream (TaskState.result); null when it has none. */
  result: (taskKey: string) => Record<string, ParameterValue> | null | undefined;
  /** The for_each item being started; null outside a for_each. */
  item: { value: ParameterValue } | null;
  runId: string;
  /** ISO UTC: the cron time of a scheduled run, else the run's start. */
  scheduledFor: string;
}

const TOKEN = /\{\{([^{}]*)\}\}/g;
const EXACT = /^\{\{([^{}]*)\}\}$/;
const PATH = /^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$/;
const KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/**
 * The reference inside one pair of braces (without them): a PipelineRef, a string
 * saying why it is malformed, or null when the text is no reference at all.
 */
export function parseRef(inner: string): PipelineRef | string | null {
  const path = inner.trim();
  if (!PATH.test(path)) return null;
  const [root, ...rest] = path.split('.');
  const tail = rest.join('.');
  switch (root) {
    case 'parameters':
      return tail ? { kind: 'parameter', name: tail } : 'write {{parameters.NAME}}';
    case 'tasks': {
      const [task, word, ...name] = rest;
      if (task === undefined || !KEY.test(task) || word !== 'result' || name.length === 0) return 'write {{tasks.KEY.result.NAME}}';
      return { kind: 'task_result', task, name: name.join('.') };
    }
    case 'item':
      return { kind: 'item', name: tail || null };
    case 'run':
      if (tail === 'id' || tail === 'scheduled_for') return { kind: 'run', field: tail };
      return 'a run reference is {{run.id}} or {{run.scheduled_for}}';
    default:
      return 'a reference starts with parameters., tasks., item or run.';
  }
}

/** Every reference in `value`, deep in lists and objects (object keys are not searched). */
export function findRefs(value: ParameterValue, path = ''): RefOccurrence[] {
  const out: RefOccurrence[] = [];
  walk(value, path, out, 0);
  return out;
}

function walk(value: ParameterValue, path: string, out: RefOccurrence[], depth: number): void {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return;
    for (const m of value.matchAll(TOKEN)) {
      const parsed = parseRef(m[1]!);
      if (parsed === null) continue;
      out.push(typeof parsed === 'string' ? { path, text: m[0], ref: null, problem: parsed } : { path, text: m[0], ref: parsed, problem: null });
    }
    return;
  }
  if (value === null || typeof value !== 'object' || value instanceof PyFloat || depth > 64) return;
  if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`, out, depth + 1));
  else for (const [k, v] of Object.entries(value)) walk(v, `${path}${pathKey(k)}`, out, depth + 1);
}

/** `.name` for an identifier-like key, else `["a b"]`: the JSON path step of an object key. */
export function pathKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** True when `s` is exactly one reference (its value then keeps its type). */
export function isExactRef(s: string): boolean {
  const m = EXACT.exec(s);
  return m !== null && parseRef(m[1]!) !== null;
}

/** The value of one reference; throws PipelineReferenceError when it is missing. `text` names it in the error. */
export function refValue(ref: PipelineRef, scope: RefScope, text = refText(ref)): ParameterValue {
  switch (ref.kind) {
    case 'parameter':
      if (!Object.hasOwn(scope.parameters, ref.name)) throw new PipelineReferenceError(text, `the run has no parameter '${ref.name}'`);
      return cloneJson(scope.parameters[ref.name] as ParameterValue);
    case 'task_result': {
      const result = scope.result(ref.task);
      if (!result) throw new PipelineReferenceError(text, `task '${ref.task}' has no result (it did not succeed)`);
      if (!Object.hasOwn(result, ref.name)) throw new PipelineReferenceError(text, `task '${ref.task}' recorded no result '${ref.name}'`);
      return cloneJson(result[ref.name] as ParameterValue);
    }
    case 'item': {
      if (!scope.item) throw new PipelineReferenceError(text, 'there is no item outside a for_each task');
      if (ref.name === null) return cloneJson(scope.item.value);
      const v = scope.item.value;
      if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof PyFloat) {
        throw new PipelineReferenceError(text, `the item is not an object (it is ${toJsonText(v)})`);
      }
      if (!Object.hasOwn(v, ref.name)) throw new PipelineReferenceError(text, `the item has no key '${ref.name}'`);
      return cloneJson(v[ref.name] as ParameterValue);
    }
    case 'run':
      return ref.field === 'id' ? scope.runId : scope.scheduledFor;
  }
}

/** The canonical spelling of a reference (`{{tasks.a.result.x}}`). */
export function refText(ref: PipelineRef): string {
  switch (ref.kind) {
    case 'parameter':
      return `{{parameters.${ref.name}}}`;
    case 'task_result':
      return `{{tasks.${ref.task}.result.${ref.name}}}`;
    case 'item':
      return ref.name === null ? '{{item}}' : `{{item.${ref.name}}}`;
    case 'run':
      return `{{run.${ref.field}}}`;
  }
}

/**
 * `value` with every reference resolved, deep in lists and objects. A malformed
 * reference throws too (checkPipeline refuses them at save time).
 */
export function resolveValue(value: ParameterValue, scope: RefScope): ParameterValue {
  if (typeof value === 'string') return resolveString(value, scope);
  if (value === null || typeof value !== 'object' || value instanceof PyFloat) return value;
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, scope));
  const out: { [key: string]: ParameterValue } = {};
  for (const [k, v] of Object.entries(value)) {
    Object.defineProperty(out, k, { value: resolveValue(v, scope), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Parameters with every reference resolved (see resolveValue). */
export function resolveParameters(params: Parameters, scope: RefScope): Parameters {
  return resolveValue(params, scope) as Parameters;
}

function resolveString(s: string, scope: RefScope): ParameterValue {
  if (!s.includes('{{')) return s;
  const exact = EXACT.exec(s);
  if (exact) {
    const parsed = parseRef(exact[1]!);
    if (parsed !== null) return valueOf(parsed, s, scope);
  }
  return s.replace(TOKEN, (text: string, inner: string) => {
    const parsed = parseRef(inner);
    return parsed === null ? text : valueText(valueOf(parsed, text, scope));
  });
}

function valueOf(parsed: PipelineRef | string, text: string, scope: RefScope): ParameterValue {
  if (typeof parsed === 'string') throw new PipelineReferenceError(text, parsed);
  return refValue(parsed, scope, text);
}

/**
 * A value written into a longer string: a string as it is, numbers as Python
 * writes them (an integral plain number is an int, every digit kept; floats in
 * repr form, `nan`/`inf` included), anything else as compact JSON.
 */
export function valueText(v: ParameterValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof PyFloat) return v.repr();
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v).toString() : pyFloatRepr(v);
  return toJsonText(v);
}

/** `{{run.scheduled_for}}`: the cron time of a scheduled run, else its start (else its creation), in ISO UTC. */
export function scheduledForIso(run: { scheduled_for_ms: number | null; started_at_ms: number | null; created_at_ms: number }): string {
  return new Date(run.scheduled_for_ms ?? run.started_at_ms ?? run.created_at_ms).toISOString();
}
