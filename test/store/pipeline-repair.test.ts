/**
 * When pipeline runs go wrong, on SQLite and PostgreSQL alike: retries wait
 * their backoff, cancel, repair of one item re-running nothing else, a job
 * whose lease expired failing and its task retrying, a run whose advance was
 * lost carried on by advanceDue, and the unique indexes behind it all.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RunConflictError } from '../../src/store/pipeline-store.js';
import { BACKENDS, claimAll, finish, jobsOfRun, keysOf, newPipeline, plan, task } from './pipeline-fixtures.js';

const T0 = 1_700_000_000_000;

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const backend of BACKENDS) {
  describe(`${backend.name}: pipeline runs that go wrong`, () => {
    test('a failed task retries after its backoff (doubling), not before, and runners are woken when it is due', async (t) => {
      let clock = T0;
      const { jobs, pipelines } = await backend.open(t, { now: () => clock });
      let woke = 0;
      const off = jobs.onJobQueued?.(() => woke++);
      t.after(() => off?.());
      if ('listening' in jobs) await (jobs as { listening(): Promise<void> }).listening();
      const p = await pipelines.createPipeline(newPipeline(plan([task('a', { max_retries: 2, retry_backoff_s: 30 })])));
      const run = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      const [a1] = await claimAll(jobs);
      await finish(jobs, a1!, 'failed');
      await until(() => woke > 0, 5000, 'the retry announced to runners');
      const retry = (await jobsOfRun(jobs, run.id))[1]!;
      assert.equal(retry.status, 'queued');
      assert.equal(retry.attempt, 2);
      assert.equal(retry.not_before_ms, T0 + 30_000);
      clock += 29_999;
      assert.deepEqual(await claimAll(jobs), [], 'not claimed before its backoff ends');
      assert.equal(await jobs.claimNext('w1', { maxRunningPerUser: 5 }), null, 'nor by a claim bounded per user');
      clock += 1;
      const before = woke;
      await pipelines.advanceDue(clock);
      await until(() => woke > before, 5000, 'the wake-up of runners when the retry is due');
      const [a2] = await claimAll(jobs);
      assert.equal(a2?.id, retry.id);
      await finish(jobs, a2!, 'failed');
      const third = (await jobsOfRun(jobs, run.id))[2]!;
      assert.equal(third.attempt, 3);
      assert.equal(third.not_before_ms, clock + 60_000, 'the second retry waits twice as long');
      clock += 60_000;
      const [a3] = await claimAll(jobs);
      await finish(jobs, a3!, 'succeeded');
      assert.equal((await pipelines.getRun(run.id))?.status, 'succeeded');
    });

    test('cancel stops the running job, cancels the queued one, starts nothing new, and the run ends cancelled', async (t) => {
      const { jobs, pipelines } = await backend.open(t);
      const p = await pipelines.createPipeline(
        newPipeline(plan([task('fan', { for_each: { items: [1, 2, 3], concurrency: 2 } }), task('after', { depends_on: ['fan'], run_if: 'all_done' })])),
      );
      const run = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      const j0 = (await jobs.claimNext('w1'))!;
      const cancelling = await pipelines.cancelRun(run.id);
      assert.equal(cancelling?.status, 'running', 'the run ends when its running job has stopped');
      assert.equal(cancelling?.cancel_requested, true);
      const [, j1] = await jobsOfRun(jobs, run.id);
      assert.equal(j1?.status, 'cancelled');
      assert.equal((await jobs.get(j0.id))?.cancel_requested, true);
      assert.deepEqual(await claimAll(jobs), []);
      await finish(jobs, j0, 'cancelled');
      const ended = await pipelines.getRun(run.id);
      assert.equal(ended?.status, 'cancelled');
      assert.deepEqual(ended?.tasks.map((x) => x.status), ['cancelled', 'cancelled']);
      assert.deepEqual(keysOf(await jobsOfRun(jobs, run.id)), ['fan[0]', 'fan[1]']);
      assert.equal((await pipelines.cancelRun(run.id))?.status, 'cancelled', 'cancelling an ended run changes nothing');
      assert.equal(await pipelines.cancelRun('plr_nope'), null);
    });

    test('a queued run is cancelled at once; a task job cancelled through the job store advances its run', async (t) => {
      const { jobs, pipelines } = await backend.open(t);
      const p = await pipelines.createPipeline(
        newPipeline(plan([task('fan', { for_each: { items: [1, 2], concurrency: 2 } }), task('after', { depends_on: ['fan'], run_if: 'all_done' })])),
      );
      const r2 = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      const r3 = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      assert.equal(r3.status, 'queued');
      const cancelled = await pipelines.cancelRun(r3.id);
      assert.equal(cancelled?.status, 'cancelled');
      assert.deepEqual(cancelled?.tasks.map((x) => x.status), ['cancelled', 'cancelled']);
      for (const j of await jobsOfRun(jobs, r2.id)) await jobs.requestCancel(j.id);
      // Both of fan's items cancelled while queued: fan ends cancelled; `after` (all_done) runs.
      const [after] = await claimAll(jobs);
      assert.equal(after?.task_key, 'after');
      assert.equal(after?.pipeline_run_id, r2.id);
    });

    test('repairing one item of a fan-out re-runs that item and what is downstream, nothing else; a running run answers 409', async (t) => {
      const { jobs, pipelines } = await backend.open(t);
      const p = await pipelines.createPipeline(
        newPipeline(plan([task('a'), task('fan', { depends_on: ['a'], for_each: { items: ['x', 'y', 'z'], concurrency: 3 } }), task('report', { depends_on: ['fan'] })])),
      );
      const run = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      await assert.rejects(pipelines.repairRun(run.id, { by: 'alice' }), RunConflictError);
      await finish(jobs, (await claimAll(jobs))[0]!, 'succeeded', { v: 1 });
      for (const j of await claimAll(jobs)) await finish(jobs, j, j.item_index === 1 ? 'failed' : 'succeeded', { v: j.item_index });
      const failed = await pipelines.getRun(run.id);
      assert.equal(failed?.status, 'failed');
      assert.deepEqual(failed?.tasks.map((x) => x.status), ['succeeded', 'failed', 'upstream_failed']);
      assert.equal(await pipelines.repairRun('plr_nope', { by: 'bob' }), null);
      const repaired = await pipelines.repairRun(run.id, { items: { fan: [1] }, by: 'bob' });
      assert.equal(repaired?.id, run.id);
      assert.equal(repaired?.status, 'running');
      assert.equal(repaired?.finished_at_ms, null);
      assert.equal(repaired?.repairs.length, 1);
      assert.equal(repaired?.repairs[0]?.by, 'bob');
      assert.deepEqual(repaired?.repairs[0]?.items, { fan: [1] });
      assert.deepEqual(repaired?.repairs[0]?.tasks, ['report']);
      const again = await claimAll(jobs);
      assert.deepEqual(keysOf(again), ['fan[1]']);
      assert.equal(again[0]!.attempt, 2);
      assert.equal(again[0]!.item, 'y');
      await finish(jobs, again[0]!, 'succeeded', { v: 1 });
      const [report] = await claimAll(jobs);
      assert.equal(report?.task_key, 'report');
      await finish(jobs, report!);
      const done = await pipelines.getRun(run.id);
      assert.equal(done?.status, 'succeeded');
      assert.deepEqual(done?.tasks[1]?.result, { v: [0, 1, 2] }, "the result downstream: every item's value, the repaired one's new one");
      assert.deepEqual(keysOf(await jobsOfRun(jobs, run.id)), ['a', 'fan[0]', 'fan[1]', 'fan[1]', 'fan[2]', 'report']);
    });

    test('a repair without a choice re-runs the failed task and the tasks it held back', async (t) => {
      const { jobs, pipelines } = await backend.open(t);
      const p = await pipelines.createPipeline(newPipeline(plan([task('ok'), task('a'), task('b', { depends_on: ['a'] })])));
      const run = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      for (const j of await claimAll(jobs)) await finish(jobs, j, j.task_key === 'a' ? 'failed' : 'succeeded');
      assert.equal((await pipelines.getRun(run.id))?.status, 'failed');
      await pipelines.repairRun(run.id, { by: 'alice' });
      const [a2] = await claimAll(jobs);
      assert.equal(a2?.task_key, 'a');
      assert.equal(a2?.attempt, 2);
      await finish(jobs, a2!);
      const [b] = await claimAll(jobs);
      await finish(jobs, b!);
      assert.equal((await pipelines.getRun(run.id))?.status, 'succeeded');
      assert.deepEqual(keysOf(await jobsOfRun(jobs, run.id)), ['a', 'a', 'b', 'ok']);
    });

    test("a task's job whose lease expired fails, and the task's retry applies; a re-queued one runs again as the same job", async (t) => {
      let clock = T0;
      const { jobs, pipelines } = await backend.open(t, { now: () => clock });
      const p = await pipelines.createPipeline(newPipeline(plan([task('a', { max_retries: 1 }), task('b', { depends_on: ['a'] })])));
      const run = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      const [a1] = await claimAll(jobs, 'dead-node');
      clock += 60_000;
      const recovered = await jobs.recoverInterrupted({ staleBeforeMs: clock - 30_000, requeue: false, reason: 'worker lost' });
      assert.deepEqual(recovered.map((j) => [j.id, j.status]), [[a1!.id, 'failed']]);
      const [a2] = await claimAll(jobs, 'w2');
      assert.equal(a2?.task_key, 'a');
      assert.equal(a2?.attempt, 2);
      clock += 60_000;
      const requeued = await jobs.recoverInterrupted({ staleBeforeMs: clock - 30_000, requeue: true, reason: 'restart' });
      assert.deepEqual(requeued.map((j) => [j.id, j.status]), [[a2!.id, 'queued']]);
      const [again] = await claimAll(jobs, 'w3');
      assert.equal(again?.id, a2!.id);
      await finish(jobs, again!);
      const [b] = await claimAll(jobs, 'w3');
      assert.equal(b?.task_key, 'b');
      assert.equal((await pipelines.getRun(run.id))?.tasks[0]?.status, 'succeeded');
    });

    test('a run whose advance was lost (a node died between commit points) is carried on by advanceDue, once', async (t) => {
      let clock = T0;
      const { jobs, pipelines, raw } = await backend.open(t, { now: () => clock });
      const p = await pipelines.createPipeline(newPipeline(plan([task('a'), task('b', { depends_on: ['a'] })])));
      const run = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      const [a] = await claimAll(jobs);
      clock += 1000;
      // The job's end recorded without its advance.
      await raw(`UPDATE jobs SET status = 'succeeded', finished_at_ms = $1, result = '{}' WHERE id = $2`, [clock, a!.id]);
      assert.deepEqual(await claimAll(jobs), []);
      assert.equal(await pipelines.advanceDue(clock), 1);
      const [b] = await claimAll(jobs);
      assert.equal(b?.task_key, 'b');
      assert.equal(await pipelines.advanceDue(clock), 0, 'nothing lags any more');
      assert.equal((await pipelines.getRun(run.id))?.tasks[0]?.status, 'succeeded');
    });

    test('retention keeps the jobs of a run still running (its advance reads them), and prunes them once it ended', async (t) => {
      const { jobs, pipelines } = await backend.open(t);
      const p = await pipelines.createPipeline(newPipeline(plan([task('a'), task('b', { depends_on: ['a'] })])));
      const run = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      const plain = (await jobs.enqueue({ username: 'u', notebook: 'n.ipynb', parameters: {}, submitted_by: 'u' })).job;
      await jobs.requestCancel(plain.id);
      await finish(jobs, (await claimAll(jobs))[0]!);
      const far = Date.now() + 86_400_000;
      assert.deepEqual((await jobs.pruneFinishedBefore(far, 100)).map((j) => j.id), [plain.id]);
      assert.deepEqual((await jobs.pruneFinishedBeyond(0, 100)).map((j) => j.id), []);
      await finish(jobs, (await claimAll(jobs))[0]!);
      assert.equal((await pipelines.getRun(run.id))?.status, 'succeeded');
      assert.deepEqual(keysOf(await jobs.pruneFinishedBefore(far, 100)), ['a', 'b']);
    });

    test('the unique indexes refuse a second job of one task item: of the same attempt, or while one is queued or running', async (t) => {
      const { jobs, pipelines, raw } = await backend.open(t);
      const p = await pipelines.createPipeline(newPipeline(plan([task('a', { max_retries: 1 })])));
      const run = await pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
      const insert = (id: string, attempt: number) =>
        raw(
          `INSERT INTO jobs (id, status, username, notebook, parameters, submitted_by, created_at_ms, updated_at_ms, pipeline_id, pipeline_run_id, task_key, attempt)
           VALUES ($1, 'queued', 'alice', 'a.ipynb', '{}', 'alice', 1, 1, $2, $3, 'a', $4)`,
          [id, p.id, run.id, attempt],
        );
      await assert.rejects(insert('dup-active', 2), /unique|UNIQUE/);
      const [a1] = await claimAll(jobs);
      await finish(jobs, a1!, 'failed');
      // The retry (attempt 2) is queued now: neither another attempt 2 nor another queued job may join it.
      await assert.rejects(insert('dup-attempt', 2), /unique|UNIQUE/);
      await assert.rejects(insert('dup-active-3', 3), /unique|UNIQUE/);
      assert.equal((await jobsOfRun(jobs, run.id)).length, 2);
    });
  });
}
