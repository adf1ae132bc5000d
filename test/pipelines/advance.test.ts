import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyFloat } from '../../src/notebook/py-float.js';
import { advance, runIfDecision } from '../../src/pipelines/advance.js';
import type { TaskStatus } from '../../src/pipelines/types.js';
import { end, jobOf, run, sim, starts, statuses, step, task, T0 } from './harness.js';

const BIG = 2n ** 63n + 1n;

test('a running run with nothing started starts its roots, then each task once its upstream succeeded', () => {
  const s = sim(run([task('a'), task('b'), task('c', { depends_on: ['a', 'b'] })]));
  const first = starts(step(s));
  assert.deepEqual(first.map((a) => [a.task_key, a.item_index, a.attempt, a.not_before_ms]), [['a', null, 1, null], ['b', null, 1, null]]);
  assert.deepEqual(statuses(s), { a: 'running', b: 'running', c: 'pending' });
  assert.equal(s.view.tasks.a!.started_at_ms, T0);
  assert.deepEqual(starts(end(s, jobOf(s, 'a'), 'succeeded')), []);
  assert.deepEqual(statuses(s), { a: 'succeeded', b: 'running', c: 'pending' });
  assert.deepEqual(starts(end(s, jobOf(s, 'b'), 'succeeded')).map((a) => a.task_key), ['c']);
  const last = end(s, jobOf(s, 'c'), 'succeeded');
  assert.deepEqual(last.at(-1), { kind: 'set_run', status: 'succeeded', finished_at_ms: T0 });
  assert.equal(s.view.status, 'succeeded');
  assert.deepEqual(advance(s.view, T0 + 1), []);
});

test('typed values pass from a result to a dependent: PyFloat 1.0, bigint 2**63+1, a list, an object; text interpolation', () => {
  const s = sim(
    run([
      task('train'),
      task('report', {
        depends_on: ['train'],
        parameters: {
          score: '{{tasks.train.result.score}}',
          n: '{{ tasks.train.result.n }}',
          curve: '{{tasks.train.result.curve}}',
          meta: '{{tasks.train.result.meta}}',
          title: 'score {{tasks.train.result.score}} of {{tasks.train.result.n}} in run {{run.id}}',
        },
      }),
    ]),
  );
  step(s);
  const result = { score: new PyFloat(1), n: BIG, curve: [new PyFloat(0.5), 1, 'x'], meta: { a: [true, null], b: 'c' } };
  const [start] = starts(end(s, jobOf(s, 'train'), 'succeeded', result));
  assert.ok(start);
  assert.deepEqual(start.parameters, { ...result, title: `score 1.0 of ${BIG} in run run-1` });
  assert.ok(start.parameters.score instanceof PyFloat);
  assert.deepEqual(s.view.tasks.train!.result, result);
});

test('pipeline parameters reach only the notebooks that declare them; the task\'s own value and the run\'s override', () => {
  const s = sim(
    run(
      [
        task('declares', { declared_parameters: ['dataset', 'seed'] }),
        task('silent', { declared_parameters: [] }),
        task('sets', { declared_parameters: ['dataset'], parameters: { dataset: 'own.csv' } }),
      ],
      { parameters: { dataset: 'run.csv' } },
    ),
  );
  s.view.plan.parameters = { dataset: 'default.csv', seed: 7, unused: 1 };
  const by = Object.fromEntries(starts(step(s)).map((a) => [a.task_key, a.parameters]));
  assert.deepEqual(by, { declares: { dataset: 'run.csv', seed: 7 }, silent: {}, sets: { dataset: 'own.csv' } });
});

test('{{parameters.x}} and {{run.scheduled_for}} resolve from the run (the cron time, else the start)', () => {
  const tasks = () => [task('a', { parameters: { lr: '{{parameters.lr}}', at: '{{run.scheduled_for}}' } })];
  const plain = sim(run(tasks(), { parameters: { lr: new PyFloat(2) } }));
  assert.deepEqual(starts(step(plain))[0]!.parameters, { lr: new PyFloat(2), at: '2026-12-05T12:00:00.000Z' });
  const cron = sim(run(tasks(), { parameters: { lr: 1 }, scheduled_for_ms: Date.parse('2026-12-05T11:30:00Z') }));
  assert.deepEqual(starts(step(cron))[0]!.parameters, { lr: 1, at: '2026-12-05T11:30:00.000Z' });
});

test('a missing reference fails the task before it starts, naming the reference; no job, never None', () => {
  const s = sim(run([task('a'), task('b', { depends_on: ['a'], parameters: { x: 'v={{tasks.a.result.missing}}' } }), task('c', { depends_on: ['b'] })]));
  step(s);
  const actions = end(s, jobOf(s, 'a'), 'succeeded', { other: 1 });
  assert.deepEqual(starts(actions), []);
  assert.equal(s.view.jobs.filter((j) => j.task_key === 'b').length, 0);
  assert.equal(s.view.tasks.b!.status, 'failed');
  assert.equal(s.view.tasks.b!.error, "{{tasks.a.result.missing}}: task 'a' recorded no result 'missing'");
  assert.equal(s.view.tasks.c!.status, 'upstream_failed');
  assert.equal(s.view.status, 'failed');
});

test('runIfDecision: each rule over each kind of upstream end', () => {
  const cases: [Parameters<typeof runIfDecision>[0], TaskStatus[], string][] = [
    ['all_succeeded', [], 'run'],
    ['all_succeeded', ['succeeded', 'succeeded'], 'run'],
    ['all_succeeded', ['succeeded', 'failed'], 'upstream_failed'],
    ['all_succeeded', ['succeeded', 'skipped'], 'skipped'],
    ['all_succeeded', ['skipped', 'upstream_failed'], 'upstream_failed'],
    ['all_succeeded', ['cancelled'], 'upstream_failed'],
    ['all_done', ['failed', 'skipped', 'upstream_failed'], 'run'],
    ['any_failed', ['succeeded', 'timed_out'], 'run'],
    ['any_failed', ['upstream_failed'], 'run'],
    ['any_failed', ['cancelled'], 'run'],
    ['any_failed', ['succeeded', 'skipped'], 'skipped'],
    ['any_failed', [], 'skipped'],
    ['none_failed', ['succeeded', 'skipped'], 'run'],
    ['none_failed', ['skipped'], 'run'],
    ['none_failed', ['succeeded', 'failed'], 'upstream_failed'],
  ];
  for (const [rule, upstream, want] of cases) assert.equal(runIfDecision(rule, upstream), want, `${rule} over ${upstream.join(',')}`);
});

test('run_if in a run where the upstream fails: all_succeeded and none_failed end upstream_failed, all_done and any_failed run', () => {
  const s = sim(
    run([
      task('a'),
      task('strict', { depends_on: ['a'] }),
      task('always', { depends_on: ['a'], run_if: 'all_done' }),
      task('alert', { depends_on: ['a'], run_if: 'any_failed' }),
      task('tolerant', { depends_on: ['a'], run_if: 'none_failed' }),
    ]),
  );
  step(s);
  const next = starts(end(s, jobOf(s, 'a'), 'failed'));
  assert.deepEqual(next.map((a) => a.task_key).sort(), ['alert', 'always']);
  assert.deepEqual(statuses(s), { a: 'failed', strict: 'upstream_failed', always: 'running', alert: 'running', tolerant: 'upstream_failed' });
  end(s, jobOf(s, 'always'), 'succeeded');
  end(s, jobOf(s, 'alert'), 'succeeded');
  assert.equal(s.view.status, 'failed', 'leaves strict and tolerant are upstream_failed');
});

test('run_if in a run where the upstream succeeds: any_failed is skipped, and a skip runs down as the rules say', () => {
  const s = sim(
    run([
      task('a'),
      task('alert', { depends_on: ['a'], run_if: 'any_failed' }),
      task('after_alert', { depends_on: ['alert'] }),
      task('tolerant', { depends_on: ['alert', 'a'], run_if: 'none_failed' }),
      task('mixed', { depends_on: ['after_alert', 'tolerant'] }),
    ]),
  );
  step(s);
  const next = starts(end(s, jobOf(s, 'a'), 'succeeded'));
  assert.deepEqual(next.map((a) => a.task_key), ['tolerant']);
  assert.deepEqual(statuses(s), { a: 'succeeded', alert: 'skipped', after_alert: 'skipped', tolerant: 'running', mixed: 'pending' });
  end(s, jobOf(s, 'tolerant'), 'succeeded');
  assert.deepEqual(statuses(s), { a: 'succeeded', alert: 'skipped', after_alert: 'skipped', tolerant: 'succeeded', mixed: 'skipped' });
  assert.equal(s.view.status, 'succeeded', 'a skipped leaf is no failure');
});

test('the run follows its leaves: a failure handled by an any_failed leaf leaves the run succeeded', () => {
  const s = sim(run([task('a'), task('cleanup', { depends_on: ['a'], run_if: 'any_failed' })]));
  step(s);
  end(s, jobOf(s, 'a'), 'failed');
  assert.equal(s.view.status, 'running');
  end(s, jobOf(s, 'cleanup'), 'succeeded');
  assert.equal(s.view.status, 'succeeded');
});

test('a timed-out job times the task out; its dependents are upstream_failed and the run fails', () => {
  const s = sim(run([task('a'), task('b', { depends_on: ['a'] })]));
  step(s);
  end(s, jobOf(s, 'a'), 'timed_out');
  assert.deepEqual(statuses(s), { a: 'timed_out', b: 'upstream_failed' });
  assert.equal(s.view.status, 'failed');
  assert.equal(s.view.tasks.a!.result, null);
});

test('a leaf whose job was cancelled by hand ends the run cancelled; a job without glue gives an empty result', () => {
  const s = sim(run([task('a'), task('b')]));
  step(s);
  end(s, jobOf(s, 'a'), 'succeeded', null);
  assert.deepEqual(s.view.tasks.a!.result, {});
  end(s, jobOf(s, 'b'), 'cancelled');
  assert.deepEqual(statuses(s), { a: 'succeeded', b: 'cancelled' });
  assert.equal(s.view.status, 'cancelled');
});

test('queued and finished runs do not advance; a task state missing from the view counts as pending', () => {
  const tasks = [task('a')];
  assert.deepEqual(advance(run(tasks, { status: 'queued' }), T0), []);
  for (const status of ['succeeded', 'failed', 'cancelled'] as const) assert.deepEqual(advance(run(tasks, { status }), T0), []);
  const acts = advance(run(tasks), T0);
  assert.deepEqual(acts.map((a) => a.kind), ['start_job', 'set_task']);
});

test('the store may apply actions in order: a set_task follows the start_jobs of its task', () => {
  const acts = advance(run([task('a'), task('b')]), T0);
  assert.deepEqual(acts.map((a) => (a.kind === 'start_job' ? `start ${a.task_key}` : a.kind === 'set_task' ? `set ${a.state.key} ${a.state.status}` : a.kind)), [
    'start a',
    'set a running',
    'start b',
    'set b running',
  ]);
});
