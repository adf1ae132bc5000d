import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPipeline } from '../../src/pipelines/check.js';
import type { PipelineProblem } from '../../src/pipelines/types.js';

const ok = {
  name: 'sweep',
  parameters: { dataset: 'iris.csv', lrs: [0.1, 0.01] },
  tasks: [
    { key: 'report', notebook: 'report.ipynb', depends_on: ['train'], parameters: { scores: '{{tasks.train.result.score}}', src: '{{ tasks.extract.result.path }}' } },
    { key: 'extract', notebook: 'extract.ipynb', parameters: { dataset: '{{parameters.dataset}}', out: 'out/{{run.id}}/{{run.scheduled_for}}' } },
    {
      key: 'train',
      notebook: 'train.ipynb',
      depends_on: ['extract'],
      for_each: { grid: { lr: [0.1, 0.01], depth: [2, 4, 8] }, concurrency: 2 },
      parameters: { data: '{{tasks.extract.result.path}}', label: 'lr={{item.lr}}', keep: '{{ x + 1 }}' },
      run_if: 'all_succeeded',
      max_retries: 2,
      retry_backoff_s: 5,
    },
    { key: 'alert', notebook: 'alert.ipynb', depends_on: ['train'], run_if: 'any_failed' },
    { key: 'each', notebook: 'e.ipynb', depends_on: ['extract'], for_each: { items: '{{tasks.extract.result.files}}' }, parameters: { f: '{{item}}', n: '{{item.name}}' } },
    { key: 'lit', notebook: 'e.ipynb', for_each: { items: ['{{parameters.dataset}}', 2] }, parameters: { f: '{{item}}' } },
  ],
};

function only(spec: unknown): PipelineProblem {
  const problems = checkPipeline(spec);
  assert.equal(problems.length, 1, JSON.stringify(problems));
  return problems[0]!;
}

function withTask(i: number, patch: Record<string, unknown>): unknown {
  return { ...ok, tasks: ok.tasks.map((t, j) => (j === i ? { ...t, ...patch } : t)) };
}

test('a valid pipeline (tasks out of order, grid, dynamic items, every reference kind) has no problem', () => {
  assert.deepEqual(checkPipeline(ok), []);
});

test('the pipeline as a whole: not an object, name, parameters, max_concurrent_runs, tasks', () => {
  assert.deepEqual(checkPipeline(null), [{ task: null, path: '', message: 'a pipeline is an object with a name and tasks' }]);
  assert.deepEqual(checkPipeline([]), [{ task: null, path: '', message: 'a pipeline is an object with a name and tasks' }]);
  assert.equal(only({ ...ok, name: ' ' }).path, 'name');
  assert.equal(only({ ...ok, parameters: [1] }).path, 'parameters');
  assert.equal(only({ ...ok, max_concurrent_runs: 0 }).path, 'max_concurrent_runs');
  assert.deepEqual(only({ ...ok, tasks: 'x' }), { task: null, path: 'tasks', message: 'tasks must be a list' });
  assert.deepEqual(only({ ...ok, tasks: [] }), { task: null, path: 'tasks', message: 'a pipeline needs at least one task' });
  const many = Array.from({ length: 1001 }, (_, i) => ({ key: `t${i}`, notebook: 'n.ipynb' }));
  assert.deepEqual(only({ name: 'big', tasks: many }), { task: null, path: 'tasks', message: 'a pipeline has at most 1000 tasks; this one has 1001' });
});

test('keys: not a string, invalid, duplicate (naming the first), and a task that is no object', () => {
  assert.deepEqual(only({ name: 'p', tasks: [{ key: 'a', notebook: 'n' }, { key: 7, notebook: 'n' }] }), { task: null, path: 'tasks[1].key', message: 'key must be a string' });
  const bad = checkPipeline({ name: 'p', tasks: [{ key: '1abc', notebook: 'n.ipynb' }] });
  assert.deepEqual(bad.map((p) => [p.task, p.path]), [['1abc', 'tasks[0].key']]);
  assert.match(bad[0]!.message, /letters, digits, '_' and '-', starting with a letter or '_', at most 64 characters/);
  assert.equal(checkPipeline({ name: 'p', tasks: [{ key: 'k'.repeat(65), notebook: 'n' }] }).length, 1);
  assert.deepEqual(checkPipeline({ name: 'p', tasks: [{ key: 'k'.repeat(64), notebook: 'n' }, { key: '_a-1', notebook: 'n' }] }), []);
  assert.deepEqual(only({ name: 'p', tasks: [{ key: 'a', notebook: 'n' }, { key: 'b', notebook: 'n' }, { key: 'a', notebook: 'm' }] }), {
    task: 'a',
    path: 'tasks[2].key',
    message: "duplicate key 'a' (also tasks[0])",
  });
  assert.deepEqual(only({ name: 'p', tasks: [{ key: 'a', notebook: 'n' }, 'b'] }), { task: null, path: 'tasks[1]', message: 'a task is an object with a key and a notebook' });
});

test('notebook, parameters, depends_on, run_if, retries: each names the task and the JSON path', () => {
  assert.deepEqual(only(withTask(1, { notebook: '' })), { task: 'extract', path: 'tasks[1].notebook', message: 'notebook must be a non-empty path relative to the home' });
  assert.equal(only(withTask(1, { parameters: 'x' })).path, 'tasks[1].parameters');
  assert.deepEqual(only(withTask(3, { depends_on: ['train', 'nope'] })), { task: 'alert', path: 'tasks[3].depends_on[1]', message: "unknown task 'nope'" });
  assert.equal(only(withTask(3, { depends_on: 'train' })).path, 'tasks[3].depends_on');
  assert.deepEqual(only(withTask(3, { run_if: 'sometimes' })), {
    task: 'alert',
    path: 'tasks[3].run_if',
    message: 'unknown run_if "sometimes": use all_succeeded, all_done, any_failed, none_failed',
  });
  assert.equal(only(withTask(3, { max_retries: -1 })).path, 'tasks[3].max_retries');
  assert.equal(only(withTask(3, { max_retries: 1.5 })).path, 'tasks[3].max_retries');
  assert.equal(only(withTask(3, { retry_backoff_s: 86_401 })).path, 'tasks[3].retry_backoff_s');
});

test('a cycle names its keys in run order, at the depends_on entry of its first written task', () => {
  const spec = {
    name: 'p',
    tasks: [
      { key: 'a', notebook: 'n', depends_on: ['c'] },
      { key: 'b', notebook: 'n', depends_on: ['a'] },
      { key: 'c', notebook: 'n', depends_on: ['b'] },
      { key: 'd', notebook: 'n', depends_on: ['c'], parameters: { x: '{{tasks.a.result.y}}' } },
    ],
  };
  assert.deepEqual(checkPipeline(spec), [{ task: 'a', path: 'tasks[0].depends_on[0]', message: 'cycle: a → b → c → a' }]);
});

test('a task depending on itself, and two separate cycles, are each named', () => {
  assert.deepEqual(checkPipeline({ name: 'p', tasks: [{ key: 'solo', notebook: 'n', depends_on: ['solo'] }] }), [
    { task: 'solo', path: 'tasks[0].depends_on[0]', message: 'cycle: solo → solo' },
  ]);
  const two = checkPipeline({
    name: 'p',
    tasks: [
      { key: 'x', notebook: 'n', depends_on: ['ok', 'y'] },
      { key: 'y', notebook: 'n', depends_on: ['x'] },
      { key: 'ok', notebook: 'n' },
      { key: 'p', notebook: 'n', depends_on: ['r'] },
      { key: 'q', notebook: 'n', depends_on: ['p'] },
      { key: 'r', notebook: 'n', depends_on: ['q', 'x'] },
    ],
  });
  assert.deepEqual(
    two.map((p) => [p.task, p.path, p.message]),
    [
      ['x', 'tasks[0].depends_on[1]', 'cycle: x → y → x'],
      ['p', 'tasks[3].depends_on[0]', 'cycle: p → q → r → p'],
    ],
  );
});

test('references: a task that is not upstream, unknown task, own result, unknown parameter, malformed', () => {
  // alert depends on train, which depends on extract: extract is upstream (transitively); each is not.
  assert.deepEqual(checkPipeline(withTask(3, { parameters: { a: '{{tasks.extract.result.path}}', b: '{{tasks.train.result.score}}' } })), []);
  assert.deepEqual(only(withTask(3, { parameters: { deep: ['x', { y: 'v={{tasks.each.result.f}}' }] } })), {
    task: 'alert',
    path: 'tasks[3].parameters.deep[1].y',
    message: "{{tasks.each.result.f}}: task 'each' is not upstream of 'alert': add it to depends_on (directly or through another task)",
  });
  assert.match(only(withTask(3, { parameters: { a: '{{tasks.ghost.result.x}}' } })).message, /unknown task 'ghost'/);
  assert.match(only(withTask(3, { parameters: { a: '{{tasks.alert.result.x}}' } })).message, /cannot read its own result/);
  assert.deepEqual(only(withTask(1, { parameters: { d: '{{parameters.datset}}' } })), {
    task: 'extract',
    path: 'tasks[1].parameters.d',
    message: "{{parameters.datset}}: unknown pipeline parameter 'datset' (the pipeline's parameters: dataset, lrs)",
  });
  assert.match(only({ name: 'p', tasks: [{ key: 'a', notebook: 'n', parameters: { x: '{{parameters.x}}' } }] }).message, /declares no parameters/);
  assert.match(only(withTask(1, { parameters: { d: '{{paramters.dataset}}' } })).message, /^\{\{paramters\.dataset\}\}: a reference starts with parameters\., tasks\., item or run\./);
  assert.match(only(withTask(1, { parameters: { d: '{{run.user}}' } })).message, /run\.id/);
});

test('{{item}} belongs to a for_each task\'s parameters only, and {{item.NAME}} to a key of its grid', () => {
  assert.deepEqual(only(withTask(1, { parameters: { x: '{{item}}' } })), {
    task: 'extract',
    path: 'tasks[1].parameters.x',
    message: "{{item}}: {{item}} is only for the parameters of a task with for_each",
  });
  assert.match(only(withTask(5, { for_each: { items: ['{{item}}'] } })).message, /only for the parameters/);
  assert.deepEqual(only(withTask(2, { parameters: { x: '{{item.depht}}' } })), {
    task: 'train',
    path: 'tasks[2].parameters.x',
    message: "{{item.depht}}: the grid has no key 'depht' (its keys: lr, depth)",
  });
});

test('for_each: both or neither of items and grid, items neither a list nor a list reference, concurrency', () => {
  const fe = (for_each: unknown): PipelineProblem => only(withTask(5, { for_each }));
  assert.deepEqual(fe({ items: [1], grid: { a: [1] } }), { task: 'lit', path: 'tasks[5].for_each', message: 'for_each takes items or grid, not both' });
  assert.match(fe({ concurrency: 2 }).message, /for_each needs items/);
  assert.match(fe({ items: 'a,b' }).message, /items must be a list, or one reference/);
  assert.match(fe({ items: 'x {{parameters.lrs}}' }).message, /items must be a list, or one reference/);
  assert.match(fe({ items: '{{run.id}}' }).message, /is not a list: reference/);
  assert.equal(fe({ items: [1], concurrency: 0 }).path, 'tasks[5].for_each.concurrency');
  assert.equal(fe('all').path, 'tasks[5].for_each');
  assert.deepEqual(checkPipeline(withTask(5, { for_each: { items: '{{ parameters.lrs }}' } })), []);
});

test('for_each limits: a literal list over 1,024 items, a grid whose product is over 1,024, empty or malformed grids', () => {
  const fe = (for_each: unknown): PipelineProblem => only(withTask(5, { for_each }));
  assert.deepEqual(checkPipeline(withTask(5, { for_each: { items: new Array(1024).fill(0) } })), []);
  assert.deepEqual(fe({ items: new Array(1025).fill(0) }), { task: 'lit', path: 'tasks[5].for_each.items', message: 'for_each over 1025 items, more than 1024' });
  const axis = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  assert.deepEqual(checkPipeline(withTask(5, { for_each: { grid: { a: axis(32), b: axis(32) } }, parameters: {} })), []);
  assert.deepEqual(fe({ grid: { a: axis(33), b: axis(32) } }), { task: 'lit', path: 'tasks[5].for_each.grid', message: 'the grid has 1056 items (33 × 32), more than 1024' });
  assert.deepEqual(fe({ grid: {} }).path, 'tasks[5].for_each.grid');
  assert.deepEqual(fe({ grid: { a: 3 } }), { task: 'lit', path: 'tasks[5].for_each.grid.a', message: "grid key 'a' must have a list of values" });
  assert.deepEqual(fe({ grid: { 'a b': [] } }), { task: 'lit', path: 'tasks[5].for_each.grid["a b"]', message: "grid key 'a b' has no values" });
});

test('every problem is reported at once, in order, not only the first', () => {
  const problems = checkPipeline({
    name: '',
    tasks: [
      { key: 'a', notebook: 'n', run_if: 'never', depends_on: ['zz'] },
      { key: 'a', notebook: '', parameters: { x: '{{parameters.p}}' } },
    ],
  });
  assert.deepEqual(
    problems.map((p) => p.path),
    ['name', 'tasks[1].key', 'tasks[0].depends_on[0]', 'tasks[0].run_if', 'tasks[1].notebook', 'tasks[1].parameters.x'],
  );
});
