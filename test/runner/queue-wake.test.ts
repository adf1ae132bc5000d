/**
 * The queue wakes on the store's onJobQueued: with PostgreSQL, a job queued
 * through another node is claimed at once, long before the (here one-minute)
 * poll would find it; after stop() the queue no longer listens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Queue } from '../../src/runner/queue.js';
import { JobEvents } from '../../src/runner/job-events.js';
import type { Job } from '../../src/store/job-store.js';
import { freshSchema, pgStore } from '../helpers/pg.js';

test('an idle worker claims a job queued through another node at once (LISTEN/NOTIFY), not at its next poll', async (t) => {
  const schema = freshSchema(t);
  const worker = await pgStore(t, { schema });
  const api = await pgStore(t, { schema });
  const log = pino({ enabled: false });
  const ran: Job[] = [];
  const queue = new Queue({
    store: worker,
    workerId: 'w1',
    concurrency: 1,
    pollIntervalMs: 60_000,
    stopKillWaitMs: 1000,
    events: new JobEvents(log),
    log,
    async run(entry, leave) {
      ran.push(entry.job);
      leave();
      await worker.markFinished(entry.job.id, 'succeeded', { worker_id: 'w1', attempt: entry.job.attempts });
    },
  });
  queue.start();
  t.after(() => queue.stop(1000));
  // Bounded: without the queue's subscription nobody listens, and the claims below time out instead.
  await Promise.race([worker.listening(), new Promise((r) => setTimeout(r, 5000).unref())]);
  for (let i = 0; i < 3; i++) {
    const { job } = await api.enqueue({ username: 'u', notebook: `n${i}.ipynb`, parameters: {}, submitted_by: 'u' });
    const t0 = Date.now();
    while (!ran.some((j) => j.id === job.id)) {
      assert.ok(Date.now() - t0 < 10_000, `job ${i} not claimed within 10 s: the queue did not wake`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  await queue.stop(1000);
  const { job: late } = await api.enqueue({ username: 'u', notebook: 'late.ipynb', parameters: {}, submitted_by: 'u' });
  await new Promise((r) => setTimeout(r, 200)); // bounded: a claim after stop() would show here
  assert.equal((await api.get(late.id))?.status, 'queued', 'a stopped queue claims nothing');
});
