/**
 * The sharing store on SQLite and PostgreSQL alike: grants replaced and read
 * (one per principal, the highest level kept), the listing condition of jobs
 * (their own grants, their schedule's and their pipeline's), schedules and
 * pipelines (own + shared, and `sharedOnly`), and share links created, listed
 * and revoked.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharingStoreFor, scheduleStoreFor } from '../../src/store/open.js';
import { SCHEDULE_DEFAULTS, type NewSchedule } from '../../src/store/schedule-store.js';
import type { Visibility } from '../../src/store/sharing-store.js';
import { BACKENDS, newPipeline, plan, task } from './pipeline-fixtures.js';
import { newJob } from './conformance.js';

function ticking(): () => number {
  let t = 1_700_000_000_000;
  return () => t++;
}

const bob = (sharedOnly = false): Visibility => ({ owner: 'bob', principals: ['user:bob', 'group:analysts'], sharedOnly });

for (const backend of BACKENDS) {
  describe(`${backend.name}: sharing store`, () => {
    test('grants are replaced as a whole, one per principal (the highest level a body names)', async (t) => {
      const { jobs } = await backend.open(t, { now: ticking() });
      const sharing = sharingStoreFor(jobs);
      assert.deepEqual(await sharing.grants('schedule', 'sc_1'), []);
      const set = await sharing.setGrants(
        'schedule',
        'sc_1',
        [{ group: 'analysts', level: 'view' }, { user: 'carol', level: 'run' }, { group: 'analysts', level: 'manage' }],
        'alice',
      );
      assert.deepEqual(set, [{ group: 'analysts', level: 'manage' }, { user: 'carol', level: 'run' }]);
      await sharing.setGrants('pipeline', 'sc_1', [{ user: 'dave', level: 'view' }], 'alice');
      assert.deepEqual(await sharing.setGrants('schedule', 'sc_1', [{ user: 'carol', level: 'view' }], 'alice'), [{ user: 'carol', level: 'view' }]);
      // Another kind with the same id keeps its own.
      assert.deepEqual(await sharing.grants('pipeline', 'sc_1'), [{ user: 'dave', level: 'view' }]);
      assert.deepEqual(
        await sharing.grantsOf([['schedule', 'sc_1'], ['pipeline', 'sc_1']]),
        [{ user: 'carol', level: 'view' }, { user: 'dave', level: 'view' }],
      );
      assert.deepEqual(await sharing.setGrants('schedule', 'sc_1', [], 'alice'), []);
    });

    test('job listings show own jobs and jobs shared directly or through their schedule or pipeline', async (t) => {
      const { jobs } = await backend.open(t, { now: ticking() });
      const sharing = sharingStoreFor(jobs);
      const own = (await jobs.enqueue(newJob({ username: 'bob', submitted_by: 'bob' }))).job;
      const direct = (await jobs.enqueue(newJob())).job;
      const bySchedule = (await jobs.enqueue(newJob({ schedule_id: 'sc_shared' }))).job;
      const byPipeline = (await jobs.enqueue(newJob({ pipeline_id: 'pl_shared' }))).job;
      const hidden = (await jobs.enqueue(newJob({ schedule_id: 'sc_other' }))).job;
      await sharing.setGrants('job', direct.id, [{ user: 'bob', level: 'view' }], 'alice');
      await sharing.setGrants('schedule', 'sc_shared', [{ group: 'analysts', level: 'run' }], 'alice');
      await sharing.setGrants('pipeline', 'pl_shared', [{ group: 'analysts', level: 'view' }], 'alice');
      await sharing.setGrants('schedule', 'sc_other', [{ group: 'other', level: 'manage' }], 'alice');
      const ids = async (v: Visibility) => (await jobs.list({ visible: v, limit: 50 })).jobs.map((j) => j.id).sort();
      assert.deepEqual(await ids(bob()), [own.id, direct.id, bySchedule.id, byPipeline.id].sort());
      assert.deepEqual(await ids(bob(true)), [direct.id, bySchedule.id, byPipeline.id].sort());
      assert.ok(!(await ids(bob())).includes(hidden.id));
      // No principals (a service): its own only.
      assert.deepEqual(await ids({ owner: 'bob', principals: [], sharedOnly: false }), [own.id]);
      // Paging keeps the filter.
      const first = await jobs.list({ visible: bob(), limit: 2 });
      const rest = await jobs.list({ visible: bob(), limit: 50, cursor: first.next_cursor! });
      assert.equal(first.jobs.length + rest.jobs.length, 4);
    });

    test('schedule and pipeline listings: own + shared, or shared only', async (t) => {
      const { jobs, pipelines } = await backend.open(t, { now: ticking() });
      const sharing = sharingStoreFor(jobs);
      const schedules = scheduleStoreFor(jobs);
      const mk = (owner: string) =>
        schedules.create({ ...SCHEDULE_DEFAULTS, name: owner, cron: '0 * * * *', notebook: 'nb.ipynb', job_template: null, owner, created_by: owner, webhook_secret: null, next_run_at_ms: null } as NewSchedule);
      const sBob = await mk('bob');
      const sAlice = await mk('alice');
      const sHidden = await mk('alice');
      await sharing.setGrants('schedule', sAlice.id, [{ group: 'analysts', level: 'view' }], 'alice');
      const sIds = async (v: Visibility) => (await schedules.list({ visible: v, limit: 50 })).schedules.map((s) => s.id).sort();
      assert.deepEqual(await sIds(bob()), [sBob.id, sAlice.id].sort());
      assert.deepEqual(await sIds(bob(true)), [sAlice.id]);
      assert.ok(!(await sIds(bob())).includes(sHidden.id));
      const pBob = await pipelines.createPipeline(newPipeline(plan([task('a')]), { owner: 'bob', created_by: 'bob' }));
      const pAlice = await pipelines.createPipeline(newPipeline(plan([task('a')])));
      await pipelines.createPipeline(newPipeline(plan([task('a')])));
      await sharing.setGrants('pipeline', pAlice.id, [{ user: 'bob', level: 'run' }], 'alice');
      const pIds = async (v: Visibility) => (await pipelines.listPipelines({ visible: v, limit: 50 })).pipelines.map((p) => p.id).sort();
      assert.deepEqual(await pIds(bob()), [pBob.id, pAlice.id].sort());
      assert.deepEqual(await pIds(bob(true)), [pAlice.id]);
    });

    test('share links are created, listed newest first, revoked once, and only under their job', async (t) => {
      const { jobs } = await backend.open(t);
      const sharing = sharingStoreFor(jobs);
      const a = await sharing.createLink({ id: 'sl_a', job_id: 'j_1', created_by: 'alice', created_at_ms: 1000, expires_at_ms: 5000 });
      assert.deepEqual(a, { id: 'sl_a', job_id: 'j_1', created_by: 'alice', created_at_ms: 1000, expires_at_ms: 5000, revoked_at_ms: null });
      await sharing.createLink({ id: 'sl_b', job_id: 'j_1', created_by: 'bob', created_at_ms: 2000, expires_at_ms: 6000 });
      assert.deepEqual((await sharing.links('j_1')).map((l) => l.id), ['sl_b', 'sl_a']);
      assert.equal(await sharing.revokeLink('j_2', 'sl_a', 3000), false);
      assert.equal(await sharing.revokeLink('j_1', 'sl_a', 3000), true);
      assert.equal(await sharing.revokeLink('j_1', 'sl_a', 4000), true);
      assert.equal((await sharing.getLink('sl_a'))?.revoked_at_ms, 3000);
      assert.equal(await sharing.getLink('sl_nope'), null);
    });
  });
}
