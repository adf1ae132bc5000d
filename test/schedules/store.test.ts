import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { SqliteScheduleStore } from '../../src/store/sqlite-schedule-store.js';
import { PgScheduleStore } from '../../src/store/pg/pg-schedule-store.js';
import type { FirePlan, ScheduleStore } from '../../src/store/schedule-store.js';
import { freshSchema, pgStore } from '../helpers/pg.js';

/** Two schedule stores on one database through two connections (as two processes or nodes would). */
type MakePair = (t: TestContext) => Promise<[ScheduleStore, ScheduleStore]>;

const backends: [string, MakePair][] = [
  [
    'SqliteScheduleStore on one file',
    async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'hubmill-sched-store-'));
      const a = new SqliteJobStore({ path: join(dir, 'jobs.sqlite') });
      const b = new SqliteJobStore({ path: join(dir, 'jobs.sqlite') });
      t.after(async () => {
        await a.close();
        await b.close();
        await rm(dir, { recursive: true, force: true });
      });
      return [new SqliteScheduleStore(a), new SqliteScheduleStore(b)];
    },
  ],
  [
    'PgScheduleStore on one schema',
    async (t) => {
      const schema = freshSchema(t);
      const a = await pgStore(t, { schema });
      const b = await pgStore(t, { schema });
      return [new PgScheduleStore(a), new PgScheduleStore(b)];
    },
  ],
];

for (const [name, makePair] of backends) {
  describe(`${name} through two connections (as two processes)`, () => {
    it('a fire time is taken by exactly one of them; the fire row and its job commit together', async (t) => {
      const [sa, sb] = await makePair(t);
      const time = Date.parse('2026-05-01T10:01:00Z');
      const s = await sa.create({
        name: 'x', notebook: 'nb.ipynb', parameters: {}, kernel: null, cron: '* * * * *', timezone: 'UTC', timeout_s: null, cell_timeout_s: null,
        overlap: 'allow', max_concurrent: 10, max_retries: 0, retry_backoff_s: 1, catchup: 'latest', max_catchup: 100, misfire_grace_s: null, start_at_ms: null,
        end_at_ms: null, paused: false, notify: null, owner: 'alice', created_by: 'alice', webhook_secret: null, next_run_at_ms: time,
      });
      const plan = (): FirePlan => ({ enqueue: [time], defer: [], skippedOverlap: [], missed: 0, nextRunAtMs: time + 60_000 });
      const [ra, rb] = await Promise.all([sa.fire(s.id, time, plan), sb.fire(s.id, time, plan)]);
      assert.equal([ra, rb].filter(Boolean).length, 1, 'exactly one connection fired');
      // Even with the check bypassed (next_run_at set back), the unique fire row refuses a second job.
      await sb.update(s.id, { next_run_at_ms: time });
      const again = await sb.fire(s.id, time, plan);
      assert.deepEqual(again?.jobs, []);
      const runs = await sa.runs(s.id, undefined, 10);
      assert.equal(runs.jobs.length, 1);
      assert.equal(runs.jobs[0]!.scheduled_for_ms, time);
      // A plan that throws rolls the fire back: no fire row, no job, next_run_at unchanged.
      await sa.update(s.id, { next_run_at_ms: time + 60_000 });
      await assert.rejects(sa.fire(s.id, time + 60_000, () => {
        throw new Error('boom');
      }));
      assert.equal((await sa.get(s.id))!.next_run_at_ms, time + 60_000);
      assert.equal((await sa.runs(s.id, undefined, 10)).jobs.length, 1);
    });

    it('lists schedules and a schedule\'s runs newest first, page by page, each once', async (t) => {
      const [sa, sb] = await makePair(t);
      const base = Date.parse('2026-05-01T10:00:00Z');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const s = await sa.create({
          name: `s${i}`, notebook: 'nb.ipynb', parameters: {}, kernel: null, cron: '* * * * *', timezone: 'UTC', timeout_s: null, cell_timeout_s: null,
          overlap: 'allow', max_concurrent: 10, max_retries: 0, retry_backoff_s: 1, catchup: 'latest', max_catchup: 100, misfire_grace_s: null, start_at_ms: null,
          end_at_ms: null, paused: false, notify: null, owner: i === 4 ? 'bob' : 'alice', created_by: 'alice', webhook_secret: null, next_run_at_ms: base,
        });
        ids.push(s.id);
      }
      const seen: Array<{ id: string; created_at_ms: number }> = [];
      let cursor: string | undefined;
      for (let page = 0; page < 5; page++) {
        const p = await sb.list({ owner: 'alice', cursor, limit: 2 });
        seen.push(...p.schedules);
        if (!p.next_cursor) break;
        cursor = p.next_cursor;
      }
      // Alice's four, each once, newest first (created_at_ms, then id, both descending: several share a millisecond).
      assert.deepEqual(seen.map((s) => s.id).sort(), ids.slice(0, 4).sort());
      for (let i = 1; i < seen.length; i++) {
        const [a, b] = [seen[i - 1]!, seen[i]!];
        assert.ok(a.created_at_ms > b.created_at_ms || (a.created_at_ms === b.created_at_ms && a.id > b.id), `order at ${i}`);
      }
      // A schedule's runs: three fire times, two per page.
      const times = [base, base + 60_000, base + 120_000];
      await sa.fire(ids[0]!, base, () => ({ enqueue: times, defer: [], skippedOverlap: [], missed: 0, nextRunAtMs: base + 180_000 }));
      const first = await sb.runs(ids[0]!, undefined, 2);
      assert.equal(first.jobs.length, 2);
      assert.ok(first.next_cursor);
      const second = await sb.runs(ids[0]!, first.next_cursor, 2);
      assert.equal(second.next_cursor, null);
      assert.deepEqual([...first.jobs, ...second.jobs].map((j) => j.scheduled_for_ms).sort(), times);
      assert.equal(new Set([...first.jobs, ...second.jobs].map((j) => j.id)).size, 3);
    });

    it('50 fire times raced by both: each fires exactly once', async (t) => {
      const [sa, sb] = await makePair(t);
      const t0 = Date.parse('2026-05-01T10:00:00Z');
      const s = await sa.create({
        name: 'race', notebook: 'nb.ipynb', parameters: { big: 2n ** 70n }, kernel: null, cron: '* * * * *', timezone: 'UTC', timeout_s: null,
        cell_timeout_s: null, overlap: 'allow', max_concurrent: 100, max_retries: 0, retry_backoff_s: 1, catchup: 'latest', max_catchup: 100, misfire_grace_s: null,
        start_at_ms: null, end_at_ms: null, paused: false, notify: null, owner: 'alice', created_by: 'alice', webhook_secret: null, next_run_at_ms: t0,
      });
      const fireOnce = async (store: ScheduleStore, i: number) => {
        const at = t0 + i * 60_000;
        return store.fire(s.id, at, () => ({ enqueue: [at], defer: [], skippedOverlap: [], missed: 0, nextRunAtMs: at + 60_000 }));
      };
      let fired = 0;
      for (let i = 0; i < 50; i++) {
        const r = await Promise.all([fireOnce(sa, i), fireOnce(sb, i)]);
        fired += r.filter(Boolean).length;
      }
      assert.equal(fired, 50);
      const all = (await sa.runs(s.id, undefined, 1000)).jobs;
      assert.equal(all.length, 50);
      assert.equal(new Set(all.map((j) => j.scheduled_for_ms)).size, 50);
      assert.equal(all[0]!.parameters.big, 2n ** 70n, 'parameters stay lossless');
      assert.equal((await sb.get(s.id))!.fires, 50);
    });
  });
}
