import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { SqliteScheduleStore } from '../../src/store/sqlite-schedule-store.js';
import type { FirePlan } from '../../src/store/schedule-store.js';

describe('SqliteScheduleStore on one file through two connections (as two processes)', () => {
  let dir: string;
  let a: SqliteJobStore;
  let b: SqliteJobStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hubmill-sched-store-'));
    a = new SqliteJobStore({ path: join(dir, 'jobs.sqlite') });
    b = new SqliteJobStore({ path: join(dir, 'jobs.sqlite') });
  });
  after(async () => {
    await a.close();
    await b.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a fire time is taken by exactly one of them; the fire row and its job commit together', async () => {
    const sa = new SqliteScheduleStore(a);
    const sb = new SqliteScheduleStore(b);
    const t = Date.parse('2026-05-01T10:01:00Z');
    const s = await sa.create({
      name: 'x', notebook: 'nb.ipynb', parameters: {}, kernel: null, cron: '* * * * *', timezone: 'UTC', timeout_s: null, cell_timeout_s: null,
      overlap: 'allow', max_concurrent: 10, max_retries: 0, retry_backoff_s: 1, catchup: 'latest', max_catchup: 100, start_at_ms: null,
      end_at_ms: null, paused: false, notify: null, owner: 'alice', created_by: 'alice', webhook_secret: null, next_run_at_ms: t,
    });
    const plan = (): FirePlan => ({ enqueue: [t], defer: [], skippedOverlap: [], missed: 0, nextRunAtMs: t + 60_000 });
    const [ra, rb] = await Promise.all([sa.fire(s.id, t, plan), sb.fire(s.id, t, plan)]);
    assert.equal([ra, rb].filter(Boolean).length, 1, 'exactly one connection fired');
    // Even with the check bypassed (next_run_at set back), the UNIQUE fire row refuses a second job.
    await sb.update(s.id, { next_run_at_ms: t });
    const again = await sb.fire(s.id, t, plan);
    assert.deepEqual(again?.jobs, []);
    const runs = await sa.runs(s.id, undefined, 10);
    assert.equal(runs.jobs.length, 1);
    assert.equal(runs.jobs[0]!.scheduled_for_ms, t);
    // A plan that throws rolls the fire back: no fire row, no job, next_run_at unchanged.
    await sa.update(s.id, { next_run_at_ms: t + 60_000 });
    await assert.rejects(sa.fire(s.id, t + 60_000, () => {
      throw new Error('boom');
    }));
    assert.equal((await sa.get(s.id))!.next_run_at_ms, t + 60_000);
    assert.equal((await sa.runs(s.id, undefined, 10)).jobs.length, 1);
  });
});
