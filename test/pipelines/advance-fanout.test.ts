import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyFloat } from '../../src/notebook/py-float.js';
import { advance } from '../../src/pipelines/advance.js';
import { active, end, job, jobOf, run, sim, starts, statuses, step, task, T0 } from './harness.js';

test('a grid task runs one job per item in itertools.product order; grid keys are passed unless the task sets them', () => {
  const s = sim(
    run([
      task('sweep', {
        declared_parameters: ['lr'],
        parameters: { depth: 99, tag: 'lr={{item.lr}}' },
        for_each: { grid: { lr: [new PyFloat(0.1), new PyFloat(0.01)], depth: [2, 4], undeclared: ['u'] } },
      }),
    ]),
  );
  const first = starts(step(s));
  assert.deepEqual(
    first.map((a) => [a.item_index, a.item, a.parameters]),
    [
      [0, { lr: new PyFloat(0.1), depth: 2, undeclared: 'u' }, { lr: new PyFloat(0.1), undeclared: 'u', depth: 99, tag: 'lr=0.1' }],
      [1, { lr: new PyFloat(0.1), depth: 4, undeclared: 'u' }, { lr: new PyFloat(0.1), undeclared: 'u', depth: 99, tag: 'lr=0.1' }],
      [2, { lr: new PyFloat(0.01), depth: 2, undeclared: 'u' }, { lr: new PyFloat(0.01), undeclared: 'u', depth: 99, tag: 'lr=0.01' }],
      [3, { lr: new PyFloat(0.01), depth: 4, undeclared: 'u' }, { lr: new PyFloat(0.01), undeclared: 'u', depth: 99, tag: 'lr=0.01' }],
    ],
  );
  assert.equal(s.view.tasks.sweep!.items_total, 4);
  assert.equal(s.view.tasks.sweep!.items!.length, 4);
});

test('the items of a list are not passed as parameters by themselves (only a grid\'s keys are): {{item}} says where they go', () => {
  const s = sim(run([task('fan', { declared_parameters: ['lr'], for_each: { items: [{ lr: 1 }] } }), task('ref', { for_each: { items: [{ lr: 2 }] }, parameters: { p: '{{item.lr}}' } })]));
  assert.deepEqual(starts(step(s)).map((a) => [a.task_key, a.item, a.parameters]), [['fan', { lr: 1 }, {}], ['ref', { lr: 2 }, { p: 2 }]]);
});

test('at most `concurrency` items are queued or running at once; the result is each name\'s values in item order', () => {
  const s = sim(run([task('fan', { for_each: { items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], concurrency: 3 }, parameters: { x: '{{item}}' } })]));
  assert.deepEqual(starts(step(s)).map((a) => a.item_index), [0, 1, 2]);
  // Finish the newest started first: items end out of order.
  while (active(s).length > 0) {
    const j = active(s).at(-1)!;
    end(s, j, 'succeeded', { score: new PyFloat(j.item_index! / 10), i: j.item_index! });
  }
  assert.equal(s.maxActive.get('fan'), 3);
  assert.equal(s.started.length, 10);
  assert.deepEqual(s.started.map((a) => a.parameters.x).sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const st = s.view.tasks.fan!;
  assert.equal(st.status, 'succeeded');
  assert.equal(st.items_done, 10);
  assert.deepEqual(st.result, { score: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => new PyFloat(i / 10)), i: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
  assert.equal(s.view.status, 'succeeded');
});

test('the plan\'s default concurrency holds when the task sets none; items_done counts ended items', () => {
  const s = sim(run([task('fan', { for_each: { items: ['a', 'b', 'c', 'd', 'e', 'f'] } })]));
  s.view.plan.default_concurrency = 2;
  assert.equal(starts(step(s)).length, 2);
  end(s, jobOf(s, 'fan', 0), 'failed');
  assert.equal(s.view.tasks.fan!.items_done, 1);
  assert.equal(active(s).length, 2);
});

test('one failed item fails the task, but the other items still run to the end', () => {
  const s = sim(run([task('fan', { for_each: { items: [10, 20, 30, 40], concurrency: 2 } }), task('after', { depends_on: ['fan'] })]));
  step(s);
  assert.deepEqual(starts(end(s, jobOf(s, 'fan', 1), 'failed')).map((a) => a.item_index), [2]);
  assert.equal(s.view.tasks.fan!.status, 'running');
  assert.deepEqual(starts(end(s, jobOf(s, 'fan', 0), 'succeeded', { v: 1 })).map((a) => a.item_index), [3]);
  end(s, jobOf(s, 'fan', 2), 'timed_out');
  end(s, jobOf(s, 'fan', 3), 'succeeded', { v: 4 });
  assert.deepEqual(statuses(s), { fan: 'failed', after: 'upstream_failed' });
  assert.equal(s.view.tasks.fan!.error, '2 of 4 items did not succeed: 1 (failed), 2 (timed_out)');
  assert.equal(s.view.tasks.fan!.items_done, 4);
  assert.equal(s.view.tasks.fan!.result, null);
  assert.equal(s.view.status, 'failed');
});

test('dynamic items come from an upstream result when the task becomes ready; a for_each result reaches downstream as lists', () => {
  const s = sim(
    run([
      task('extract'),
      task('train', { depends_on: ['extract'], for_each: { items: '{{tasks.extract.result.files}}' }, parameters: { f: '{{item}}' } }),
      task('report', { depends_on: ['train'], parameters: { scores: '{{tasks.train.result.score}}' } }),
    ]),
  );
  step(s);
  const fan = starts(end(s, jobOf(s, 'extract'), 'succeeded', { files: ['a.csv', 'b.csv'] }));
  assert.deepEqual(fan.map((a) => a.parameters), [{ f: 'a.csv' }, { f: 'b.csv' }]);
  assert.deepEqual(s.view.tasks.train!.items, ['a.csv', 'b.csv']);
  end(s, jobOf(s, 'train', 1), 'succeeded', { score: new PyFloat(0.88), extra: 1 });
  const [report] = starts(end(s, jobOf(s, 'train', 0), 'succeeded', { score: new PyFloat(0.91) }));
  assert.deepEqual(report!.parameters, { scores: [new PyFloat(0.91), new PyFloat(0.88)] });
  assert.deepEqual(s.view.tasks.train!.result, { score: [new PyFloat(0.91), new PyFloat(0.88)] }, 'a name only some items recorded is left out');
});

test('a dynamic list over 1,024 items, or not a list, fails the task with a clear error and starts nothing', () => {
  for (const [files, message] of [
    [Array.from({ length: 1025 }, (_, i) => i), 'for_each {{tasks.extract.result.files}} gave 1025 items, more than 1024'],
    ['one.csv', 'for_each {{tasks.extract.result.files}} is not a list (a string: "one.csv")'],
  ] as const) {
    const s = sim(run([task('extract'), task('train', { depends_on: ['extract'], for_each: { items: '{{tasks.extract.result.files}}' } })]));
    step(s);
    assert.deepEqual(starts(end(s, jobOf(s, 'extract'), 'succeeded', { files: typeof files === 'string' ? files : [...files] })), []);
    assert.equal(s.view.tasks.train!.status, 'failed');
    assert.equal(s.view.tasks.train!.error, message);
    assert.equal(s.view.status, 'failed');
  }
});

test('an empty item list succeeds at once with an empty result', () => {
  const s = sim(run([task('fan', { for_each: { items: [] } }), task('next', { depends_on: ['fan'] })]));
  assert.deepEqual(starts(step(s)).map((a) => a.task_key), ['next']);
  assert.equal(s.view.tasks.fan!.status, 'succeeded');
  assert.deepEqual(s.view.tasks.fan!.result, {});
  assert.equal(s.view.tasks.fan!.items_total, 0);
});

test('retries: a failed or timed-out job starts attempt n+1 after retry_backoff_s × 2^(n−1); then the task fails', () => {
  const s = sim(run([task('a', { max_retries: 2, retry_backoff_s: 10, parameters: { p: 1 } })]));
  step(s);
  s.now = T0 + 5000;
  const [r1] = starts(end(s, jobOf(s, 'a'), 'failed'));
  assert.deepEqual([r1!.attempt, r1!.not_before_ms, r1!.parameters], [2, T0 + 5000 + 10_000, { p: 1 }]);
  assert.equal(s.view.tasks.a!.status, 'running');
  s.now = T0 + 20_000;
  const [r2] = starts(end(s, jobOf(s, 'a'), 'timed_out'));
  assert.deepEqual([r2!.attempt, r2!.not_before_ms], [3, T0 + 20_000 + 20_000]);
  assert.deepEqual(starts(end(s, jobOf(s, 'a'), 'failed')), []);
  assert.equal(s.view.tasks.a!.status, 'failed');
  assert.equal(s.view.status, 'failed');
});

test('retries: a retry that succeeds makes the task succeed; a cancelled job is not retried; a zero backoff starts at once', () => {
  const s = sim(run([task('a', { max_retries: 1, retry_backoff_s: 0 }), task('b', { max_retries: 3 })]));
  step(s);
  const [r] = starts(end(s, jobOf(s, 'a'), 'failed'));
  assert.equal(r!.not_before_ms, null);
  end(s, jobOf(s, 'a'), 'succeeded', { ok: true });
  assert.deepEqual(s.view.tasks.a!.result, { ok: true });
  assert.deepEqual(starts(end(s, jobOf(s, 'b'), 'cancelled')), []);
  assert.deepEqual(statuses(s), { a: 'succeeded', b: 'cancelled' });
});

test('retries of a for_each item count under the concurrency and retry that item only', () => {
  const s = sim(run([task('fan', { max_retries: 1, retry_backoff_s: 1, for_each: { items: [1, 2, 3], concurrency: 2 } })]));
  step(s);
  const retry = starts(end(s, jobOf(s, 'fan', 0), 'failed'));
  assert.deepEqual(retry.map((a) => [a.item_index, a.attempt]), [[0, 2]]);
  assert.equal(active(s).length, 2);
  const next = starts(end(s, jobOf(s, 'fan', 1), 'succeeded'));
  assert.deepEqual(next.map((a) => [a.item_index, a.attempt]), [[2, 1]]);
  assert.equal(s.maxActive.get('fan'), 2);
});

test('cancel: running jobs are asked to stop, queued ones cancelled, nothing new starts; the run ends cancelled once no job runs', () => {
  const s = sim(run([task('a'), task('fan', { depends_on: ['a'], for_each: { items: [1, 2, 3, 4, 5], concurrency: 2 } }), task('z', { depends_on: ['fan'] })]));
  step(s);
  end(s, jobOf(s, 'a'), 'succeeded');
  job(s, jobOf(s, 'fan', 0).id).status = 'running';
  s.view.cancel_requested = true;
  const acts = step(s);
  assert.deepEqual(starts(acts), []);
  assert.deepEqual(acts.filter((a) => a.kind === 'cancel_job').map((a) => (a.kind === 'cancel_job' ? a.job_id : '')), [jobOf(s, 'fan', 0).id, jobOf(s, 'fan', 1).id]);
  assert.equal(jobOf(s, 'fan', 1).status, 'cancelled');
  assert.ok(s.cancelRequested.has(jobOf(s, 'fan', 0).id));
  assert.deepEqual(statuses(s), { a: 'succeeded', fan: 'cancelled', z: 'cancelled' });
  assert.equal(s.view.status, 'running', 'a job still runs');
  end(s, jobOf(s, 'fan', 0), 'cancelled');
  assert.equal(s.view.status, 'cancelled');
  assert.equal(s.started.length, 3);
});

test('cancel with no running job ends the run at once; a queued run is cancelled whole', () => {
  const s = sim(run([task('a', { max_retries: 1 }), task('b', { depends_on: ['a'] })]));
  step(s);
  end(s, jobOf(s, 'a'), 'failed'); // a retry waits, queued
  s.view.cancel_requested = true;
  step(s);
  assert.deepEqual(statuses(s), { a: 'cancelled', b: 'cancelled' });
  assert.equal(s.view.status, 'cancelled');
  const q = sim(run([task('a')], { status: 'queued', cancel_requested: true }));
  const acts = step(q);
  assert.deepEqual(acts.map((a) => a.kind), ['set_task', 'set_run']);
  assert.equal(q.view.status, 'cancelled');
});

test('advance is idempotent on a large fan-out: the second call after applying is empty', () => {
  const s = sim(run([task('fan', { for_each: { grid: { a: Array.from({ length: 32 }, (_, i) => i), b: Array.from({ length: 32 }, (_, i) => i) }, concurrency: 100 } })]));
  assert.equal(starts(step(s)).length, 100);
  for (let n = 0; n < 50; n++) end(s, active(s)[0]!, n % 7 === 0 ? 'failed' : 'succeeded', { n });
  assert.equal(s.maxActive.get('fan'), 100);
  assert.deepEqual(advance(s.view, s.now), []);
});
