import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { harness, iso, STORE_BACKENDS, type Harness } from './harness.js';
import { Scheduler } from '../../src/schedules/scheduler.js';
import { ON_TIME_TOLERANCE_MS } from '../../src/schedules/fire-plan.js';

const MIN = 60_000;

for (const backend of STORE_BACKENDS) {
  describe(`scheduler on a fake clock (${backend} store)`, () => {
    let h: Harness;
    afterEach(async () => h?.close());

    it('fires a due schedule once, records scheduled_for and attempt 1, and stores the next fire time', async () => {
      h = await harness(backend, '2026-05-01T10:00:30Z');
      const s = await h.create({ cron: '* * * * *' });
      assert.equal(iso(s.next_run_at_ms), '2026-05-01T10:01:00.000Z');
      assert.equal(await h.scheduler.tick(), Date.parse('2026-05-01T10:01:00Z'));
      assert.equal((await h.runsOf(s.id)).length, 0, 'nothing before the due time');
      h.clock.set('2026-05-01T10:01:00.004Z');
      await h.scheduler.tick();
      await h.scheduler.tick();
      const runs = await h.runsOf(s.id);
      assert.equal(runs.length, 1);
      assert.equal(iso(runs[0]!.scheduled_for_ms), '2026-05-01T10:01:00.000Z');
      assert.equal(runs[0]!.attempt, 1);
      assert.equal(runs[0]!.schedule_id, s.id);
      assert.equal(iso((await h.store.get(s.id))!.next_run_at_ms), '2026-05-01T10:02:00.000Z');
      assert.equal(h.counters.fired, 1);
    });

    it('refuses a second job for the same fire time even if next_run_at is set back (clock set back)', async () => {
      h = await harness(backend, '2026-05-01T10:00:30Z');
      const s = await h.create({ cron: '* * * * *' });
      h.clock.set('2026-05-01T10:01:00Z');
      await h.scheduler.tick();
      await h.finishAll('succeeded');
      await h.store.update(s.id, { next_run_at_ms: Date.parse('2026-05-01T10:01:00Z') });
      await h.scheduler.tick();
      assert.equal((await h.runsOf(s.id)).length, 1);
    });

    describe('catch-up after downtime (down from 10:00:30 to 13:10:10, hourly at :05)', () => {
      const setup = async (catchup: 'latest' | 'all' | 'none', max_catchup = 100) => {
        h = await harness(backend, '2026-05-01T10:00:30Z');
        const s = await h.create({ cron: '5 * * * *', catchup, max_catchup });
        h.clock.set('2026-05-01T13:10:10Z');
        await h.scheduler.tick();
        return { s: (await h.store.get(s.id))!, runs: await h.runsOf(s.id) };
      };
      it('latest: one run, for the most recent missed time; the others counted', async () => {
        const { s, runs } = await setup('latest');
        assert.deepEqual(runs.map((j) => iso(j.scheduled_for_ms)), ['2026-05-01T13:05:00.000Z']);
        assert.equal(s.missed_skipped, 3);
        assert.equal(iso(s.next_run_at_ms), '2026-05-01T14:05:00.000Z');
        assert.equal(h.counters.missed, 3);
        assert.equal(h.counters.caughtUp, 1);
      });
      it('all: every missed time, oldest first', async () => {
        const { s, runs } = await setup('all');
        assert.deepEqual(runs.map((j) => iso(j.scheduled_for_ms)), [
          '2026-05-01T10:05:00.000Z', '2026-05-01T11:05:00.000Z', '2026-05-01T12:05:00.000Z', '2026-05-01T13:05:00.000Z',
        ]);
        assert.equal(s.missed_skipped, 0);
      });
      it('all: at most max_catchup (the most recent ones)', async () => {
        const { s, runs } = await setup('all', 2);
        assert.deepEqual(runs.map((j) => iso(j.scheduled_for_ms)), ['2026-05-01T12:05:00.000Z', '2026-05-01T13:05:00.000Z']);
        assert.equal(s.missed_skipped, 2);
      });
      it('none: nothing runs, next fire is the next future time, misses counted', async () => {
        const { s, runs } = await setup('none');
        assert.equal(runs.length, 0);
        assert.equal(s.missed_skipped, 4);
        assert.equal(iso(s.next_run_at_ms), '2026-05-01T14:05:00.000Z');
      });
      it('none: a fire that is merely on time still runs', async () => {
        h = await harness(backend, '2026-05-01T10:00:30Z');
        const s = await h.create({ cron: '5 * * * *', catchup: 'none' });
        h.clock.set('2026-05-01T10:05:00.200Z');
        await h.scheduler.tick();
        assert.equal((await h.runsOf(s.id)).length, 1);
      });
      it('none: on time means late by at most the wake-up tolerance', async () => {
        h = await harness(backend, '2026-05-01T10:00:30Z');
        const a = await h.create({ cron: '5 * * * *', catchup: 'none' });
        const b = await h.create({ cron: '6 * * * *', catchup: 'none' });
        h.clock.t = Date.parse('2026-05-01T10:05:00Z') + ON_TIME_TOLERANCE_MS;
        await h.scheduler.tick();
        h.clock.t = Date.parse('2026-05-01T10:06:00Z') + ON_TIME_TOLERANCE_MS + 1;
        await h.scheduler.tick();
        assert.equal((await h.runsOf(a.id)).length, 1, 'late by exactly the tolerance: runs');
        assert.equal((await h.runsOf(b.id)).length, 0, 'one ms later: missed');
        assert.equal((await h.store.get(b.id))!.missed_skipped, 1);
      });
    });

    describe('catch-up "none" on short periods (no hidden minute of grace)', () => {
      it('per minute: a fire 40 s late after downtime is missed, not run', async () => {
        h = await harness(backend, '2026-05-01T10:00:30Z');
        const s = await h.create({ cron: '* * * * *', catchup: 'none' });
        h.clock.set('2026-05-01T10:02:40Z'); // down over 10:01 and 10:02
        await h.scheduler.tick();
        const after = (await h.store.get(s.id))!;
        assert.equal((await h.runsOf(s.id)).length, 0);
        assert.equal(after.missed_skipped, 2);
        assert.equal(h.counters.missed, 2);
        assert.equal(iso(after.next_run_at_ms), '2026-05-01T10:03:00.000Z');
        h.clock.set('2026-05-01T10:03:00.050Z');
        await h.scheduler.tick();
        assert.deepEqual((await h.runsOf(s.id)).map((j) => iso(j.scheduled_for_ms)), ['2026-05-01T10:03:00.000Z'], 'back on time: runs');
      });

      it('per minute: misfire_grace_s lets the late fire run (only the latest one)', async () => {
        h = await harness(backend, '2026-05-01T10:00:30Z');
        const s = await h.create({ cron: '* * * * *', catchup: 'none', misfire_grace_s: 60 });
        h.clock.set('2026-05-01T10:02:40Z');
        await h.scheduler.tick();
        assert.deepEqual((await h.runsOf(s.id)).map((j) => iso(j.scheduled_for_ms)), ['2026-05-01T10:02:00.000Z']);
        assert.equal((await h.store.get(s.id))!.missed_skipped, 1, '10:01 is 100 s late: beyond the grace');
        assert.equal(h.counters.caughtUp, 1);
      });

      it('per second (*/5): a fire missed during a 30 s stop of the scheduler is skipped and counted', async () => {
        h = await harness(backend, '2026-05-01T10:00:00.500Z');
        const s = await h.create({ cron: '*/5 * * * * *', catchup: 'none' });
        for (const at of ['2026-05-01T10:00:05.010Z', '2026-05-01T10:00:10.010Z']) {
          h.clock.set(at);
          await h.scheduler.tick();
          await h.finishAll('succeeded');
        }
        assert.equal((await h.runsOf(s.id)).length, 2, 'on time while up');
        await h.scheduler.stop();
        // Down from 10:00:11 to 10:00:43: fires 10:00:15 … 10:00:40 fall in the downtime (the last one 3 s before the restart).
        h.clock.set('2026-05-01T10:00:43Z');
        const restarted = new Scheduler({ store: h.store, clock: h.clock, random: () => 0.5 });
        await restarted.tick();
        const after = (await h.store.get(s.id))!;
        assert.deepEqual((await h.runsOf(s.id)).map((j) => iso(j.scheduled_for_ms)), ['2026-05-01T10:00:05.000Z', '2026-05-01T10:00:10.000Z']);
        assert.equal(after.missed_skipped, 6);
        assert.equal(iso(after.next_run_at_ms), '2026-05-01T10:00:45.000Z');
        h.clock.set('2026-05-01T10:00:45.020Z');
        await restarted.tick();
        assert.equal((await h.runsOf(s.id)).length, 3, 'the first fire after the restart runs');
        await restarted.stop();
      });

      it('per second (*/5): misfire_grace_s 10 runs the last fire of the downtime', async () => {
        h = await harness(backend, '2026-05-01T10:00:00.500Z');
        const s = await h.create({ cron: '*/5 * * * * *', catchup: 'none', misfire_grace_s: 10 });
        h.clock.set('2026-05-01T10:00:43Z');
        await h.scheduler.tick();
        assert.deepEqual((await h.runsOf(s.id)).map((j) => iso(j.scheduled_for_ms)), ['2026-05-01T10:00:40.000Z']);
        assert.equal((await h.store.get(s.id))!.missed_skipped, 7);
      });
    });

    describe('overlap', () => {
      const twoFires = async (overlap: 'skip' | 'queue' | 'allow', max_concurrent = 1) => {
        h = await harness(backend, '2026-05-01T10:00:30Z');
        const s = await h.create({ cron: '* * * * *', overlap, max_concurrent });
        h.clock.set('2026-05-01T10:01:00Z');
        await h.scheduler.tick();
        await h.jobs.claimNext('w'); // the first run is now running
        h.clock.set('2026-05-01T10:02:00Z');
        await h.scheduler.tick();
        return s;
      };
      it('skip (default): the second fire is recorded as skipped', async () => {
        const s = await twoFires('skip');
        assert.equal((await h.runsOf(s.id)).length, 1);
        assert.equal((await h.store.get(s.id))!.overlap_skipped, 1);
        assert.equal(h.counters.overlapSkipped, 1);
      });
      it('queue: the second fire waits for the first run to end, then runs', async () => {
        const s = await twoFires('queue');
        assert.equal((await h.runsOf(s.id)).length, 1, 'not enqueued while the first runs');
        const first = (await h.runsOf(s.id))[0]!;
        await h.jobs.markFinished(first.id, 'succeeded', {});
        await h.scheduler.tick();
        const runs = await h.runsOf(s.id);
        assert.deepEqual(runs.map((j) => iso(j.scheduled_for_ms)), ['2026-05-01T10:01:00.000Z', '2026-05-01T10:02:00.000Z']);
      });
      it('allow: runs while fewer than max_concurrent are active', async () => {
        const s = await twoFires('allow', 2);
        assert.equal((await h.runsOf(s.id)).length, 2);
        h.clock.set('2026-05-01T10:03:00Z');
        await h.scheduler.tick();
        assert.equal((await h.runsOf(s.id)).length, 2, 'third skipped: two active');
        assert.equal((await h.store.get(s.id))!.overlap_skipped, 1);
      });
    });

    describe('retries', () => {
      it('re-runs a failed attempt after retry_backoff_s × 2^(attempt−1) with jitter, same scheduled_for, up to max_retries', async () => {
        h = await harness(backend, '2026-05-01T10:00:30Z');
        const s = await h.create({ cron: '0 12 * * *', max_retries: 2, retry_backoff_s: 10 });
        h.clock.set('2026-05-01T12:00:00Z');
        await h.scheduler.tick();
        await h.finishAll('failed');
        const next = await h.scheduler.tick();
        // random() = 0.5 → +10 % jitter: 10 s × 1.1 = 11 s.
        assert.equal(next, Date.parse('2026-05-01T12:00:11Z'));
        assert.equal(h.settled.at(-1)!.event, 'retrying');
        h.clock.set('2026-05-01T12:00:10.900Z');
        await h.scheduler.tick();
        assert.equal((await h.runsOf(s.id)).length, 1, 'not before the backoff');
        h.clock.set('2026-05-01T12:00:11Z');
        await h.scheduler.tick();
        let runs = await h.runsOf(s.id);
        assert.deepEqual(runs.map((j) => [j.attempt, iso(j.scheduled_for_ms)]), [[1, '2026-05-01T12:00:00.000Z'], [2, '2026-05-01T12:00:00.000Z']]);
        await h.finishAll('timed_out');
        assert.equal(await h.scheduler.tick(), Date.parse('2026-05-01T12:00:33Z'), 'second retry: 20 s × 1.1 after 12:00:11');
        h.clock.set('2026-05-01T12:00:33Z');
        await h.scheduler.tick();
        await h.finishAll('failed');
        await h.scheduler.tick();
        runs = await h.runsOf(s.id);
        assert.deepEqual(runs.map((j) => j.attempt), [1, 2, 3], 'no fourth attempt');
        assert.equal(h.settled.at(-1)!.event, 'failed');
        assert.equal((await h.store.get(s.id))!.retries, 2);
        assert.equal(h.counters.retried, 2);
      });
      it('caps the backoff', async () => {
        h = await harness(backend, '2026-05-01T10:00:30Z', { retryCapS: 30 });
        await h.create({ cron: '0 12 * * *', max_retries: 5, retry_backoff_s: 1000 });
        h.clock.set('2026-05-01T12:00:00Z');
        await h.scheduler.tick();
        await h.finishAll('failed');
        assert.equal(await h.scheduler.tick(), Date.parse('2026-05-01T12:00:30Z'));
      });
      it('never retries a cancelled or succeeded run', async () => {
        h = await harness(backend, '2026-05-01T10:00:30Z');
        const s = await h.create({ cron: '0 12 * * *', max_retries: 3, retry_backoff_s: 1 });
        h.clock.set('2026-05-01T12:00:00Z');
        await h.scheduler.tick();
        await h.finishAll('cancelled');
        await h.scheduler.tick();
        h.clock.advance(10 * MIN);
        await h.scheduler.tick();
        assert.equal((await h.runsOf(s.id)).length, 1);
        assert.equal(h.settled.at(-1)!.event, null);
      });
    });

    describe('bounds and edits', () => {
      it('end_at: no fire after it, next_run_at becomes null', async () => {
        h = await harness(backend, '2026-05-01T10:00:30Z');
        const s = await h.create({ cron: '*/30 * * * *', end_at_ms: Date.parse('2026-05-01T11:00:00Z') });
        h.clock.set('2026-05-01T12:00:00Z');
        await h.scheduler.tick();
        const runs = await h.runsOf(s.id);
        assert.deepEqual(runs.map((j) => iso(j.scheduled_for_ms)), ['2026-05-01T11:00:00.000Z']);
        assert.equal((await h.store.get(s.id))!.next_run_at_ms, null);
        h.clock.advance(24 * 60 * MIN);
        await h.scheduler.tick();
        assert.equal((await h.runsOf(s.id)).length, 1);
      });
      it('start_at: the first fire is at or after it', async () => {
        h = await harness(backend, '2026-05-01T10:00:30Z');
        const s = await h.create({ cron: '0 * * * *', start_at_ms: Date.parse('2026-05-02T00:00:00Z') });
        assert.equal(iso(s.next_run_at_ms), '2026-05-02T00:00:00.000Z');
      });
      it('paused: fires nothing', async () => {
        h = await harness(backend, '2026-05-01T10:00:30Z');
        const s = await h.create({ cron: '* * * * *', paused: true });
        h.clock.set('2026-05-01T11:00:00Z');
        await h.scheduler.tick();
        assert.equal((await h.runsOf(s.id)).length, 0);
      });
      it('deleted: never fires again; its jobs stay', async () => {
        h = await harness(backend, '2026-05-01T10:00:30Z');
        const s = await h.create({ cron: '* * * * *' });
        h.clock.set('2026-05-01T10:01:00Z');
        await h.scheduler.tick();
        const [job] = await h.runsOf(s.id);
        assert.ok(await h.store.delete(s.id));
        h.clock.set('2026-05-01T10:05:00Z');
        await h.scheduler.tick();
        assert.equal((await h.jobs.list({ limit: 100 })).jobs.length, 1);
        assert.equal((await h.jobs.get(job!.id))!.schedule_id, s.id);
      });
    });
  });
}
