/**
 * A pipeline checked completely when it is saved, without reading a notebook:
 * shapes, keys, the graph (cycles named by their keys), references, for_each
 * limits. Each problem names its task and a JSON path into the body
 * (`tasks[2].depends_on[0]`), which the YAML editor maps to a line. The checks
 * that need the notebooks (missing notebook, parameter names the language cannot
 * take, the kernel) are runner/pipeline-intake.ts's, after these.
 */
import type { ParameterValue } from '../notebook/notebook-types.js';
import { PyFloat } from '../notebook/py-float.js';
import { taskGraph, type TaskGraph } from './graph.js';
import { findRefs, isExactRef, pathKey, type RefOccurrence } from './refs.js';
import { MAX_FOR_EACH_ITEMS, MAX_TASKS, RUN_IF, TASK_KEY_RE, type PipelineProblem } from './types.js';

/** Most retries of one task item. */
export const MAX_TASK_RETRIES = 100;
/** Longest retry backoff a task may ask (1 day, as schedules). */
export const MAX_RETRY_BACKOFF_S = 86_400;

type Obj = Record<string, unknown>;

/** Every problem of `spec` (the API body or a pipeline file, not yet trusted); empty when it can be planned. */
export function checkPipeline(spec: unknown): PipelineProblem[] {
  const problems: PipelineProblem[] = [];
  const add = (task: string | null, path: string, message: string): void => {
    problems.push({ task, path, message });
  };
  if (!isObj(spec)) {
    add(null, '', 'a pipeline is an object with a name and tasks');
    return problems;
  }
  if (typeof spec.name !== 'string' || spec.name.trim() === '') add(null, 'name', 'name must be a non-empty string');
  const params = spec.parameters;
  if (params !== undefined && !isObj(params)) add(null, 'parameters', 'parameters must be an object of names and default values');
  const mcr = spec.max_concurrent_runs;
  if (mcr !== undefined && !isPositiveInt(mcr)) add(null, 'max_concurrent_runs', 'max_concurrent_runs must be an integer of at least 1');
  const tasks = spec.tasks;
  if (!Array.isArray(tasks)) {
    add(null, 'tasks', 'tasks must be a list');
    return problems;
  }
  if (tasks.length === 0) add(null, 'tasks', 'a pipeline needs at least one task');
  if (tasks.length > MAX_TASKS) {
    add(null, 'tasks', `a pipeline has at most ${MAX_TASKS} tasks; this one has ${tasks.length}`);
    return problems;
  }
  // Malformed parameters (reported above) would make every {{parameters.x}} look unknown: those are not checked then.
  const paramNames = params === undefined ? new Set<string>() : isObj(params) ? new Set(Object.keys(params)) : null;

  // Keys first: the other checks refer to them.
  const firstAt = new Map<string, number>();
  const keyOf = (i: number): string | null => {
    const t: unknown = tasks[i];
    return isObj(t) && typeof t.key === 'string' ? t.key : null;
  };
  tasks.forEach((t: unknown, i) => {
    if (!isObj(t)) return add(null, `tasks[${i}]`, 'a task is an object with a key and a notebook');
    const key = t.key;
    if (typeof key !== 'string') return add(null, `tasks[${i}].key`, 'key must be a string');
    if (!TASK_KEY_RE.test(key)) {
      add(key, `tasks[${i}].key`, `key '${key}' is not valid: letters, digits, '_' and '-', starting with a letter or '_', at most 64 characters`);
    }
    const first = firstAt.get(key);
    if (first !== undefined) add(key, `tasks[${i}].key`, `duplicate key '${key}' (also tasks[${first}])`);
    else firstAt.set(key, i);
  });

  const nodes = tasks.map((t: unknown, i) => ({
    key: keyOf(i) ?? `\u0000${i}`,
    depends_on: isObj(t) && Array.isArray(t.depends_on) ? t.depends_on.filter((d): d is string => typeof d === 'string') : [],
  }));
  const graph = taskGraph(nodes);
  const ordered = new Set(graph.order);
  for (const c of graph.cycles) {
    const i = firstAt.get(c.task)!;
    add(c.task, `tasks[${i}].depends_on[${c.depends_on_index}]`, `cycle: ${[...c.keys, c.keys[0]].join(' → ')}`);
  }

  tasks.forEach((t: unknown, i) => {
    if (!isObj(t)) return;
    const key = keyOf(i);
    const at = `tasks[${i}]`;
    const problem = (path: string, message: string): void => add(key, `${at}${path}`, message);
    if (typeof t.notebook !== 'string' || t.notebook.trim() === '') problem('.notebook', 'notebook must be a non-empty path relative to the home');
    if (t.parameters !== undefined && !isObj(t.parameters)) problem('.parameters', 'parameters must be an object of names and values');
    checkDependsOn(t.depends_on, firstAt, problem);
    if (t.run_if !== undefined && !(RUN_IF as readonly unknown[]).includes(t.run_if)) {
      problem('.run_if', `unknown run_if ${JSON.stringify(t.run_if)}: use ${RUN_IF.join(', ')}`);
    }
    if (t.max_retries !== undefined && !(isInt(t.max_retries) && t.max_retries >= 0 && t.max_retries <= MAX_TASK_RETRIES)) {
      problem('.max_retries', `max_retries must be an integer from 0 to ${MAX_TASK_RETRIES}`);
    }
    if (t.retry_backoff_s !== undefined && !(typeof t.retry_backoff_s === 'number' && t.retry_backoff_s >= 0 && t.retry_backoff_s <= MAX_RETRY_BACKOFF_S)) {
      problem('.retry_backoff_s', `retry_backoff_s must be a number of seconds from 0 to ${MAX_RETRY_BACKOFF_S}`);
    }
    const grid = t.for_each !== undefined ? checkForEach(t.for_each, problem) : null;
    const refs = [
      ...(isObj(t.parameters) ? findRefs(t.parameters as ParameterValue, `${at}.parameters`) : []),
      ...(isObj(t.for_each) ? findRefs(t.for_each.items as ParameterValue, `${at}.for_each.items`) : []),
      ...(isObj(t.for_each) && isObj(t.for_each.grid) ? findRefs(t.for_each.grid as ParameterValue, `${at}.for_each.grid`) : []),
    ];
    for (const r of refs) {
      const message = refProblem(r, { key, forEach: t.for_each !== undefined, grid, paramNames, firstAt, graph, ordered });
      if (message) add(key, r.path, `${r.text}: ${message}`);
    }
  });
  return problems;
}

function checkDependsOn(deps: unknown, firstAt: Map<string, number>, problem: (path: string, message: string) => void): void {
  if (deps === undefined) return;
  if (!Array.isArray(deps)) return problem('.depends_on', 'depends_on must be a list of task keys');
  deps.forEach((d: unknown, j) => {
    if (typeof d !== 'string') problem(`.depends_on[${j}]`, 'depends_on lists task keys (strings)');
    else if (!firstAt.has(d)) problem(`.depends_on[${j}]`, `unknown task '${d}'`);
  });
}

/** Checks a for_each; returns the grid's keys when it is a grid (for `{{item.NAME}}`), else null. */
function checkForEach(fe: unknown, problem: (path: string, message: string) => void): Set<string> | null {
  if (!isObj(fe)) {
    problem('.for_each', 'for_each must be an object with items or grid');
    return null;
  }
  if (fe.concurrency !== undefined && !isPositiveInt(fe.concurrency)) problem('.for_each.concurrency', 'concurrency must be an integer of at least 1');
  const hasItems = fe.items !== undefined;
  const hasGrid = fe.grid !== undefined;
  if (hasItems && hasGrid) problem('.for_each', 'for_each takes items or grid, not both');
  if (!hasItems && !hasGrid) problem('.for_each', 'for_each needs items (a list, or one reference to a list) or grid');
  if (hasItems) {
    const items = fe.items;
    if (Array.isArray(items)) {
      if (items.length > MAX_FOR_EACH_ITEMS) problem('.for_each.items', `for_each over ${items.length} items, more than ${MAX_FOR_EACH_ITEMS}`);
    } else if (typeof items !== 'string' || !isExactRef(items)) {
      problem('.for_each.items', 'items must be a list, or one reference to a list such as "{{tasks.KEY.result.NAME}}"');
    } else {
      const kind = findRefs(items)[0]?.ref?.kind;
      if (kind === 'run' || kind === 'item') problem('.for_each.items', `items ${items} is not a list: reference {{parameters.NAME}} or {{tasks.KEY.result.NAME}}`);
    }
  }
  if (!hasGrid) return null;
  const grid = fe.grid;
  if (!isObj(grid) || Object.keys(grid).length === 0) {
    problem('.for_each.grid', 'grid must be an object of parameter names and lists of values');
    return null;
  }
  const lengths: number[] = [];
  for (const [k, v] of Object.entries(grid)) {
    if (!Array.isArray(v)) problem(`.for_each.grid${pathKey(k)}`, `grid key '${k}' must have a list of values`);
    else if (v.length === 0) problem(`.for_each.grid${pathKey(k)}`, `grid key '${k}' has no values`);
    else lengths.push(v.length);
  }
  if (lengths.length === Object.keys(grid).length) {
    const size = lengths.reduce((a, b) => a * b, 1);
    if (size > MAX_FOR_EACH_ITEMS) problem('.for_each.grid', `the grid has ${size} items (${lengths.join(' × ')}), more than ${MAX_FOR_EACH_ITEMS}`);
  }
  return new Set(Object.keys(grid));
}

interface RefContext {
  key: string | null;
  forEach: boolean;
  grid: Set<string> | null;
  /** null when the pipeline's parameters are malformed. */
  paramNames: Set<string> | null;
  firstAt: Map<string, number>;
  graph: TaskGraph;
  /** The keys in the topological order (in no cycle, downstream of none). */
  ordered: ReadonlySet<string>;
}

/** Why a reference cannot be used where it is, or null. */
function refProblem(r: RefOccurrence, c: RefContext): string | null {
  if (!r.ref) return r.problem;
  const inItems = r.path.includes('.for_each.');
  const ref = r.ref;
  switch (ref.kind) {
    case 'parameter':
      if (c.paramNames === null || c.paramNames.has(ref.name)) return null;
      return `unknown pipeline parameter '${ref.name}'${c.paramNames.size > 0 ? ` (the pipeline's parameters: ${[...c.paramNames].join(', ')})` : ' (the pipeline declares no parameters)'}`;
    case 'task_result':
      if (!c.firstAt.has(ref.task)) return `unknown task '${ref.task}'`;
      if (ref.task === c.key) return 'a task cannot read its own result';
      // In a cycle the order is unknown: the cycle is reported, not the reference.
      if (c.key === null || !c.ordered.has(c.key)) return null;
      return c.graph.isUpstream(ref.task, c.key) ? null : `task '${ref.task}' is not upstream of '${c.key}': add it to depends_on (directly or through another task)`;
    case 'item':
      if (!c.forEach || inItems) return `${ref.name !== null ? '{{item.NAME}}' : '{{item}}'} is only for the parameters of a task with for_each`;
      if (ref.name !== null && c.grid !== null && !c.grid.has(ref.name)) return `the grid has no key '${ref.name}' (its keys: ${[...c.grid].join(', ')})`;
      return null;
    case 'run':
      return null;
  }
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof PyFloat);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function isPositiveInt(v: unknown): v is number {
  return isInt(v) && v >= 1;
}
