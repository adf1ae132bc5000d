/**
 * Retention over a long history: it deletes in batches of PRUNE_BATCH with a
 * pause after each, so claims get in between batches (the bench,
 * bench/million.ts, measures the longest claim while 100,000 jobs are pruned).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { PRUNE_BATCH, Retention } from '../../src/runner/retention.js';
import type { Job, JobStore } from '../../src/store/job-store.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';

const DAY = 86_400_000;

test('retention prunes in batches and lets claims run between them', async (t) => {
  let now = 1_700_000_000_000;
  const store = new SqliteJobStore({ path: ':memory:', now: () => now });
  t.after(() => store.close());
  const old = 2 * PRUNE_BATCH + 50;
  for (let i = 0; i < old; i++) {
    await store.enqueue({ username: 'ann', notebook: 'nb.ipynb', parameters: {}, submitted_by: 'ann' });
    const j = (await store.claimNext('w'))!;
    await store.markFinished(j.id, 'succeeded', { worker_id: 'w', attempt: j.attempts });
  }
  now += 3 * DAY;
  // A job finished recently is kept.
  const recent = (await store.enqueue({ username: 'ann', notebook: 'nb.ipynb', parameters: {}, submitted_by: 'ann' })).job;
  const claimed = (await store.claimNext('w'))!;
  await store.markFinished(claimed.id, 'succeeded', { worker_id: 'w', attempt: claimed.attempts });

  const events: string[] = [];
  const batches: number[] = [];
  const watched = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'pruneFinishedBefore') {
        return async (cutoff: number, limit: number): Promise<Job[]> => {
          assert.equal(limit, PRUNE_BATCH);
          const jobs = await target.pruneFinishedBefore(cutoff, limit);
          batches.push(jobs.length);
          events.push('batch');
          return jobs;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as JobStore;

  // Meanwhile a worker claims and finishes a job at every turn of the event loop.
  let pruning = true;
  const claims = (async () => {
    let i = 0;
    while (pruning) {
      await store.enqueue({ username: 'bob', notebook: `c${i++}.ipynb`, parameters: {}, submitted_by: 'bob' });
      const j = (await store.claimNext('w2'))!;
      await store.markFinished(j.id, 'succeeded', { worker_id: 'w2', attempt: j.attempts });
      events.push('claim');
      await new Promise((r) => setImmediate(r));
    }
  })();
  const retention = new Retention(watched, () => '/nonexistent', { days: 1 }, pino({ level: 'silent' }));
  const deleted = await retention.prune(now);
  pruning = false;
  await claims;

  assert.equal(deleted, old);
  assert.deepEqual(batches, [PRUNE_BATCH, PRUNE_BATCH, 50]);
  const first = events.indexOf('batch');
  const last = events.lastIndexOf('batch');
  const between = events.slice(first, last).filter((e) => e === 'claim').length;
  assert.ok(between >= 2, `claims between the first and the last batch: ${between} (${events.join(' ')})`);
  assert.ok(await store.get(recent.id), 'the recent job is kept');
});
