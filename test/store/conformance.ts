/**
 * The JobStore contract, as one suite every store passes: SQLite, the in-memory
 * FakeStore the HTTP tests use, and any store added later (PostgreSQL). Call
 * `storeConformance(name, make)` from a test file; `make` gives a fresh, empty
 * store (with the clock given, when there is one) and cleans up via `t.after`.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidTransitionError, RunQuotaError, UsageError } from '../../src/errors.js';
import { isJobId } from '../../src/store/job-id.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import type { JobStore, NewJob } from '../../src/store/job-store.js';

export type MakeStore = (t: TestContext, opts?: { now?: () => number }) => Promise<JobStore>;

export function newJob(over: Partial<NewJob> = {}): NewJob {
  return { username: 'alice', notebook: 'nb.ipynb', parameters: {}, submitted_by: 'alice', ...over };
}

export function storeConformance(name: string, make: MakeStore): void {
  describe(`${name}: the JobStore contract`, () => {
    test('enqueues a queued job with every field and reads it back', async (t) => {
      const store = await make(t);
      const { job, created } = await store.enqueue(
        newJob({
          parameters: { a: 1, s: 'x', l: [1, null], nan: NaN, inf: Infinity, ninf: -Infinity },
          kernel: 'python3',
          timeout_s: 30,
          cell_timeout_s: 5,
          source: 'seed-execute',
          output_path: 'out.ipynb',
          target: 'user-server',
          server_name: 'gpu',
        }),
      );
      assert.equal(created, true);
      assert.ok(isJobId(job.id), job.id);
      assert.equal(job.status, 'queued');
      assert.deepEqual(job.progress, { cells_total: 0, cells_done: 0 });
      assert.equal(job.kernel, 'python3');
      assert.equal(job.timeout_s, 30);
      assert.equal(job.cell_timeout_s, 5);
      assert.equal(job.source, 'seed-execute');
      assert.equal(job.output_path, 'out.ipynb');
      assert.equal(job.target, 'user-server');
      assert.equal(job.server_name, 'gpu');
      assert.equal(job.cancel_requested, false);
      assert.equal(job.attempts, 0);
      assert.equal(job.worker_id, null);
      assert.equal(job.started_at_ms, null);
      const got = await store.get(job.id);
      assert.ok(got);
      assert.equal(got.parameters.a, 1);
      // Non-finite numbers are floats in Python terms: a store may give them back as PyFloat (see notebook/parameters-json).
      const num = (v: unknown) => (v instanceof PyFloat ? v.value : v);
      assert.ok(Number.isNaN(num(got.parameters.nan)));
      assert.equal(num(got.parameters.inf), Infinity);
      assert.equal(num(got.parameters.ninf), -Infinity);
      assert.deepEqual(got.parameters.l, [1, null]);
      const plain = (await store.enqueue(newJob())).job;
      assert.equal(plain.target, 'local');
      assert.equal(plain.server_name, null);
      assert.equal(await store.get('nope'), null);
    });

    test('a returned job is a copy: changing it changes nothing stored', async (t) => {
      const store = await make(t);
      const { job } = await store.enqueue(newJob());
      job.status = 'failed';
      job.progress.cells_done = 99;
      const got = await store.get(job.id);
      assert.equal(got?.status, 'queued');
      assert.equal(got?.progress.cells_done, 0);
    });

    test('an idempotency key returns the existing job for the same user only', async (t) => {
      const store = await make(t);
      const a = await store.enqueue(newJob({ idempotency_key: 'k1' }));
      const b = await store.enqueue(newJob({ idempotency_key: 'k1', parameters: { other: true } }));
      const c = await store.enqueue(newJob({ idempotency_key: 'k1', username: 'bob', submitted_by: 'bob' }));
      const d = await store.enqueue(newJob());
      const e = await store.enqueue(newJob());
      assert.equal(a.created, true);
      assert.equal(b.created, false);
      assert.equal(b.job.id, a.job.id);
      assert.deepEqual(b.job.parameters, {});
      assert.equal(c.created, true);
      assert.notEqual(c.job.id, a.job.id);
      assert.notEqual(d.job.id, e.job.id);
    });

    test('a run quota counts the user\'s queued and running jobs; a replayed key is not a new run', async (t) => {
      const store = await make(t);
      const first = await store.enqueue(newJob({ max_active: 2, idempotency_key: 'k' }));
      await store.claimNext('w');
      await store.enqueue(newJob({ max_active: 2 }));
      await assert.rejects(store.enqueue(newJob({ max_active: 2 })), (e: unknown) => {
        assert.ok(e instanceof RunQuotaError);
        assert.equal(e.httpStatus, 429);
        assert.deepEqual(e.extra, { username: 'alice', running: 1, queued: 1, max_active: 2 });
        return true;
      });
      const replay = await store.enqueue(newJob({ max_active: 2, idempotency_key: 'k' }));
      assert.equal(replay.created, false);
      assert.equal(replay.job.id, first.job.id);
      // Another user, or no quota, is not limited; a finished job frees a place.
      assert.equal((await store.enqueue(newJob({ username: 'bob', submitted_by: 'bob', max_active: 2 }))).created, true);
      assert.equal((await store.enqueue(newJob())).created, true);
      await assert.rejects(store.enqueue(newJob({ max_active: 3 })), RunQuotaError);
      await store.markFinished(first.job.id, 'succeeded', {});
      assert.equal((await store.enqueue(newJob({ max_active: 3 }))).created, true);
      // 100 submissions at once: the quota holds.
      const burst = await Promise.allSettled(Array.from({ length: 100 }, () => store.enqueue(newJob({ username: 'carol', submitted_by: 'carol', max_active: 7 }))));
      assert.equal(burst.filter((r) => r.status === 'fulfilled').length, 7);
      assert.ok(burst.every((r) => r.status === 'fulfilled' || r.reason instanceof RunQuotaError));
    });

    test('claimNext takes the oldest queued job first and marks it running', async (t) => {
      let now = 1_000;
      const store = await make(t, { now: () => now });
      const first = (await store.enqueue(newJob({ notebook: 'first.ipynb' }))).job;
      const second = (await store.enqueue(newJob({ notebook: 'second.ipynb' }))).job; // same millisecond: id order
      now = 2_000;
      const third = (await store.enqueue(newJob({ notebook: 'third.ipynb' }))).job;
      now = 3_000;
      const c1 = await store.claimNext('w1');
      assert.equal(c1?.id, first.id);
      assert.equal(c1?.status, 'running');
      assert.equal(c1?.worker_id, 'w1');
      assert.equal(c1?.started_at_ms, 3_000);
      assert.equal(c1?.attempts, 1);
      assert.equal((await store.claimNext('w1'))?.id, second.id);
      assert.equal((await store.claimNext('w2'))?.id, third.id);
      assert.equal(await store.claimNext('w1'), null);
    });

    test('the resolved kernel (name and language) is stored; null language for a job read only when it runs', async (t) => {
      const store = await make(t);
      const resolved = (await store.enqueue(newJob({ kernel: 'python3', kernel_language: 'python' }))).job;
      assert.equal(resolved.kernel, 'python3');
      assert.equal(resolved.kernel_language, 'python');
      assert.equal((await store.get(resolved.id))?.kernel_language, 'python');
      assert.equal((await store.claimNext('w'))?.kernel_language, 'python');
      const later = (await store.enqueue(newJob({ target: 'user-server' }))).job;
      assert.equal(later.kernel, null);
      assert.equal(later.kernel_language, null);
    });

    test('a fire over the quota is queued, and not claimed while its user is at maxRunningPerUser; others are meanwhile', async (t) => {
      let now = 1_000;
      const store = await make(t, { now: () => now });
      const limit = { maxRunningPerUser: 1 };
      const running = (await store.enqueue(newJob({ notebook: 'a1.ipynb', max_active: 1 }))).job;
      assert.equal((await store.claimNext('w', limit))?.id, running.id);
      // A direct submission at the quota is refused; a schedule fire (no max_active) is queued and waits.
      await assert.rejects(store.enqueue(newJob({ max_active: 1 })), RunQuotaError);
      now = 2_000;
      const fire = (await store.enqueue(newJob({ notebook: 'fire.ipynb', source: 'schedule:s1', schedule_id: 's1', scheduled_for_ms: 1 }))).job;
      assert.equal(fire.status, 'queued');
      now = 3_000;
      const bobs = (await store.enqueue(newJob({ username: 'bob', submitted_by: 'bob' }))).job;
      // alice is at her limit: her older fire waits and bob's newer job is taken.
      assert.equal((await store.claimNext('w', limit))?.id, bobs.id);
      assert.equal(await store.claimNext('w', limit), null);
      assert.equal((await store.get(fire.id))?.status, 'queued');
      // Without a bound (the default), the oldest is taken whatever its user runs: the bound is what holds it.
      await store.markFinished(running.id, 'succeeded', { worker_id: 'w', attempt: 1 });
      assert.equal((await store.claimNext('w', limit))?.id, fire.id);
      const again = (await store.enqueue(newJob({ notebook: 'a3.ipynb' }))).job;
      assert.equal(await store.claimNext('w', limit), null);
      assert.equal((await store.claimNext('w'))?.id, again.id);
    });

    test('progress and finishing follow the transition table', async (t) => {
      const store = await make(t);
      const { job } = await store.enqueue(newJob());
      // A queued job cannot finish as succeeded.
      await assert.rejects(store.markFinished(job.id, 'succeeded', {}), InvalidTransitionError);
      await store.claimNext('w');
      await store.updateProgress(job.id, { cells_total: 3, cells_done: 1 }, 'out/nb.ipynb');
      let got = await store.get(job.id);
      assert.deepEqual(got?.progress, { cells_total: 3, cells_done: 1 });
      assert.equal(got?.output_path, 'out/nb.ipynb');
      const err = { ename: 'ValueError', evalue: 'bad', traceback: ['tb'], cell_index: 2 };
      const done = await store.markFinished(job.id, 'failed', { error: err, result: { x: 1 }, progress: { cells_total: 3, cells_done: 2 } });
      assert.equal(done.status, 'failed');
      assert.deepEqual(done.error, err);
      assert.deepEqual(done.result, { x: 1 });
      assert.ok(done.finished_at_ms !== null);
      // Terminal states are final; late progress is ignored.
      await assert.rejects(store.markFinished(job.id, 'succeeded', {}), InvalidTransitionError);
      await store.updateProgress(job.id, { cells_total: 3, cells_done: 3 });
      got = await store.get(job.id);
      assert.deepEqual(got?.progress, { cells_total: 3, cells_done: 2 });
    });

    test('requestCancel cancels a queued job at once, flags a running one, leaves a finished one', async (t) => {
      const store = await make(t);
      const queued = (await store.enqueue(newJob())).job;
      const running = (await store.enqueue(newJob())).job;
      const c = await store.requestCancel(queued.id);
      assert.equal(c?.status, 'cancelled');
      assert.ok(c?.finished_at_ms);
      assert.equal((await store.claimNext('w'))?.id, running.id);
      const r = await store.requestCancel(running.id);
      assert.equal(r?.status, 'running');
      assert.equal(r?.cancel_requested, true);
      const fin = await store.markFinished(running.id, 'cancelled', {});
      assert.equal(fin.status, 'cancelled');
      assert.equal((await store.requestCancel(running.id))?.status, 'cancelled');
      assert.equal(await store.requestCancel('missing'), null);
    });

    test("recoverInterrupted reclaims only expired leases; heartbeat renews only the holder's and reports lost ones", async (t) => {
      let now = 10_000;
      const store = await make(t, { now: () => now });
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await store.enqueue(newJob({ notebook: `n${i}.ipynb` }))).job.id);
      await store.claimNext('dead'); // ids[0]
      await store.claimNext('alive'); // ids[1]
      await store.claimNext('me'); // ids[2]
      now = 50_000;
      assert.deepEqual(await store.heartbeat('alive', [ids[1]!]), []);
      assert.deepEqual(await store.heartbeat('me', [ids[0]!]), [ids[0]], "another worker's job is not renewed, and reported");
      const recovered = await store.recoverInterrupted({ staleBeforeMs: 40_000, exceptWorkerId: 'me', requeue: false, reason: 'hubmill restarted while the job was running' });
      assert.deepEqual(recovered.map((j) => j.id), [ids[0]], 'only the expired lease of another worker');
      for (const j of recovered) {
        assert.equal(j.status, 'failed');
        assert.equal(j.error?.ename, 'JobInterrupted');
        assert.match(j.error?.evalue ?? '', /restarted/);
      }
      assert.equal((await store.get(ids[1]!))?.status, 'running');
      assert.equal((await store.get(ids[2]!))?.status, 'running', "a live worker's own jobs are never stale to itself");
      assert.equal((await store.get(ids[3]!))?.status, 'queued');
      assert.deepEqual(await store.heartbeat('dead', [ids[0]!]), [ids[0]], 'the dead worker learns it lost the job');
      // Its late record is refused; the reclaimed record stands.
      await assert.rejects(store.markFinished(ids[0]!, 'succeeded', { worker_id: 'dead' }), InvalidTransitionError);
      assert.equal((await store.get(ids[0]!))?.status, 'failed');

      // Re-queue mode; a pending cancel wins over re-queueing.
      await store.requestCancel(ids[1]!);
      const again = await store.claimNext('x'); // ids[3]
      assert.equal(again?.id, ids[3]);
      now = 100_000;
      const rq = await store.recoverInterrupted({ staleBeforeMs: 99_000, exceptWorkerId: 'me', requeue: true, reason: 'restart' });
      const byId = new Map(rq.map((j) => [j.id, j]));
      assert.equal(byId.get(ids[1]!)?.status, 'cancelled');
      assert.equal(byId.get(ids[3]!)?.status, 'queued');
      assert.equal(byId.get(ids[3]!)?.worker_id, null);
      const reclaimed = await store.claimNext('y');
      assert.equal(reclaimed?.id, ids[3]);
      assert.equal(reclaimed?.attempts, 2);
      // The worker that held it before cannot record its end.
      await assert.rejects(store.markFinished(ids[3]!, 'succeeded', { worker_id: 'x' }), InvalidTransitionError);
      // Nor can an earlier claim by the same worker (the attempt differs).
      await assert.rejects(store.markFinished(ids[3]!, 'succeeded', { worker_id: 'y', attempt: 1 }), InvalidTransitionError);
      assert.equal((await store.markFinished(ids[3]!, 'succeeded', { worker_id: 'y', attempt: 2 })).status, 'succeeded');
    });

    test('lists newest first with filters and an opaque cursor', async (t) => {
      let now = 1;
      const store = await make(t, { now: () => now });
      const all: string[] = [];
      for (let i = 0; i < 25; i++) {
        now = 1000 + Math.floor(i / 3); // several jobs per millisecond
        const user = i % 2 === 0 ? 'alice' : 'bob';
        all.push((await store.enqueue(newJob({ username: user, submitted_by: user, notebook: `n${i % 5}.ipynb` }))).job.id);
      }
      const newestFirst = [...all].reverse();
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list({ limit: 7, cursor });
        seen.push(...page.jobs.map((j) => j.id));
        cursor = page.next_cursor ?? undefined;
        pages++;
      } while (cursor);
      assert.deepEqual(seen, newestFirst);
      assert.equal(pages, 4);

      const alice = await store.list({ limit: 100, username: 'alice' });
      assert.equal(alice.jobs.length, 13);
      assert.ok(alice.jobs.every((j) => j.username === 'alice'));
      assert.equal(alice.next_cursor, null);
      const n0 = await store.list({ limit: 100, notebook: 'n0.ipynb' });
      assert.equal(n0.jobs.length, 5);
      await store.claimNext('w');
      const running = await store.list({ limit: 10, status: ['running'] });
      assert.deepEqual(running.jobs.map((j) => j.id), [all[0]]);
      const queuedOrRunning = await store.list({ limit: 100, status: ['running', 'queued'] });
      assert.equal(queuedOrRunning.jobs.length, 25);
      const fromSchedule = [
        (await store.enqueue(newJob({ schedule_id: 's-1', attempt: 1 }))).job.id,
        (now++, await store.enqueue(newJob({ schedule_id: 's-2', attempt: 1 }))).job.id,
        (now++, await store.enqueue(newJob({ schedule_id: 's-1', attempt: 1 }))).job.id,
      ];
      const s1 = await store.list({ limit: 100, schedule_id: 's-1' });
      assert.deepEqual(s1.jobs.map((j) => j.id), [fromSchedule[2], fromSchedule[0]]);
      assert.deepEqual((await store.list({ limit: 100, schedule_id: 'none' })).jobs, []);
      await assert.rejects(store.list({ limit: 10, cursor: 'garbage!!' }), UsageError);
    });

    test('counts by status, every status present', async (t) => {
      const store = await make(t);
      for (let i = 0; i < 3; i++) await store.enqueue(newJob());
      await store.claimNext('w');
      assert.deepEqual(await store.countByStatus(), { queued: 2, running: 1, succeeded: 0, failed: 0, cancelled: 0, timed_out: 0 });
    });

    test('counts the active jobs (queued, running) apart from the finished ones', async (t) => {
      const store = await make(t);
      assert.deepEqual(await store.countActive(), { queued: 0, running: 0 });
      for (let i = 0; i < 4; i++) await store.enqueue(newJob());
      const a = (await store.claimNext('w'))!;
      await store.claimNext('w');
      await store.markFinished(a.id, 'succeeded', {});
      assert.deepEqual(await store.countActive(), { queued: 2, running: 1 });
    });

    test('prunes finished jobs by age and by count, never queued or running ones', async (t) => {
      let now = 0;
      const store = await make(t, { now: () => now });
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        now = i * 100;
        const { job } = await store.enqueue(newJob());
        ids.push(job.id);
      }
      for (let i = 0; i < 5; i++) {
        now = 1000 + i * 100;
        const j = await store.claimNext('w');
        if (i < 4) await store.markFinished(j!.id, 'succeeded', {});
      }
      // ids[0..3] finished at 1000,1100,1200,1300; ids[4] running; ids[5] queued.
      const old = await store.pruneFinishedBefore(1150, 100);
      assert.deepEqual(old.map((j) => j.id), [ids[0], ids[1]]);
      const beyond = await store.pruneFinishedBeyond(1, 100);
      assert.deepEqual(beyond.map((j) => j.id), [ids[2]]);
      const left = (await store.list({ limit: 100 })).jobs.map((j) => j.id).sort();
      assert.deepEqual(left, [ids[3], ids[4], ids[5]].sort());
    });
  });
}
