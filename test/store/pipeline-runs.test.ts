/**
 * Pipeline runs advancing in the store, on SQLite and PostgreSQL alike: the
 * graph's order, for_each concurrency seen through claims, typed results
 * passed along, max_concurrent_runs, the pipeline's own record. Jobs are
 * driven through claimNext / markFinished (no notebook runs).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PyFloat } from '../../src/notebook/py-float.js';
import { NotFoundError } from '../../src/errors.js';
import type { Job } from '../../src/store/job-store.js';
import { BACKENDS, claimAll, finish, jobsOfRun, keysOf, newPipeline, plan, task } from './pipeline-fixtures.js';

/** A clock that moves 1 ms per reading: things created one after the other sort so. */
function ticking(): () => number {
  let t = 1_700_000_000_000;
  return () => t++;
}

for (const backend of BACKENDS) {
  describe(`${backend.name}: pipeline runs advance in the store`, () => {
    test('a pipeline is stored exactly (a PyFloat stays a float, a big integer keeps its digits), listed, edited and deleted', async (t) => {
      const { pipelines } = await backend.open(t, { now: ticking() });
      const big = 2n ** 63n + 1n;
      const p1 = plan([task('a')], { f: new PyFloat(1), big, l: [1, 'x', null] });
      const created = await pipelines.createPipeline(newPipeline(p1, { name: 'first', notify: { webhook_url: 'http://hook' } }));
      assert.match(created.id, /^pl_/);
      const got = await pipelines.getPipeline(created.id);
      assert.ok(got);
      const f = got.parameters?.f;
      assert.ok(f instanceof PyFloat && f.value === 1);
      assert.equal(got.plan.parameters.big, big);
      assert.deepEqual(got.plan.parameters.l, [1, 'x', null]);
      assert.equal(got.max_concurrent_runs, 1);
      assert.deepEqual(got.notify, { webhook_url: 'http://hook' });
      assert.equal(got.owner, 'alice');
      const second = await pipelines.createPipeline(newPipeline(plan([task('b')]), { name: 'second', owner: 'bob', created_by: 'admin' }));
      const all = await pipelines.listPipelines({ limit: 1 });
      assert.deepEqual(all.pipelines.map((p) => p.id), [second.id]);
      const rest = await pipelines.listPipelines({ limit: 1, cursor: all.next_cursor! });
      assert.deepEqual(rest.pipelines.map((p) => p.id), [created.id]);
      assert.deepEqual((await pipelines.listPipelines({ limit: 10, owner: 'bob' })).pipelines.map((p) => p.name), ['second']);
      const p2 = plan([task('a'), task('z', { depends_on: ['a'] })]);
      const edited = await pipelines.updatePipeline(created.id, { name: 'renamed', tasks: p2.tasks, plan: p2, max_concurrent_runs: 3 });
      assert.equal(edited?.name, 'renamed');
      assert.equal(edited?.max_concurrent_runs, 3);
      assert.deepEqual(edited?.plan.tasks.map((x) => x.key), ['a', 'z']);
      assert.equal(await pipelines.updatePipeline('pl_nope', { name: 'x', tasks: [], plan: p2 }), null);
      assert.equal(await pipelines.deletePipeline(created.id), true);
      assert.equal(await pipelines.deletePipeline(created.id), false);
      assert.equal(await pipelines.getPipeline(created.id), null);
      await assert.rejects(pipelines.createRun({ pipeline_id: created.id, parameters: {}, submitted_by: 'alice' }), NotFoundError);
    });

    test('tasks start in the order of the graph: a, then b and c together, then d once both ended', async (t) => {
      const { jobs, pipelines } = await backend.open(t, { now: ticking() });
      const p = await pipelines.createPipeline(
        newPipeline(plan([task('a'), task('b', { depends_on: ['a'] }), task('c', { depends_on: ['a'] }), task('d', { depends_on: ['b', 'c'] })])),
      );
      const run = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'carol' });
      assert.equal(run.status, 'running');
      assert.ok(run.started_at_ms !== null);
      assert.deepEqual(run.tasks.map((x) => [x.key, x.status]), [['a', 'running'], ['b', 'pending'], ['c', 'pending'], ['d', 'pending']]);
      const [a, ...none] = await claimAll(jobs);
      assert.deepEqual(none, []);
      assert.equal(a!.task_key, 'a');
      assert.equal(a!.pipeline_id, p.id);
      assert.equal(a!.pipeline_run_id, run.id);
      assert.equal(a!.item_index, null);
      assert.equal(a!.attempt, 1);
      assert.equal(a!.source, 'pipeline');
      assert.equal(a!.username, 'alice');
      assert.equal(a!.submitted_by, 'carol');
      assert.equal(a!.notebook, 'a.ipynb');
      assert.equal(a!.kernel_language, 'python');
      await finish(jobs, a!);
      const bc = await claimAll(jobs);
      assert.deepEqual(keysOf(bc), ['b', 'c']);
      await finish(jobs, bc[0]!);
      assert.deepEqual(await claimAll(jobs), [], 'd waits for both of its upstream tasks');
      await finish(jobs, bc[1]!);
      const [d] = await claimAll(jobs);
      assert.equal(d?.task_key, 'd');
      await finish(jobs, d!);
      const done = await pipelines.getRun(run.id);
      assert.equal(done?.status, 'succeeded');
      assert.ok(done!.finished_at_ms !== null);
      assert.deepEqual(done!.tasks.map((x) => x.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
      assert.deepEqual(keysOf(await jobsOfRun(jobs, run.id)), ['a', 'b', 'c', 'd']);
      assert.deepEqual((await jobs.list({ pipeline_run_id: 'plr_other', limit: 10 })).jobs, []);
    });

    test('a for_each runs at most `concurrency` items at once, and its result downstream is the items\' values in item order', async (t) => {
      const { jobs, pipelines } = await backend.open(t, { now: ticking() });
      const fan = task('fan', { for_each: { items: [10, 20, 30, 40, 50], concurrency: 2 }, parameters: { x: '{{item}}' } });
      const p = await pipelines.createPipeline(newPipeline(plan([fan, task('sum', { depends_on: ['fan'], parameters: { xs: '{{tasks.fan.result.y}}' } })])));
      const run = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      let running = await claimAll(jobs);
      assert.deepEqual(keysOf(running), ['fan[0]', 'fan[1]']);
      assert.deepEqual(running.map((j) => j.item), [10, 20]);
      assert.deepEqual(running.map((j) => j.parameters.x), [10, 20]);
      let most = running.length;
      const ended: number[] = [];
      const after: Job[] = [];
      while (running.length > 0) {
        // Items end out of order: the newest first.
        const j = running.pop()!;
        await finish(jobs, j, 'succeeded', { y: (j.item as number) * 2 });
        ended.push(j.item_index!);
        for (const x of await claimAll(jobs)) (x.task_key === 'fan' ? running : after).push(x);
        most = Math.max(most, running.length);
        const mid = await pipelines.getRun(run.id);
        assert.equal(mid!.tasks[0]!.items_done, ended.length);
      }
      assert.equal(most, 2);
      assert.deepEqual([...ended].sort(), [0, 1, 2, 3, 4]);
      const fanState = (await pipelines.getRun(run.id))!.tasks[0]!;
      assert.equal(fanState.items_total, 5);
      assert.deepEqual(fanState.items, [10, 20, 30, 40, 50]);
      const [sum, ...more] = after;
      assert.deepEqual(more, []);
      assert.equal(sum?.task_key, 'sum');
      assert.deepEqual(sum!.parameters.xs, [20, 40, 60, 80, 100]);
    });

    test('typed results pass along exactly: 1.0 stays a float, 2**63+1 keeps every digit, lists and objects stay so', async (t) => {
      const { jobs, pipelines } = await backend.open(t, { now: ticking() });
      const big = 2n ** 63n + 1n;
      const p = await pipelines.createPipeline(
        newPipeline(
          plan(
            [
              task('a', { declared_parameters: ['lr'] }),
              task('b', {
                depends_on: ['a'],
                declared_parameters: ['lr', 'n'],
                parameters: { f: '{{tasks.a.result.f}}', big: '{{tasks.a.result.big}}', obj: '{{tasks.a.result.obj}}', text: 'f={{tasks.a.result.f}}' },
              }),
            ],
            { lr: new PyFloat(0.5), n: 3 },
          ),
        ),
      );
      const run = await pipelines.createRun({ pipeline_id: p.id, parameters: { n: big }, submitted_by: 'alice' });
      assert.equal(run.parameters.n, big, 'the run\'s parameters override the defaults');
      assert.ok(run.parameters.lr instanceof PyFloat);
      const [a] = await claimAll(jobs);
      assert.deepEqual(Object.keys(a!.parameters), ['lr'], 'only what the notebook declares is pushed down');
      await finish(jobs, a!, 'succeeded', { f: new PyFloat(1), big, obj: { l: [1, new PyFloat(2)] } });
      const [b] = await claimAll(jobs);
      const f = b!.parameters.f;
      assert.ok(f instanceof PyFloat && f.value === 1, `1.0 arrives as a float: ${String(f)}`);
      assert.equal(b!.parameters.big, big);
      assert.equal(b!.parameters.n, big);
      const obj = b!.parameters.obj as { l: unknown[] };
      assert.equal(obj.l[0], 1);
      assert.ok(obj.l[1] instanceof PyFloat);
      assert.equal(typeof b!.parameters.text, 'string');
      const state = (await pipelines.getRun(run.id))!.tasks[0]!;
      assert.equal(state.result?.big, big);
    });

    test('max_concurrent_runs: a second run waits queued and starts when the first ends', async (t) => {
      const { jobs, pipelines } = await backend.open(t, { now: ticking() });
      const p = await pipelines.createPipeline(newPipeline(plan([task('a')]), { max_concurrent_runs: 1 }));
      const r1 = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      const r2 = await pipelines.createRun({ pipeline_id: p.id, parameters: { k: 2 }, submitted_by: 'alice' });
      assert.equal(r1.status, 'running');
      assert.equal(r2.status, 'queued');
      assert.equal(r2.started_at_ms, null);
      const first = await claimAll(jobs);
      assert.deepEqual(first.map((j) => j.pipeline_run_id), [r1.id], 'the queued run starts nothing');
      const listed = await pipelines.listRuns(p.id, { limit: 10 });
      assert.deepEqual(listed.runs.map((r) => r.id), [r2.id, r1.id], 'newest first');
      await finish(jobs, first[0]!);
      assert.equal((await pipelines.getRun(r1.id))?.status, 'succeeded');
      assert.equal((await pipelines.getRun(r2.id))?.status, 'running');
      const second = await claimAll(jobs);
      assert.deepEqual(second.map((j) => j.pipeline_run_id), [r2.id]);
      // A larger limit lets a waiting run start at once.
      const r3 = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      assert.equal(r3.status, 'queued');
      await pipelines.updatePipeline(p.id, { name: p.name, tasks: p.tasks, plan: p.plan, max_concurrent_runs: 2 });
      assert.equal((await pipelines.getRun(r3.id))?.status, 'running');
    });

    test("each run's end is taken once for its notification, and again after a repair ends it again", async (t) => {
      const { jobs, pipelines } = await backend.open(t, { now: ticking() });
      const p = await pipelines.createPipeline(newPipeline(plan([task('a')]), { max_concurrent_runs: 2 }));
      const r1 = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      const r2 = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      assert.deepEqual(await pipelines.takeEndedRuns!(10), []);
      const [j1, j2] = await claimAll(jobs);
      await finish(jobs, j2!, 'failed');
      await finish(jobs, j1!);
      const ended = await pipelines.takeEndedRuns!(10);
      assert.deepEqual(ended.map((r) => [r.id, r.status]), [[r2.id, 'failed'], [r1.id, 'succeeded']], 'oldest end first');
      assert.deepEqual(await pipelines.takeEndedRuns!(10), []);
      await pipelines.repairRun(r2.id, { by: 'alice' });
      assert.deepEqual(await pipelines.takeEndedRuns!(10), [], 'a run repaired is not ended');
      await finish(jobs, (await claimAll(jobs))[0]!);
      assert.deepEqual((await pipelines.takeEndedRuns!(10)).map((r) => [r.id, r.status]), [[r2.id, 'succeeded']]);
    });

    test('a run of a schedule\'s fire time is created once, however often the fire is carried out', async (t) => {
      const { pipelines } = await backend.open(t, { now: ticking() });
      const p = await pipelines.createPipeline(newPipeline(plan([task('a')]), { max_concurrent_runs: 5 }));
      const fire = { pipeline_id: p.id, parameters: {}, submitted_by: 'alice', schedule_id: 'sch_1', scheduled_for_ms: 60_000 };
      const a = await pipelines.createRun(fire);
      const b = await pipelines.createRun(fire);
      assert.equal(a.id, b.id);
      assert.equal(a.schedule_id, 'sch_1');
      assert.equal(a.scheduled_for_ms, 60_000);
      assert.notEqual((await pipelines.createRun({ ...fire, scheduled_for_ms: 120_000 })).id, a.id);
    });
  });
}
