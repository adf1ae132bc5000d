/**
 * The job a fire starts is the schedule's checked template (saved by the HTTP
 * API from the intake's answer), on both stores: its target, server, notebook,
 * kernel, parameters (lossless: a float stays a float, a big int keeps its
 * digits) and limits, for the fire, a retry and a queued overlap alike. A
 * schedule stored before templates were kept (null) fires from its settings
 * until the scheduler's backfill stores its checked template.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PyFloat } from '../../src/notebook/py-float.js';
import type { NewJob } from '../../src/store/job-store.js';
import type { ScheduleJobTemplate } from '../../src/store/schedule-store.js';
import { harness, STORE_BACKENDS } from './harness.js';

const TEMPLATE: ScheduleJobTemplate = {
  target: 'user-server',
  server_name: 'gpu',
  notebook: 'reports/daily.ipynb',
  kernel: 'python3',
  parameters: { rate: new PyFloat(2), big: 2n ** 70n, nested: { x: new PyFloat(1.5), list: [1, 'a'] } },
  timeout_s: 120,
  cell_timeout_s: 30,
};

for (const backend of STORE_BACKENDS) {
  describe(`the schedule's job template (${backend})`, () => {
    it('is stored losslessly and is the job of every fire and retry, whatever the settings say', async () => {
      const h = await harness(backend, '2026-05-01T10:00:30Z');
      try {
        // Settings that differ from the template: the fire must not read them.
        const s = await h.create({ cron: '* * * * *', notebook: './x/../reports/daily.ipynb', parameters: { rate: 1 }, max_retries: 1, retry_backoff_s: 1, job_template: TEMPLATE });
        assert.deepEqual((await h.store.get(s.id))!.job_template, TEMPLATE);
        h.clock.set('2026-05-01T10:01:00Z');
        await h.scheduler.tick();
        const [fired] = await h.runsOf(s.id);
        assert.ok(fired, 'the fire started a job');
        for (const [k, v] of Object.entries(TEMPLATE)) assert.deepEqual(fired[k as keyof typeof fired], v, `fired job's ${k}`);
        assert.ok(fired.parameters.rate instanceof PyFloat, 'a float parameter stays a float');
        assert.equal(fired.attempt, 1);
        // The retry of the failed run is the template again.
        await h.finishAll('failed');
        await h.scheduler.tick();
        h.clock.advance(5000);
        await h.scheduler.tick();
        const runs = await h.runsOf(s.id);
        const retry = runs.find((j) => j.attempt === 2);
        assert.ok(retry, `a retry was enqueued: ${runs.map((j) => `${j.attempt}:${j.status}`).join(' ')}`);
        for (const [k, v] of Object.entries(TEMPLATE)) assert.deepEqual(retry[k as keyof typeof retry], v, `retry's ${k}`);
      } finally {
        await h.close();
      }
    });

    it('an edit stores a new template; a schedule without one (saved before templates) fires from its settings', async () => {
      const h = await harness(backend, '2026-05-01T10:00:30Z');
      try {
        const old = await h.create({ cron: '* * * * *', notebook: 'nb.ipynb', parameters: { n: 1 }, kernel: 'ir', timeout_s: 5 });
        assert.equal(old.job_template, null);
        h.clock.set('2026-05-01T10:01:00Z');
        await h.scheduler.tick();
        const [job] = await h.runsOf(old.id);
        assert.equal(job?.target, 'local', "the store's default target");
        assert.equal(job?.notebook, 'nb.ipynb');
        assert.deepEqual(job?.parameters, { n: 1 });
        assert.equal(job?.kernel, 'ir');
        assert.equal(job?.timeout_s, 5);
        const updated = await h.store.update(old.id, { job_template: { ...TEMPLATE, target: 'local', server_name: null, parameters: { n: 2 } } });
        assert.deepEqual(updated?.job_template?.parameters, { n: 2 });
        await h.finishAll('succeeded');
        h.clock.set('2026-05-01T10:02:00Z');
        await h.scheduler.tick();
        const second = (await h.runsOf(old.id))[1];
        assert.equal(second?.notebook, TEMPLATE.notebook);
        assert.deepEqual(second?.parameters, { n: 2 });
      } finally {
        await h.close();
      }
    });

    it('a schedule saved without a template gets its checked one at the first pass, paused or not; the fire starts it', async () => {
      const checked: NewJob[] = [];
      // The runner's check as the intake answers it: the target decided, the notebook path normalized.
      const checkJob = async (j: NewJob): Promise<NewJob> => {
        checked.push(j);
        return { ...j, target: 'local', server_name: null, notebook: j.notebook.replace('./x/../', '') };
      };
      const h = await harness(backend, '2026-05-01T10:00:30Z', { checkJob });
      try {
        const old = await h.create({ cron: '* * * * *', notebook: './x/../nb.ipynb', parameters: { n: new PyFloat(1) }, kernel: 'ir', timeout_s: 5 });
        const paused = await h.create({ cron: '@daily', paused: true });
        assert.equal(old.job_template, null);
        await h.scheduler.tick(); // nothing due yet: the backfill alone
        const want = { target: 'local', server_name: null, notebook: 'nb.ipynb', kernel: 'ir', parameters: { n: new PyFloat(1) }, timeout_s: 5, cell_timeout_s: null };
        assert.deepEqual((await h.store.get(old.id))!.job_template, want);
        assert.notEqual((await h.store.get(paused.id))!.job_template, null, 'a paused schedule gets its template too');
        assert.equal((await h.store.get(old.id))!.updated_at_ms, old.updated_at_ms, 'not a change of the schedule');
        const asked = checked.find((j) => j.notebook === './x/../nb.ipynb')!;
        assert.deepEqual([asked.username, asked.source, asked.kernel, asked.timeout_s], ['alice', 'schedule', 'ir', 5]);
        h.clock.set('2026-05-01T10:01:00Z');
        await h.scheduler.tick();
        const [job] = await h.runsOf(old.id);
        assert.equal(job?.notebook, 'nb.ipynb', 'the fire started the checked job');
        assert.equal(checked.length, 2, 'each schedule was checked once');
      } finally {
        await h.close();
      }
    });

    it('a refused check keeps the settings path (the fire still runs) and is tried again before a later fire', async () => {
      let accept = false;
      let calls = 0;
      const checkJob = async (j: NewJob): Promise<NewJob> => {
        calls++;
        if (!accept) throw new Error(`notebook not found in the home of alice: ${j.notebook}`);
        return { ...j, target: 'local', server_name: null };
      };
      const h = await harness(backend, '2026-05-01T10:00:30Z', { checkJob, templateRetryMs: 600_000 });
      try {
        const s = await h.create({ cron: '* * * * *', notebook: 'gone.ipynb' });
        await h.scheduler.tick();
        assert.equal(calls, 1);
        assert.equal((await h.store.get(s.id))!.job_template, null);
        h.clock.set('2026-05-01T10:01:00Z');
        await h.scheduler.tick();
        assert.equal(calls, 1, 'not checked again within the retry interval');
        assert.equal((await h.runsOf(s.id)).length, 1, 'the fire ran from the settings');
        await h.finishAll('failed');
        accept = true; // the notebook is back
        h.clock.set('2026-05-01T10:12:00Z');
        await h.scheduler.tick();
        assert.equal(calls, 2, 'checked again before a fire after the interval');
        assert.equal((await h.store.get(s.id))!.job_template?.notebook, 'gone.ipynb');
      } finally {
        await h.close();
      }
    });

    it('a template is stored only while the row has none and is unchanged since it was read', async () => {
      const h = await harness(backend, '2026-05-01T10:00:30Z');
      try {
        const s = await h.create({ cron: '@daily' });
        h.clock.advance(1000);
        const edited = (await h.store.update(s.id, { name: 'renamed' }))!;
        assert.equal(await h.store.storeJobTemplate(s.id, TEMPLATE, s.updated_at_ms), false, 'read before an edit: not stored');
        assert.equal((await h.store.get(s.id))!.job_template, null);
        assert.equal(await h.store.storeJobTemplate(s.id, TEMPLATE, edited.updated_at_ms), true);
        assert.deepEqual((await h.store.get(s.id))!.job_template, TEMPLATE);
        const other = { ...TEMPLATE, notebook: 'other.ipynb' };
        assert.equal(await h.store.storeJobTemplate(s.id, other, edited.updated_at_ms), false, 'a template is never replaced by the backfill');
        assert.equal((await h.store.get(s.id))!.job_template?.notebook, TEMPLATE.notebook);
      } finally {
        await h.close();
      }
    });
  });
}
