/**
 * Schedules across nodes on PostgreSQL: a schedule created, edited, paused or
 * deleted through one node (its own pool) calls the other node's
 * onSchedulesChanged at once (LISTEN/NOTIFY), not at its next pass; another
 * schema's changes do not. Then the wiring in `hubmill serve`: a running
 * scheduler makes a pass when another node creates a schedule.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { loadConfig } from '../../src/config.js';
import { startScheduling } from '../../src/server-schedules.js';
import { PgScheduleStore } from '../../src/store/pg/pg-schedule-store.js';
import { SCHEDULE_DEFAULTS, type NewSchedule, type ScheduleStore } from '../../src/store/schedule-store.js';
import { freshSchema, pgStore } from '../helpers/pg.js';
import { newJob } from '../store/conformance.js';

/** Polls `cond` every 10 ms for at most `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function newSchedule(over: Partial<NewSchedule> = {}): NewSchedule {
  return {
    ...SCHEDULE_DEFAULTS,
    name: 'wake',
    notebook: 'nb.ipynb',
    cron: '0 12 * * *',
    owner: 'alice',
    created_by: 'alice',
    webhook_secret: null,
    next_run_at_ms: Date.now() + 3_600_000,
    ...over,
  };
}

describe('PgScheduleStore: schedule changes reach the other nodes', () => {
  test('create, patch, pause and delete through one pool call the other pool\'s listener; another schema\'s changes do not', async (t) => {
    const schema = freshSchema(t);
    const workerJobs = await pgStore(t, { schema });
    const worker = new PgScheduleStore(workerJobs);
    const api = new PgScheduleStore(await pgStore(t, { schema }));
    const other = new PgScheduleStore(await pgStore(t)); // another schema on the same database
    let wakes = 0;
    const off = worker.onSchedulesChanged(() => wakes++);
    await workerJobs.listening();

    // Another schema's create: no wake-up. Checked with a change of ours sent after it (NOTIFYs arrive in commit order).
    await other.create(newSchedule());
    const s = await api.create(newSchedule());
    await until(() => wakes >= 1, 5000, 'the wake-up after a create');
    assert.equal(wakes, 1, "another schema's create did not wake this one");

    let seen = wakes;
    await api.update(s.id, { cron: '*/5 * * * *', next_run_at_ms: Date.now() + 60_000 });
    await until(() => wakes > seen, 5000, 'the wake-up after a patch');
    seen = wakes;
    await api.update(s.id, { paused: true });
    await until(() => wakes > seen, 5000, 'the wake-up after a pause');
    seen = wakes;
    await api.update(s.id, { paused: false });
    await until(() => wakes > seen, 5000, 'the wake-up after a resume');

    // Changes of nothing send nothing; the delete that follows proves the connection still delivers.
    seen = wakes;
    assert.equal(await api.update('sch_missing', { paused: true }), null);
    assert.equal(await api.delete('sch_missing'), false);
    assert.equal(await api.delete(s.id), true);
    const s2 = await api.create(newSchedule());
    await until(() => wakes >= seen + 2, 5000, 'the wake-ups after a delete and a create');
    assert.equal(wakes, seen + 2, 'only the real delete and the create woke the listener');

    // A job queued is not a schedule change (the two channels share the connection).
    seen = wakes;
    await workerJobs.enqueue(newJob());
    await api.update(s2.id, { paused: true });
    await until(() => wakes > seen, 5000, 'the wake-up after a pause');
    assert.equal(wakes, seen + 1, 'the queued job did not wake the schedules listener');
    off();
    const after = wakes;
    // A listener still subscribed hears the create: by then the one that left would have heard it too (one dispatch).
    let heard = 0;
    const offWitness = worker.onSchedulesChanged(() => heard++);
    t.after(offWitness);
    await api.create(newSchedule());
    await until(() => heard > 0, 5000, "the witness listener's wake-up");
    assert.equal(wakes, after, 'no wake-up after unsubscribing');
  });

  test("a running scheduler makes a pass when another node creates a schedule (no wait for its 30 s sleep); none after stop", async (t) => {
    const schema = freshSchema(t);
    const workerJobs = await pgStore(t, { schema });
    const api = new PgScheduleStore(await pgStore(t, { schema }));
    const real = new PgScheduleStore(workerJobs);
    let passes = 0;
    // Every pass starts by settling finished jobs: counting those calls counts passes.
    const counted = new Proxy(real, {
      get(target, key, receiver) {
        if (key === 'settleFinished') {
          return (...args: Parameters<ScheduleStore['settleFinished']>) => {
            passes++;
            return target.settleFinished(...args);
          };
        }
        const v = Reflect.get(target, key, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const config = loadConfig({ apiToken: 'x'.repeat(32), poolSizes: 'python3:0' } as never, {});
    const scheduling = startScheduling({ store: counted, config, logger: pino({ level: 'silent' }) });
    let stopped = false;
    t.after(async () => {
      if (!stopped) await scheduling.stop();
    });
    scheduling.start();
    await until(() => passes >= 1, 5000, 'the first pass');
    await workerJobs.listening();
    // Nothing is due for an hour: without a wake-up the loop's next pass is 30 s away.
    const before = passes;
    await api.create(newSchedule());
    await until(() => passes > before, 5000, 'a pass after the other node created a schedule');

    await scheduling.stop();
    stopped = true;
    const after = passes;
    await api.create(newSchedule());
    await new Promise((r) => setTimeout(r, 100)); // bounded: a pass after stop would show here
    assert.equal(passes, after, 'no pass after stop');
  });
});
