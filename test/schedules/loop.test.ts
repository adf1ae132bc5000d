import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { harness, type Harness } from './harness.js';

/** Polls until `check` holds (bounded), without fixed sleeps in the assertions. */
async function until(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('scheduler loop (real timers)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('sleeps while nothing is due (no busy polling) and notices a forward clock jump within its sleep cap', async () => {
    h = await harness('sqlite', '2026-05-01T10:00:30Z', { maxSleepMs: 200 });
    let passes = 0;
    const due = h.store.due.bind(h.store);
    h.store.due = async (now, limit) => {
      passes++;
      return due(now, limit);
    };
    const s = await h.create({ cron: '0 12 * * *' });
    h.scheduler.start();
    await until('the first pass', () => passes >= 1);
    const t0 = Date.now();
    await until('a few capped sleeps', () => Date.now() - t0 >= 1000, 5000);
    assert.ok(passes <= 1 + Math.ceil((Date.now() - t0) / 200) + 1, `${passes} passes in ${Date.now() - t0} ms with a 200 ms cap`);
    h.clock.set('2026-05-01T12:00:00.300Z'); // the wall clock jumps 2 h forward
    await until('the fire after the jump', async () => (await h.runsOf(s.id)).length === 1, 5000);
  });

  it('wakes at once when told (a schedule was created or a job ended)', async () => {
    h = await harness('sqlite', '2026-05-01T10:00:30Z', { maxSleepMs: 60_000 });
    h.scheduler.start();
    await new Promise((r) => setImmediate(r));
    const s = await h.create({ cron: '* * * * *' });
    h.clock.set('2026-05-01T10:01:00Z');
    const t0 = Date.now();
    h.scheduler.wake();
    await until('the fire', async () => (await h.runsOf(s.id)).length === 1, 5000);
    assert.ok(Date.now() - t0 < 5000);
  });
});
