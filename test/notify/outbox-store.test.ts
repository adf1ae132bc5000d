/**
 * The outbox in both stores, through two connections (as two nodes): a schedule
 * job's end writes its rows as it is settled (one per target `on` names, none
 * twice however many settlers run); a row is leased to one node at a time, its
 * attempts counted, its retry scheduled, and a retry by hand makes it due again.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobStore } from '../../src/store/job-store.js';
import { outboxStoreFor, scheduleStoreFor } from '../../src/store/open.js';
import type { OutboxStore } from '../../src/store/outbox-store.js';
import type { ScheduleStore, NotifyEvent } from '../../src/store/schedule-store.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { pgStore, freshSchema } from '../helpers/pg.js';
import { eventually } from '../helpers/wait.js';

interface Node {
  jobs: JobStore;
  schedules: ScheduleStore;
  outbox: OutboxStore;
}
type MakePair = (t: TestContext) => Promise<[Node, Node]>;

const node = (jobs: JobStore): Node => ({ jobs, schedules: scheduleStoreFor(jobs), outbox: outboxStoreFor(jobs) });

const backends: [string, MakePair][] = [
  [
    'SQLite',
    async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'hubmill-outbox-'));
      const a = new SqliteJobStore({ path: join(dir, 'jobs.sqlite') });
      const b = new SqliteJobStore({ path: join(dir, 'jobs.sqlite') });
      t.after(async () => {
        await a.close();
        await b.close();
        await rm(dir, { recursive: true, force: true });
      });
      return [node(a), node(b)];
    },
  ],
  [
    'PostgreSQL',
    async (t) => {
      const schema = freshSchema(t);
      return [node(await pgStore(t, { schema })), node(await pgStore(t, { schema }))];
    },
  ],
];

async function scheduleWithNotify(n: Node, on: NotifyEvent[]) {
  return n.schedules.create({
    name: 'nightly', notebook: 'nb.ipynb', parameters: {}, kernel: null, cron: '0 3 * * *', timezone: 'UTC', timeout_s: null, cell_timeout_s: null,
    overlap: 'allow', max_concurrent: 10, max_retries: 0, retry_backoff_s: 1, catchup: 'latest', max_catchup: 100, misfire_grace_s: null, start_at_ms: null,
    end_at_ms: null, paused: false, owner: 'alice', created_by: 'alice', webhook_secret: 'k'.repeat(64), next_run_at_ms: null,
    notify: { webhook_url: 'http://127.0.0.1:9/hook', email: ['a@example.org', 'b@example.org'], on },
  });
}

/** A job of the schedule run to its end with `status`. */
async function endedJob(n: Node, scheduleId: string, status: 'failed' | 'succeeded') {
  const { job } = await n.jobs.enqueue({ username: 'alice', notebook: 'nb.ipynb', parameters: {}, submitted_by: 'alice', source: `schedule:${scheduleId}`, schedule_id: scheduleId });
  const claimed = await n.jobs.claimNext('w1');
  assert.equal(claimed?.id, job.id);
  await n.jobs.markFinished(job.id, status, { worker_id: 'w1', attempt: claimed!.attempts, error: status === 'failed' ? { ename: 'E', evalue: 'v', traceback: [], cell_index: 1 } : null });
  return job.id;
}

const noRetry = () => ({ retryAtMs: null });

for (const [name, makePair] of backends) {
  describe(`the outbox (${name}, two connections)`, () => {
    it("a job's end is written once, as it is settled, for each target `on` names", async (t) => {
      const [a, b] = await makePair(t);
      const s = await scheduleWithNotify(a, ['failed']);
      const failed = await endedJob(a, s.id, 'failed');
      const succeeded = await endedJob(a, s.id, 'succeeded');
      assert.deepEqual(await a.outbox.list('schedule', s.id, 10), [], 'nothing before the end is settled');
      // Two settlers at once (two nodes): each end is settled, and written, once.
      const settled = [...(await Promise.all([a.schedules.settleFinished(noRetry, 10), b.schedules.settleFinished(noRetry, 10)]))].flat();
      assert.deepEqual(settled.map((x) => x.job.id).sort(), [failed, succeeded].sort());
      const rows = await b.outbox.list('schedule', s.id, 10);
      assert.deepEqual(rows.map((r) => [r.ref_id, r.event, r.channel, r.target, r.status, r.attempts]).sort(), [
        [failed, 'failed', 'email', 'a@example.org', 'pending', 0],
        [failed, 'failed', 'email', 'b@example.org', 'pending', 0],
        [failed, 'failed', 'webhook', 'http://127.0.0.1:9/hook', 'pending', 0],
      ]);
      assert.equal(new Set(rows.map((r) => r.id)).size, 3, 'each row its own delivery id');
    });

    it('a row is leased to one node at a time; an outcome counts only from its holder; retries back off; a retry by hand makes it due', async (t) => {
      const [a, b] = await makePair(t);
      const s = await scheduleWithNotify(a, ['failed']);
      await endedJob(a, s.id, 'failed');
      await a.schedules.settleFinished(noRetry, 10);
      const [ca, cb] = await Promise.all([a.outbox.claim('node-a', 60_000, 10), b.outbox.claim('node-b', 60_000, 10)]);
      assert.equal(ca.length + cb.length, 3, 'every due row leased');
      assert.equal(new Set([...ca, ...cb].map((r) => r.id)).size, 3, 'none leased twice');
      assert.deepEqual(await a.outbox.claim('node-c', 60_000, 10), [], 'leased rows are not handed out again');
      const [held, holder, other] = ca.length ? [ca[0]!, 'node-a', 'node-b'] : [cb[0]!, 'node-b', 'node-a'];
      assert.equal(held.attempts, 1);
      assert.equal(await a.outbox.finish(held.id, other, { ok: true }), false, 'not the holder: nothing changes');
      const later = Date.now() + 3_600_000;
      assert.equal(await b.outbox.finish(held.id, holder, { ok: false, error: 'HTTP 503', retryAtMs: later }), true);
      let row = (await a.outbox.get(held.id))!;
      assert.deepEqual([row.status, row.attempts, row.last_error, row.next_attempt_ms], ['pending', 1, 'HTTP 503', later]);
      assert.deepEqual(await a.outbox.claim('node-c', 60_000, 10), [], 'not due before its next attempt');
      // Given up: failed, visible, and retried by hand.
      await b.outbox.retry('schedule', s.id, held.id);
      const again = await a.outbox.claim('node-c', 60_000, 10);
      assert.deepEqual(again.map((r) => r.id), [held.id], 'a retry by hand is due at once');
      await a.outbox.finish(held.id, 'node-c', { ok: false, error: 'refused', retryAtMs: null });
      row = (await a.outbox.get(held.id))!;
      assert.deepEqual([row.status, row.next_attempt_ms, row.last_error], ['failed', null, 'refused']);
      assert.equal(await a.outbox.retry('pipeline', s.id, held.id), null, 'not a delivery of that subject');
      const retried = await a.outbox.retry('schedule', s.id, held.id);
      assert.ok(retried && retried !== 'delivered');
      assert.deepEqual([retried.status, retried.attempts], ['pending', 0]);
      const last = await b.outbox.claim('node-d', 60_000, 10);
      assert.deepEqual(last.map((r) => r.id), [held.id]);
      assert.equal(await b.outbox.finish(held.id, 'node-d', { ok: true }), true);
      row = (await a.outbox.get(held.id))!;
      assert.equal(row.status, 'delivered');
      assert.ok(row.delivered_at_ms);
      assert.equal(await a.outbox.retry('schedule', s.id, held.id), 'delivered');
      // Retention: rows done before the cutoff go, pending ones stay whatever their age.
      assert.equal(await a.outbox.prune(row.updated_at_ms, 10), 0, 'nothing done before the cutoff');
      assert.equal(await b.outbox.prune(Date.now() + 60_000, 10), 1, 'the delivered row');
      assert.equal(await a.outbox.get(held.id), null);
      assert.equal((await a.outbox.list('schedule', s.id, 10)).length, 2, 'the two still leased stay');
    });

    it('a lease that expired (its node died) is taken by another node', async (t) => {
      const [a, b] = await makePair(t);
      const s = await scheduleWithNotify(a, ['succeeded']);
      await endedJob(a, s.id, 'succeeded');
      await a.schedules.settleFinished(noRetry, 10);
      const first = await a.outbox.claim('dead-node', 1, 10);
      assert.equal(first.length, 3);
      const taken = await eventually(async () => {
        const r = await b.outbox.claim('node-b', 60_000, 10);
        return r.length ? r : undefined;
      }, 5000, 'the expired lease taken');
      assert.deepEqual(taken.map((r) => r.id).sort(), first.map((r) => r.id).sort());
      assert.ok(taken.every((r) => r.attempts === 2), 'the dead attempt counts');
      assert.equal(await a.outbox.finish(first[0]!.id, 'dead-node', { ok: true }), false, "the dead node's outcome is dropped");
    });
  });
}
