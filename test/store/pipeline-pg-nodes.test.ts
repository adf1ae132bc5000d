/**
 * Pipelines on PostgreSQL with two nodes on one schema: jobs of one run end on
 * both at once, both sweep with advanceDue meanwhile, and no task item ever
 * gets a second job of an attempt or a second success; for_each concurrency
 * holds across the nodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../../src/store/job-store.js';
import { freshSchema } from '../helpers/pg.js';
import { finish, jobsOfRun, newPipeline, PG_BACKEND, plan, task, type Stores } from './pipeline-fixtures.js';

test('two nodes advancing one run at once never start a task item twice, and concurrency holds across them', async (t) => {
  const schema = freshSchema(t);
  const a = await PG_BACKEND.open(t, { schema });
  const b = await PG_BACKEND.open(t, { schema });
  const N = 60;
  const CONCURRENCY = 6;
  const items = Array.from({ length: N }, (_, i) => i);
  const p = await a.pipelines.createPipeline(
    newPipeline(plan([task('fan', { for_each: { items, concurrency: CONCURRENCY }, max_retries: 1 }), task('after', { depends_on: ['fan'] })])),
  );
  const run = await a.pipelines.createRun({ pipeline_id: p.id, parameters: {}, submitted_by: 'alice' });
  let most = 0;
  let ended = false;
  const deadline = Date.now() + 60_000;
  const pause = () => new Promise((r) => setTimeout(r, 2));

  async function worker(node: Stores, name: string): Promise<void> {
    while (!ended) {
      assert.ok(Date.now() < deadline, 'the run did not end within 60 s');
      const j: Job | null = await node.jobs.claimNext(name);
      if (!j) {
        await pause();
        continue;
      }
      // Every seventh item fails its first attempt: its retry (no backoff) is started by whichever node records the failure.
      const fail = j.task_key === 'fan' && j.item_index! % 7 === 3 && j.attempt === 1;
      await finish(node.jobs, j, fail ? 'failed' : 'succeeded', { i: j.item_index });
    }
  }
  async function sweeper(node: Stores): Promise<void> {
    while (!ended) {
      await node.pipelines.advanceDue(Date.now());
      await pause();
    }
  }
  async function watch(): Promise<void> {
    while (!ended) {
      // The items queued or running, as the store holds them: never more than the concurrency.
      const [{ n }] = (await a.raw(`SELECT COUNT(*)::int AS n FROM jobs WHERE pipeline_run_id = $1 AND task_key = 'fan' AND status IN ('queued','running')`, [
        run.id,
      ])) as [{ n: number }];
      most = Math.max(most, n);
      const r = await a.pipelines.getRun(run.id);
      if (r && r.status !== 'running') ended = true;
      else await new Promise((res) => setTimeout(res, 20));
      assert.ok(Date.now() < deadline, 'the run did not end within 60 s');
    }
  }
  // One failing loop ends them all (then its failure is reported).
  const guard = (p: Promise<void>) =>
    p.catch((err: unknown) => {
      ended = true;
      throw err;
    });
  await Promise.all([worker(a, 'a1'), worker(a, 'a2'), worker(b, 'b1'), worker(b, 'b2'), sweeper(a), sweeper(b), watch()].map(guard));

  const final = await b.pipelines.getRun(run.id);
  assert.equal(final?.status, 'succeeded');
  assert.ok(most <= CONCURRENCY, `at most ${CONCURRENCY} items ran at once, saw ${most}`);
  const all = await jobsOfRun(a.jobs, run.id);
  const fan = all.filter((j) => j.task_key === 'fan');
  for (const i of items) {
    const mine = fan.filter((j) => j.item_index === i);
    const expected = i % 7 === 3 ? 2 : 1;
    assert.equal(mine.length, expected, `item ${i}: ${mine.length} jobs`);
    assert.deepEqual(mine.map((j) => j.attempt).sort(), expected === 2 ? [1, 2] : [1]);
    assert.equal(mine.filter((j) => j.status === 'succeeded').length, 1, `item ${i} succeeded once`);
  }
  assert.equal(all.filter((j) => j.task_key === 'after').length, 1);
  assert.deepEqual(final?.tasks[0]?.result, { i: items });
});
