import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import pino from 'pino';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { StaticTokenAuthenticator, type Authenticator, type Identity } from '../../src/http/auth.js';
import { NoSuchKernelError } from '../../src/errors.js';
import { intakeFor } from '../../src/runner/intake-for.js';
import { limitsFromSettings } from '../../src/runner/time-limits.js';
import type { JobRunner } from '../../src/runner/runner-api.js';
import { WebhookAllowList } from '../../src/schedules/webhook-address.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { SqliteScheduleStore } from '../../src/store/sqlite-schedule-store.js';

const TOKEN = 'schedules-test-token';
const admin = { authorization: `token ${TOKEN}` };
const as = (u: string) => ({ authorization: `token user-${u}` });
const usersByToken: Authenticator = {
  authenticate(req: FastifyRequest): Identity | null {
    const m = /^token user-(\w+)$/.exec(req.headers.authorization ?? '');
    return m ? { name: m[1]!, admin: false, kind: 'user', scopes: [] } : null;
  },
};
const NB = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3' } }, cells: [] });

describe('schedules HTTP API', () => {
  let root: string;
  let app: FastifyInstance;
  let jobs: SqliteJobStore;
  let store: SqliteScheduleStore;
  let wakes = 0;
  let now = Date.parse('2026-05-01T10:00:30Z');

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-sched-http-'));
    for (const u of ['alice', 'bob']) {
      await mkdir(join(root, u, 'reports'), { recursive: true });
      await writeFile(join(root, u, 'reports', 'daily.ipynb'), NB);
    }
    const config = loadConfig(
      { apiToken: TOKEN, homeTemplate: join(root, '{username}'), poolSizes: 'python3:0', webhookAllow: ['127.0.0.1'], maxTimeoutS: 3600, maxCellTimeoutS: 600 } as never,
      {},
    );
    jobs = new SqliteJobStore({ path: ':memory:' });
    store = new SqliteScheduleStore(jobs);
    // The real runner's checks (one kernelspec here: python3); submissions enqueue what they answer.
    const intake = intakeFor({
      homeFor: (u) => join(root, u),
      limits: limitsFromSettings(config),
      getKernelSpec: async (name) => {
        if (name !== 'python3') throw new NoSuchKernelError(`no such kernel named '${name}'`);
        return { name, language: 'python' };
      },
      runAsFor: async () => null,
      userServers: null,
    });
    const runner: JobRunner = {
      submit: async (j) => jobs.enqueue((await intake.check(j)).job),
      check: (j) => intake.check(j),
      wake: () => undefined,
      cancel: (id) => jobs.requestCancel(id),
      waitFor: (id) => jobs.get(id),
      subscribe: () => () => {},
      eventCursor: async () => null,
      stats: () => ({ running: 0, concurrency: 1, pool: {} }),
      start: async () => {},
      stop: async () => {},
    };
    app = await buildApp({
      config,
      store: jobs,
      runner,
      kernelspecs: async () => [],
      logger: pino({ level: 'silent' }),
      authenticators: [new StaticTokenAuthenticator(TOKEN), usersByToken],
      schedules: { store, wake: () => void wakes++, webhookAllow: new WebhookAllowList(config.webhookAllow), now: () => now },
    });
  });
  after(async () => {
    await app.close();
    await jobs.close();
    await rm(root, { recursive: true, force: true });
  });

  const preview = async (cron: string, timezone: string, from: string, count: number) => {
    const r = await app.inject({ url: `/api/v1/schedules/preview?${new URLSearchParams({ cron, timezone, from, count: String(count) })}`, headers: admin });
    assert.equal(r.statusCode, 200, r.body);
    return r.json().times as string[];
  };

  describe('preview: ISC cron daylight-saving rule in America/New_York', () => {
    it('spring forward 2026-03-08: 02:30 (in the gap) fires once at 03:00 EDT', async () => {
      // 02:30 EST the day before, 03:00 EDT on the day, then 02:30 EDT.
      assert.deepEqual(await preview('30 2 * * *', 'America/New_York', '2026-03-07T00:00:00Z', 3), [
        '2026-03-07T07:30:00.000Z', '2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z',
      ]);
    });
    it('spring forward: a */30 schedule fires 01:30 EST, then 03:00 EDT once (02:00 and 02:30 collapse)', async () => {
      assert.deepEqual(await preview('*/30 * * * *', 'America/New_York', '2026-03-08T06:15:00Z', 3), [
        '2026-03-08T06:30:00.000Z', '2026-03-08T07:00:00.000Z', '2026-03-08T07:30:00.000Z',
      ]);
    });
    it('fall back 2026-11-01: `30 1 * * *` fires at 01:30 EDT only', async () => {
      assert.deepEqual(await preview('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', 2), ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
    });
    it('fall back: `*/30 1 * * *` (fixed hour) fires 01:00 and 01:30 EDT only', async () => {
      assert.deepEqual(await preview('*/30 1 * * *', 'America/New_York', '2026-11-01T04:00:00Z', 3), [
        '2026-11-01T05:00:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-02T06:00:00.000Z',
      ]);
    });
    it('fall back: `*/30 * * * *` fires 01:00 EDT, 01:30 EDT, 01:00 EST, 01:30 EST', async () => {
      assert.deepEqual(await preview('*/30 * * * *', 'America/New_York', '2026-11-01T04:45:00Z', 5), [
        '2026-11-01T05:00:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T06:30:00.000Z', '2026-11-01T07:00:00.000Z',
      ]);
    });
    it('6 fields (seconds) and nicknames', async () => {
      assert.deepEqual(await preview('*/20 * * * * *', 'UTC', '2026-01-01T00:00:00Z', 3), ['2026-01-01T00:00:20.000Z', '2026-01-01T00:00:40.000Z', '2026-01-01T00:01:00.000Z']);
      assert.deepEqual(await preview('@daily', 'Europe/Berlin', '2026-01-01T00:00:00Z', 1), ['2026-01-01T23:00:00.000Z']);
      assert.deepEqual(await preview('@hourly', 'UTC', '2026-01-01T00:00:00Z', 1), ['2026-01-01T01:00:00.000Z']);
    });
    it('answers 422 saying what is wrong with a cron or time zone', async () => {
      for (const [cron, tz, re] of [
        ['61 * * * *', 'UTC', /minute/],
        ['* * *', 'UTC', /3 fields/],
        ['@often', 'UTC', /nickname/],
        ['0 0 30 2 *', 'UTC', /never fires/],
        ['* * * * *', 'Mars/Olympus', /unknown timezone 'Mars\/Olympus'/],
      ] as const) {
        const r = await app.inject({ url: `/api/v1/schedules/preview?${new URLSearchParams({ cron, timezone: tz })}`, headers: admin });
        assert.equal(r.statusCode, 422, `${cron} ${tz}`);
        assert.match(r.json().detail, re);
      }
    });
  });

  describe('CRUD and authorization', () => {
    let id: string;
    it('creates (201) with defaults, owner = caller, next_run_at; webhook_secret only once', async () => {
      const r = await app.inject({
        method: 'POST', url: '/api/v1/schedules', headers: as('alice'),
        payload: { name: 'daily', notebook: 'reports/daily.ipynb', cron: '0 9 * * *', timezone: 'Europe/Berlin', parameters: { a: 1 }, notify: { webhook_url: 'http://127.0.0.1:9/hook', on: ['failed'] } },
      });
      assert.equal(r.statusCode, 201, r.body);
      const s = r.json();
      id = s.id;
      assert.equal(s.owner, 'alice');
      assert.equal(s.overlap, 'skip');
      assert.equal(s.catchup, 'latest');
      assert.equal(s.max_catchup, 100);
      assert.equal(s.misfire_grace_s, null);
      assert.equal(s.max_retries, 0);
      assert.equal(s.next_run_at, '2026-05-02T07:00:00.000Z');
      assert.equal(s.last_run, null);
      assert.match(s.webhook_secret, /^[0-9a-f]{64}$/);
      assert.ok(wakes > 0);
      const again = (await app.inject({ url: `/api/v1/schedules/${id}`, headers: as('alice') })).json();
      assert.equal(again.webhook_secret, undefined);
      assert.equal(again.name, 'daily');
    });
    it('refuses bad input with clear 4xx', async () => {
      const post = (payload: object) => app.inject({ method: 'POST', url: '/api/v1/schedules', headers: as('alice'), payload });
      const base = { name: 'x', notebook: 'reports/daily.ipynb', cron: '* * * * *' };
      assert.equal((await post({ ...base, cron: 'every day' })).statusCode, 422);
      assert.equal((await post({ ...base, timezone: 'Nowhere/City' })).statusCode, 422);
      assert.equal((await post({ ...base, notebook: '../bob/reports/daily.ipynb' })).statusCode, 400);
      assert.equal((await post({ ...base, notebook: 'missing.ipynb' })).statusCode, 422);
      assert.equal((await post({ ...base, overlap: 'sometimes' })).statusCode, 422);
      for (const misfire_grace_s of [-1, 86_401, 'soon']) {
        const r = await post({ ...base, catchup: 'none', misfire_grace_s });
        assert.equal(r.statusCode, 422, `misfire_grace_s ${misfire_grace_s}`);
        assert.match(r.json().detail, /misfire_grace_s/);
      }
      assert.equal((await post({ ...base, start_at: '2026-06-01T00:00:00Z', end_at: '2026-05-01T00:00:00Z' })).statusCode, 422);
      assert.equal((await post({ ...base, username: 'bob' })).statusCode, 403);
      for (const url of ['file:///etc/passwd', 'http://169.254.169.254/latest', 'http://[fe80::1]/x', 'http://10.1.2.3/x', 'http://localhost:9/x', 'http://metadata.google.internal/x']) {
        const r = await post({ ...base, notify: { webhook_url: url, on: ['failed'] } });
        assert.equal(r.statusCode, 422, url);
        assert.equal(r.json().code, 'WEBHOOK_REFUSED', url);
      }
    });
    it('another user gets 404 for every route; admins see it', async () => {
      for (const [method, url] of [['GET', ''], ['PATCH', ''], ['DELETE', ''], ['POST', '/pause'], ['POST', '/resume'], ['POST', '/run'], ['GET', '/runs']] as const) {
        const r = await app.inject({ method, url: `/api/v1/schedules/${id}${url}`, headers: as('bob'), ...(method === 'PATCH' ? { payload: { name: 'mine' } } : url === '/run' ? { payload: {} } : {}) });
        assert.equal(r.statusCode, 404, `${method} ${url}`);
      }
      assert.equal((await app.inject({ url: `/api/v1/schedules/${id}`, headers: admin })).statusCode, 200);
    });
    it('lists your own; admins everyone, filtered by ?username=', async () => {
      await app.inject({ method: 'POST', url: '/api/v1/schedules', headers: as('bob'), payload: { name: 'b', notebook: 'reports/daily.ipynb', cron: '@hourly' } });
      const mine = (await app.inject({ url: '/api/v1/schedules', headers: as('alice') })).json().schedules;
      assert.deepEqual(mine.map((s: { owner: string }) => s.owner), ['alice']);
      assert.equal((await app.inject({ url: '/api/v1/schedules?username=bob', headers: as('alice') })).statusCode, 403);
      const all = (await app.inject({ url: '/api/v1/schedules', headers: admin })).json().schedules;
      assert.deepEqual(all.map((s: { owner: string }) => s.owner).sort(), ['alice', 'bob']);
      const bobs = (await app.inject({ url: '/api/v1/schedules?username=bob', headers: admin })).json().schedules;
      assert.deepEqual(bobs.map((s: { owner: string }) => s.owner), ['bob']);
    });
    it('PATCH of cron/timezone recomputes next_run_at from now; other edits keep it', async () => {
      now = Date.parse('2026-05-03T12:00:00Z');
      let r = await app.inject({ method: 'PATCH', url: `/api/v1/schedules/${id}`, headers: as('alice'), payload: { name: 'renamed' } });
      assert.equal(r.json().next_run_at, '2026-05-02T07:00:00.000Z');
      r = await app.inject({ method: 'PATCH', url: `/api/v1/schedules/${id}`, headers: as('alice'), payload: { cron: '30 14 * * *' } });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().next_run_at, '2026-05-03T12:30:00.000Z');
      r = await app.inject({ method: 'PATCH', url: `/api/v1/schedules/${id}`, headers: as('alice'), payload: { timezone: 'UTC' } });
      assert.equal(r.json().next_run_at, '2026-05-03T14:30:00.000Z');
      assert.equal((await app.inject({ method: 'PATCH', url: `/api/v1/schedules/${id}`, headers: as('alice'), payload: { cron: 'nope' } })).statusCode, 422);
    });
    it('misfire_grace_s is stored, patched and cleared', async () => {
      const created = await app.inject({ method: 'POST', url: '/api/v1/schedules', headers: as('alice'), payload: { name: 'g', notebook: 'reports/daily.ipynb', cron: '@hourly', catchup: 'none', misfire_grace_s: 90 } });
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(created.json().misfire_grace_s, 90);
      const sid = created.json().id;
      let r = await app.inject({ method: 'PATCH', url: `/api/v1/schedules/${sid}`, headers: as('alice'), payload: { misfire_grace_s: 2.5 } });
      assert.equal(r.json().misfire_grace_s, 2.5);
      r = await app.inject({ method: 'PATCH', url: `/api/v1/schedules/${sid}`, headers: as('alice'), payload: { misfire_grace_s: 0 } });
      assert.strictEqual(r.json().misfire_grace_s, 0, '0 s stays 0 (not coerced to null)');
      r = await app.inject({ method: 'PATCH', url: `/api/v1/schedules/${sid}`, headers: as('alice'), payload: { misfire_grace_s: null } });
      assert.equal(r.json().misfire_grace_s, null);
      assert.equal((await store.get(sid))!.misfire_grace_s, null);
      await app.inject({ method: 'DELETE', url: `/api/v1/schedules/${sid}`, headers: as('alice') });
    });
    it('PATCH of each nullable field to null stores null (not the "" or 0 of type coercion)', async () => {
      const set = {
        kernel: 'python3',
        start_at: '2026-05-01T00:00:00.000Z',
        end_at: '2027-05-01T00:00:00.000Z',
        timeout_s: 60,
        cell_timeout_s: 30,
        notify: { webhook_url: 'http://127.0.0.1:9/n', on: ['failed'] },
        misfire_grace_s: 90,
      } as const;
      const created = await app.inject({
        method: 'POST', url: '/api/v1/schedules', headers: as('alice'),
        payload: { name: 'nulls', notebook: 'reports/daily.ipynb', cron: '@hourly', catchup: 'none', ...set },
      });
      assert.equal(created.statusCode, 201, created.body);
      const sid = created.json().id as string;
      const stored = { kernel: 'kernel', start_at: 'start_at_ms', end_at: 'end_at_ms', timeout_s: 'timeout_s', cell_timeout_s: 'cell_timeout_s', notify: 'notify', misfire_grace_s: 'misfire_grace_s' } as const;
      for (const field of Object.keys(set) as (keyof typeof set)[]) {
        const before = (await app.inject({ url: `/api/v1/schedules/${sid}`, headers: as('alice') })).json();
        assert.notEqual(before[field], null, `${field} is set before the PATCH`);
        const r = await app.inject({ method: 'PATCH', url: `/api/v1/schedules/${sid}`, headers: as('alice'), payload: { [field]: null } });
        assert.equal(r.statusCode, 200, `${field}: ${r.body}`);
        assert.strictEqual(r.json()[field], null, `PATCH answer's ${field}`);
        assert.strictEqual((await app.inject({ url: `/api/v1/schedules/${sid}`, headers: as('alice') })).json()[field], null, `GET's ${field}`);
        assert.strictEqual((await store.get(sid))![stored[field]], null, `stored ${stored[field]}`);
      }
      // A job field set to null is checked again: the template follows (null kernel and limits).
      const t = (await store.get(sid))!.job_template!;
      assert.deepEqual([t.kernel, t.timeout_s, t.cell_timeout_s], [null, null, null]);
      await app.inject({ method: 'DELETE', url: `/api/v1/schedules/${sid}`, headers: as('alice') });
    });
    it('a webhook added by PATCH gets its secret, shown in that answer only', async () => {
      const created = (await app.inject({ method: 'POST', url: '/api/v1/schedules', headers: as('alice'), payload: { name: 'w', notebook: 'reports/daily.ipynb', cron: '@daily' } })).json();
      assert.equal(created.webhook_secret, undefined);
      const r = await app.inject({ method: 'PATCH', url: `/api/v1/schedules/${created.id}`, headers: as('alice'), payload: { notify: { webhook_url: 'http://127.0.0.1:9/h' } } });
      assert.equal(r.statusCode, 200, r.body);
      assert.match(r.json().webhook_secret, /^[0-9a-f]{64}$/);
      assert.deepEqual(r.json().notify.on, ['failed', 'timed_out']);
      const again = await app.inject({ method: 'PATCH', url: `/api/v1/schedules/${created.id}`, headers: as('alice'), payload: { name: 'w2' } });
      assert.equal(again.json().webhook_secret, undefined);
      await app.inject({ method: 'DELETE', url: `/api/v1/schedules/${created.id}`, headers: as('alice') });
    });
    it('pause and resume (resume counts from now)', async () => {
      assert.equal((await app.inject({ method: 'POST', url: `/api/v1/schedules/${id}/pause`, headers: as('alice') })).json().paused, true);
      now = Date.parse('2026-05-05T15:00:00Z');
      const r = (await app.inject({ method: 'POST', url: `/api/v1/schedules/${id}/resume`, headers: as('alice') })).json();
      assert.equal(r.paused, false);
      assert.equal(r.next_run_at, '2026-05-06T14:30:00.000Z');
    });
    it('run now answers the job, parameters override the schedule\'s; runs lists newest first, paginated', async () => {
      const one = await app.inject({ method: 'POST', url: `/api/v1/schedules/${id}/run`, headers: as('alice'), payload: { parameters: { b: 2.0 } } });
      assert.equal(one.statusCode, 202, one.body);
      const job = one.json();
      assert.deepEqual(job.parameters, { a: 1, b: 2 });
      assert.equal(job.schedule_id, id);
      assert.equal(job.scheduled_for, null);
      assert.equal(job.attempt, 1);
      const two = (await app.inject({ method: 'POST', url: `/api/v1/schedules/${id}/run`, headers: { ...as('alice'), 'content-type': 'application/json' } })).json();
      assert.equal(two.schedule_id, id, 'an empty JSON body runs with the schedule\'s parameters');
      const p1 = (await app.inject({ url: `/api/v1/schedules/${id}/runs?limit=1`, headers: as('alice') })).json();
      assert.deepEqual(p1.jobs.map((j: { id: string }) => j.id), [two.id]);
      const p2 = (await app.inject({ url: `/api/v1/schedules/${id}/runs?limit=1&cursor=${p1.next_cursor}`, headers: as('alice') })).json();
      assert.deepEqual(p2.jobs.map((j: { id: string }) => j.id), [job.id]);
      assert.equal(p2.next_cursor, null);
    });
    it('delete answers 204; the schedule is gone, its jobs stay', async () => {
      const before = (await app.inject({ url: '/api/v1/jobs?username=alice', headers: admin })).json().jobs.length;
      assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/schedules/${id}`, headers: as('alice') })).statusCode, 204);
      assert.equal((await app.inject({ url: `/api/v1/schedules/${id}`, headers: as('alice') })).statusCode, 404);
      const jobsAfter = (await app.inject({ url: '/api/v1/jobs?username=alice', headers: admin })).json().jobs;
      assert.equal(jobsAfter.length, before);
      assert.ok(jobsAfter.every((j: { schedule_id: string }) => j.schedule_id === id));
    });
  });

  describe('the job is checked when the schedule is saved (as a submitted job is)', () => {
    const post = (payload: object) => app.inject({ method: 'POST', url: '/api/v1/schedules', headers: as('alice'), payload });
    const patch = (id: string, payload: object) => app.inject({ method: 'PATCH', url: `/api/v1/schedules/${id}`, headers: as('alice'), payload });
    const base = { name: 'checked', notebook: 'reports/daily.ipynb', cron: '@daily' };
    const refused = (r: { statusCode: number; body: string; json(): { detail: string } }, re: RegExp, what: string) => {
      assert.equal(r.statusCode, 422, `${what}: ${r.body}`);
      assert.match(r.json().detail, re, what);
    };

    it('creation: a bad parameter name, a missing notebook, an unknown kernel, a limit above the maximum are 422 naming the problem', async () => {
      refused(await post({ ...base, parameters: { 'a b': 1 } }), /a b/, 'parameter "a b"');
      refused(await post({ ...base, notebook: 'reports/gone.ipynb' }), /notebook not found in the home of alice: reports\/gone\.ipynb/, 'missing notebook');
      refused(await post({ ...base, kernel: 'cobol9' }), /cobol9/, 'unknown kernel');
      refused(await post({ ...base, timeout_s: 7200 }), /timeout_s 7200 exceeds the server maximum of 3600 s \(HUBMILL_MAX_TIMEOUT_S\)/, 'timeout_s');
      const mine = (await app.inject({ url: '/api/v1/schedules', headers: as('alice') })).json().schedules as { name: string }[];
      assert.ok(!mine.some((x) => x.name === 'checked'), 'nothing refused was stored');
    });

    it('edit: the merged settings are checked again; a refused PATCH changes nothing', async () => {
      const created = await post({ ...base, parameters: { n: 1 } });
      assert.equal(created.statusCode, 201, created.body);
      const id = created.json().id as string;
      refused(await patch(id, { parameters: { 'a b': 1 } }), /a b/, 'PATCH parameter "a b"');
      refused(await patch(id, { notebook: 'reports/gone.ipynb' }), /notebook not found in the home of alice: reports\/gone\.ipynb/, 'PATCH missing notebook');
      refused(await patch(id, { kernel: 'cobol9' }), /cobol9/, 'PATCH unknown kernel');
      refused(await patch(id, { cell_timeout_s: 601, name: 'renamed' }), /cell_timeout_s 601 exceeds the server maximum of 600 s/, 'PATCH cell_timeout_s');
      const now = (await store.get(id))!;
      assert.equal(now.name, 'checked');
      assert.deepEqual(now.parameters, { n: 1 });
      assert.equal(now.notebook, 'reports/daily.ipynb');
      assert.deepEqual(now.job_template?.parameters, { n: 1 });
      assert.equal(now.job_template?.notebook, 'reports/daily.ipynb');
      const ok = await patch(id, { parameters: { n: 2 }, notebook: 'reports/../reports/daily.ipynb' });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json().notebook, 'reports/daily.ipynb');
      assert.deepEqual((await store.get(id))!.job_template?.parameters, { n: 2 });
      await app.inject({ method: 'DELETE', url: `/api/v1/schedules/${id}`, headers: as('alice') });
    });

    it('the stored template is the checked job: the notebook path normalized, the target decided; fires and run now start it', async () => {
      const created = await post({ ...base, notebook: './x/../reports/daily.ipynb', parameters: { n: 3 }, kernel: 'python3', timeout_s: 60, overlap: 'allow' });
      assert.equal(created.statusCode, 201, created.body);
      const view = created.json();
      assert.equal(view.notebook, 'reports/daily.ipynb');
      assert.equal(view.job_template, undefined, 'the template is not part of the API');
      const s = (await store.get(view.id))!;
      assert.deepEqual(s.job_template, {
        target: 'local', server_name: null, notebook: 'reports/daily.ipynb', kernel: 'python3', parameters: { n: 3 }, timeout_s: 60, cell_timeout_s: null,
      });
      const at = s.next_run_at_ms!;
      const fired = await store.fire(s.id, at, () => ({ enqueue: [at], defer: [], skippedOverlap: [], missed: 0, nextRunAtMs: at + 86_400_000 }));
      const job = fired!.jobs[0]!;
      assert.equal(job.notebook, 'reports/daily.ipynb');
      assert.deepEqual(job.parameters, { n: 3 });
      assert.equal(job.kernel, 'python3');
      assert.equal(job.timeout_s, 60);
      assert.equal(job.scheduled_for_ms, at);
      const run = await app.inject({ method: 'POST', url: `/api/v1/schedules/${s.id}/run`, headers: as('alice'), payload: { parameters: { m: 4 } } });
      assert.equal(run.statusCode, 202, run.body);
      assert.equal(run.json().notebook, 'reports/daily.ipynb');
      assert.deepEqual(run.json().parameters, { n: 3, m: 4 });
      assert.equal(run.json().timeout_s, 60);
      // Run now checks the overrides as any submission.
      refused(
        await app.inject({ method: 'POST', url: `/api/v1/schedules/${s.id}/run`, headers: as('alice'), payload: { parameters: { 'a b': 1 } } }),
        /a b/,
        'run now with parameter "a b"',
      );
      await app.inject({ method: 'DELETE', url: `/api/v1/schedules/${s.id}`, headers: as('alice') });
    });

    it('a notebook deleted after saving: renaming or pausing still works (no job field changed), changing a job field is refused', async () => {
      await writeFile(join(root, 'alice', 'reports', 'soon-gone.ipynb'), NB);
      const created = await post({ ...base, notebook: 'reports/soon-gone.ipynb' });
      assert.equal(created.statusCode, 201, created.body);
      const id = created.json().id as string;
      await rm(join(root, 'alice', 'reports', 'soon-gone.ipynb'));
      assert.equal((await patch(id, { name: 'still here' })).statusCode, 200);
      assert.equal((await app.inject({ method: 'POST', url: `/api/v1/schedules/${id}/pause`, headers: as('alice') })).statusCode, 200);
      refused(await patch(id, { parameters: { n: 1 } }), /notebook not found in the home of alice: reports\/soon-gone\.ipynb/, 'PATCH after delete');
      await app.inject({ method: 'DELETE', url: `/api/v1/schedules/${id}`, headers: as('alice') });
    });
  });

  it('the OpenAPI document describes every schedules route', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    for (const p of ['/api/v1/schedules', '/api/v1/schedules/{id}', '/api/v1/schedules/{id}/pause', '/api/v1/schedules/{id}/resume', '/api/v1/schedules/{id}/run', '/api/v1/schedules/{id}/runs', '/api/v1/schedules/preview']) {
      assert.ok(doc.paths[p], p);
    }
    assert.ok(doc.components.schemas.Schedule);
    assert.ok(doc.components.schemas.Job.properties.scheduled_for);
  });
});
