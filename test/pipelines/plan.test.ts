import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPipeline } from '../../src/pipelines/check.js';
import { taskGraph } from '../../src/pipelines/graph.js';
import { buildPlan, type TaskNotebookInfo } from '../../src/pipelines/plan.js';
import { PipelineInvalidError } from '../../src/pipelines/pipeline-errors.js';
import type { PipelineSpec, TaskSpec } from '../../src/pipelines/types.js';

const info = (t: TaskSpec): TaskNotebookInfo => ({ kernel: 'python3', kernel_language: 'python', declared_parameters: t.key === 'a' ? ['x'] : [] });

/** Deterministic pseudo-random numbers (a fixed LCG), so the DAG is the same on every run. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

function assertTopological(order: string[], tasks: { key: string; depends_on?: string[] }[]): void {
  const at = new Map(order.map((k, i) => [k, i]));
  assert.equal(at.size, tasks.length);
  for (const t of tasks) for (const d of t.depends_on ?? []) assert.ok(at.get(d)! < at.get(t.key)!, `${d} before ${t.key}`);
}

test('buildPlan: tasks in topological order with every default filled, the notebooks\' information kept', () => {
  const spec: PipelineSpec = {
    name: 'p',
    parameters: { x: 1 },
    tasks: [
      { key: 'c', notebook: 'c.ipynb', depends_on: ['b', 'a', 'b'], run_if: 'all_done' },
      { key: 'b', notebook: 'b.ipynb', depends_on: ['a'], for_each: { items: [1, 2] }, max_retries: 2, retry_backoff_s: 5, timeout_s: 30 },
      { key: 'a', notebook: 'a.ipynb', parameters: { y: '{{parameters.x}}' }, kernel: 'py' },
    ],
  };
  const plan = buildPlan(spec, info, 3.7);
  assert.deepEqual(plan.tasks.map((t) => t.key), ['a', 'b', 'c']);
  assert.equal(plan.default_concurrency, 3);
  assert.deepEqual(plan.parameters, { x: 1 });
  assert.deepEqual(plan.tasks[0], {
    key: 'a',
    notebook: 'a.ipynb',
    parameters: { y: '{{parameters.x}}' },
    depends_on: [],
    run_if: 'all_succeeded',
    kernel: 'python3',
    kernel_language: 'python',
    timeout_s: null,
    cell_timeout_s: null,
    max_retries: 0,
    retry_backoff_s: 60,
    declared_parameters: ['x'],
  });
  assert.deepEqual(plan.tasks[1]!.for_each, { items: [1, 2] });
  assert.deepEqual([plan.tasks[1]!.max_retries, plan.tasks[1]!.retry_backoff_s, plan.tasks[1]!.timeout_s], [2, 5, 30]);
  assert.deepEqual(plan.tasks[2]!.depends_on, ['b', 'a']);
  assert.equal(plan.tasks[2]!.run_if, 'all_done');
});

test('buildPlan refuses a pipeline with problems, all of them in the error (422)', () => {
  const spec = { name: 'p', tasks: [{ key: 'a', notebook: 'n', depends_on: ['b'] }, { key: 'b', notebook: 'n', depends_on: ['a'] }] } as PipelineSpec;
  assert.throws(
    () => buildPlan(spec, info, 1),
    (e: unknown) => {
      assert.ok(e instanceof PipelineInvalidError);
      assert.equal(e.httpStatus, 422);
      assert.deepEqual(e.problems, checkPipeline(spec));
      assert.equal(e.message, "tasks[0].depends_on[0] (task 'a'): cycle: a → b → a");
      return true;
    },
  );
});

test('a 1,000-task chain written backwards is accepted, ordered, and each task may read any task above it', () => {
  const tasks: TaskSpec[] = Array.from({ length: 1000 }, (_, i): TaskSpec => ({
    key: `t${999 - i}`,
    notebook: 'n.ipynb',
    depends_on: i === 999 ? [] : [`t${998 - i}`],
    parameters: i === 999 ? {} : { first: '{{tasks.t0.result.x}}', prev: `{{tasks.t${998 - i}.result.x}}` },
  }));
  const spec: PipelineSpec = { name: 'chain', tasks };
  assert.deepEqual(checkPipeline(spec), []);
  const plan = buildPlan(spec, info, 4);
  assert.deepEqual(plan.tasks.map((t) => t.key), Array.from({ length: 1000 }, (_, i) => `t${i}`));
  // The same chain reading a task below it is refused, once.
  tasks[500] = { ...tasks[500]!, parameters: { late: '{{tasks.t999.result.x}}' } };
  const problems = checkPipeline(spec);
  assert.deepEqual(problems.map((p) => [p.task, p.path]), [['t499', 'tasks[500].parameters.late']]);
});

test('a 1,000-task DAG (up to 4 random upstream tasks each, references to them and to their ancestors) is accepted and ordered', () => {
  const rand = lcg(42);
  const keys = Array.from({ length: 1000 }, (_, i) => `node_${i}`);
  const tasks: TaskSpec[] = keys.map((key, i): TaskSpec => {
    const deps = i === 0 ? [] : [...new Set(Array.from({ length: 1 + Math.floor(rand() * 4) }, () => keys[Math.floor(rand() * i)]!))];
    return {
      key,
      notebook: `nb/${i % 7}.ipynb`,
      depends_on: deps,
      run_if: (['all_succeeded', 'all_done', 'any_failed', 'none_failed'] as const)[i % 4],
      parameters: deps.length > 0 ? { a: `{{tasks.${deps[0]}.result.v}}`, root: i > 0 ? '{{tasks.node_0.result.v}}' : 0 } : {},
    };
  });
  // Every task but node_0 depends on an earlier one, so node_0 is upstream of all (by induction).
  // Shuffle the written order: the plan must still be topological.
  const shuffled = [...tasks].sort(() => rand() - 0.5);
  const spec: PipelineSpec = { name: 'dag', tasks: shuffled };
  assert.deepEqual(checkPipeline(spec), []);
  const plan = buildPlan(spec, info, 4);
  assertTopological(plan.tasks.map((t) => t.key), tasks);
  const g = taskGraph(shuffled.map((t) => ({ key: t.key, depends_on: t.depends_on ?? [] })));
  assert.equal(g.order.length, 1000);
  assert.deepEqual(g.cycles, []);
});

test('taskGraph: isUpstream is transitive and strict; tasks in or after a cycle are out of the order', () => {
  const g = taskGraph([
    { key: 'a', depends_on: [] },
    { key: 'b', depends_on: ['a'] },
    { key: 'c', depends_on: ['b', 'ghost'] },
    { key: 'x', depends_on: ['y'] },
    { key: 'y', depends_on: ['x'] },
    { key: 'z', depends_on: ['x', 'a'] },
  ]);
  assert.deepEqual(g.order, ['a', 'b', 'c']);
  assert.equal(g.isUpstream('a', 'c'), true);
  assert.equal(g.isUpstream('c', 'a'), false);
  assert.equal(g.isUpstream('c', 'c'), false);
  assert.equal(g.isUpstream('a', 'z'), false, 'z is not ordered');
  assert.deepEqual(g.cycles.map((c) => c.keys), [['x', 'y']]);
});
