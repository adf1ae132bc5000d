import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRepair, type RepairChoice, type RepairPlan } from '../../src/pipelines/repair.js';
import { RepairTargetError } from '../../src/pipelines/pipeline-errors.js';
import { taskItems } from '../../src/pipelines/items.js';
import { end, jobOf, run, sim, starts, statuses, step, task, type Sim } from './harness.js';

/** What the store does on repair: write the new task states, run again, advance. */
function repair(s: Sim, choice: RepairChoice = {}): { plan: RepairPlan; started: ReturnType<typeof starts> } {
  const plan = planRepair(s.view, choice);
  for (const st of plan.tasks) s.view.tasks[st.key] = st;
  s.view.status = 'running';
  s.view.cancel_requested = false;
  return { plan, started: starts(step(s)) };
}

function jobsOf(s: Sim, key: string): string[] {
  return s.view.jobs.filter((j) => j.task_key === key).map((j) => `${j.item_index}#${j.attempt}:${j.status}`);
}

test('repair of one task re-runs it and its downstream only; succeeded upstream and unrelated tasks keep their jobs', () => {
  const s = sim(run([task('a'), task('b', { depends_on: ['a'], parameters: { x: '{{tasks.a.result.x}}' } }), task('c', { depends_on: ['b'] }), task('d')]));
  step(s);
  end(s, jobOf(s, 'a'), 'succeeded', { x: 5 });
  end(s, jobOf(s, 'd'), 'succeeded', { y: 1 });
  end(s, jobOf(s, 'b'), 'failed');
  assert.deepEqual(statuses(s), { a: 'succeeded', b: 'failed', c: 'upstream_failed', d: 'succeeded' });
  assert.equal(s.view.status, 'failed');

  const { plan, started } = repair(s);
  assert.deepEqual(plan.tasks_rerun, ['b', 'c']);
  assert.deepEqual(plan.items_rerun, {});
  assert.deepEqual(started.map((a) => [a.task_key, a.attempt, a.parameters]), [['b', 2, { x: 5 }]]);
  end(s, jobOf(s, 'b'), 'succeeded');
  assert.deepEqual(starts(end(s, jobOf(s, 'c'), 'succeeded')), []);
  assert.equal(s.view.status, 'succeeded');
  assert.deepEqual(jobsOf(s, 'a'), ['null#1:succeeded']);
  assert.deepEqual(jobsOf(s, 'd'), ['null#1:succeeded']);
  assert.deepEqual(jobsOf(s, 'b'), ['null#1:failed', 'null#2:succeeded']);
  assert.deepEqual(s.view.tasks.a!.result, { x: 5 });
});

test('repair of one item re-runs that item only, not its siblings nor anything upstream; downstream re-runs', () => {
  const s = sim(run([task('extract'), task('fan', { depends_on: ['extract'], for_each: { items: [0, 1, 2, 3, 4] } }), task('report', { depends_on: ['fan'], parameters: { v: '{{tasks.fan.result.v}}' } })]));
  step(s);
  end(s, jobOf(s, 'extract'), 'succeeded');
  for (const i of [0, 1, 2, 4]) end(s, jobOf(s, 'fan', i), 'succeeded', { v: i * 10 });
  end(s, jobOf(s, 'fan', 3), 'failed');
  assert.deepEqual(statuses(s), { extract: 'succeeded', fan: 'failed', report: 'upstream_failed' });

  const { plan, started } = repair(s);
  assert.deepEqual(plan.items_rerun, { fan: [3] });
  assert.deepEqual(plan.tasks_rerun, ['report']);
  assert.deepEqual(started.map((a) => [a.task_key, a.item_index, a.attempt, a.item]), [['fan', 3, 2, 3]]);
  assert.equal(s.view.tasks.fan!.items_done, 4, 'the kept items count as done');
  const [rep] = starts(end(s, jobOf(s, 'fan', 3), 'succeeded', { v: 30 }));
  assert.deepEqual(rep!.parameters, { v: [0, 10, 20, 30, 40] });
  end(s, jobOf(s, 'report'), 'succeeded');
  assert.equal(s.view.status, 'succeeded');
  assert.deepEqual(jobsOf(s, 'extract'), ['null#1:succeeded']);
  assert.deepEqual(jobsOf(s, 'fan'), ['0#1:succeeded', '1#1:succeeded', '2#1:succeeded', '3#1:failed', '4#1:succeeded', '3#2:succeeded']);
});

test('an explicit item of a succeeded run re-runs alone (the siblings keep their jobs) with fresh retries', () => {
  const s = sim(run([task('fan', { max_retries: 1, retry_backoff_s: 0, for_each: { items: ['a', 'b', 'c'] } })]));
  step(s);
  for (const i of [0, 1, 2]) end(s, jobOf(s, 'fan', i), 'succeeded', { i });
  assert.equal(s.view.status, 'succeeded');
  const { plan, started } = repair(s, { items: { fan: [1] } });
  assert.deepEqual(plan.items_rerun, { fan: [1] });
  assert.deepEqual(plan.tasks[0]!.attempt_base, { '1': 2 });
  assert.deepEqual(started.map((a) => [a.item_index, a.attempt]), [[1, 2]]);
  const [retry] = starts(end(s, jobOf(s, 'fan', 1), 'failed'));
  assert.deepEqual([retry!.item_index, retry!.attempt], [1, 3], 'a repaired item gets its retries again');
  end(s, jobOf(s, 'fan', 1), 'succeeded', { i: 'again' });
  assert.deepEqual(s.view.tasks.fan!.result, { i: [0, 'again', 2] });
  assert.equal(s.view.status, 'succeeded');
});

test('an explicit task re-runs wholly: every item again, its items resolved again from the upstream', () => {
  const s = sim(run([task('src'), task('fan', { depends_on: ['src'], for_each: { items: '{{tasks.src.result.list}}' } })]));
  step(s);
  end(s, jobOf(s, 'src'), 'succeeded', { list: [1, 2] });
  end(s, jobOf(s, 'fan', 0), 'succeeded');
  end(s, jobOf(s, 'fan', 1), 'succeeded');
  const { plan, started } = repair(s, { tasks: ['src'] });
  assert.deepEqual(plan.tasks_rerun, ['src', 'fan']);
  assert.deepEqual(started.map((a) => [a.task_key, a.attempt]), [['src', 2]]);
  const fan = starts(end(s, jobOf(s, 'src'), 'succeeded', { list: [7, 8, 9] }));
  assert.deepEqual(fan.map((a) => [a.item_index, a.attempt, a.item]), [[0, 2, 7], [1, 2, 8], [2, 1, 9]]);
});

test('a task given both whole and by items re-runs wholly; a downstream task chosen by items re-runs wholly', () => {
  const s = sim(run([task('up', { for_each: { items: [1, 2] } }), task('down', { depends_on: ['up'], for_each: { items: [1, 2] } })]));
  step(s);
  for (const i of [0, 1]) end(s, jobOf(s, 'up', i), 'succeeded');
  for (const i of [0, 1]) end(s, jobOf(s, 'down', i), 'succeeded');
  const both = planRepair(s.view, { tasks: ['up'], items: { up: [0], down: [1] } });
  assert.deepEqual([both.tasks_rerun, both.items_rerun], [['up', 'down'], {}]);
  const items = planRepair(s.view, { items: { up: [0], down: [1] } });
  assert.deepEqual([items.tasks_rerun, items.items_rerun], [['down'], { up: [0] }]);
});

test('the default repair of a cancelled run re-runs what did not succeed, unstarted items included', () => {
  const s = sim(run([task('fan', { for_each: { items: [1, 2, 3, 4], concurrency: 2 } }), task('z', { depends_on: ['fan'] })]));
  step(s);
  end(s, jobOf(s, 'fan', 0), 'succeeded');
  s.view.cancel_requested = true;
  step(s);
  assert.equal(s.view.status, 'cancelled');
  const { plan, started } = repair(s);
  assert.deepEqual(plan.items_rerun, { fan: [1, 2, 3] });
  assert.deepEqual(plan.tasks_rerun, ['z']);
  assert.deepEqual(started.map((a) => [a.item_index, a.attempt]), [[1, 2], [2, 2]], 'item 2 had started before the cancel');
});

test('nothing to repair in a succeeded run gives an empty plan', () => {
  const s = sim(run([task('a')]));
  step(s);
  end(s, jobOf(s, 'a'), 'succeeded');
  assert.deepEqual(planRepair(s.view), { tasks: [], tasks_rerun: [], items_rerun: {} });
});

test('unknown keys, items of a task without for_each, out-of-range or unresolved items are typed 422 errors', () => {
  const s = sim(run([task('a'), task('fan', { depends_on: ['a'], for_each: { items: [1, 2] } }), task('late', { depends_on: ['a'], for_each: { items: [1] } })]));
  step(s);
  end(s, jobOf(s, 'a'), 'failed');
  const refused = (choice: RepairChoice, message: RegExp): void => {
    assert.throws(
      () => planRepair(s.view, choice),
      (e: unknown) => e instanceof RepairTargetError && e.httpStatus === 422 && message.test(e.message),
    );
  };
  refused({ tasks: ['nope'] }, /unknown task 'nope': the run has 'a', 'fan', 'late'/);
  refused({ items: { nope: [0] } }, /unknown task 'nope'/);
  refused({ items: { a: [0] } }, /task 'a' has no for_each/);
  refused({ items: { late: [0] } }, /never resolved its items/);
  s.view.tasks.fan = { ...s.view.tasks.fan!, items: [1, 2], items_total: 2 };
  refused({ items: { fan: [2] } }, /task 'fan' has no item 2: its items are 0 to 1/);
  refused({ items: { fan: [-1] } }, /has no item -1/);
  refused({ items: { fan: [0.5] } }, /has no item 0.5/);
});

test('taskItems shows each item as the advance reads it: kept, re-run and history jobs after a repair', () => {
  const s = sim(run([task('fan', { for_each: { items: ['x', 'y', 'z'], concurrency: 2 } }), task('one')]));
  step(s);
  assert.deepEqual(taskItems(s.view, 'fan').map((i) => [i.index, i.item, i.status]), [[0, 'x', 'queued'], [1, 'y', 'queued'], [2, 'z', 'pending']]);
  end(s, jobOf(s, 'fan', 0), 'succeeded');
  end(s, jobOf(s, 'fan', 1), 'failed');
  jobOf(s, 'fan', 2).status = 'running';
  assert.deepEqual(taskItems(s.view, 'fan').map((i) => i.status), ['succeeded', 'failed', 'running']);
  end(s, jobOf(s, 'fan', 2), 'succeeded');
  end(s, jobOf(s, 'one'), 'succeeded');
  repair(s);
  const rows = taskItems(s.view, 'fan');
  assert.deepEqual(rows.map((i) => [i.status, i.job?.attempt ?? null, i.jobs.length]), [['succeeded', 1, 1], ['queued', 2, 2], ['succeeded', 1, 1]]);
  assert.deepEqual(taskItems(s.view, 'one').map((i) => [i.index, i.status]), [[null, 'succeeded']]);
  assert.deepEqual(taskItems(s.view, 'nope'), []);
});
