/**
 * Run quotas through the HTTP API with the real SQLite store and the runner's
 * producer (the one door, which owns the quota): parallel submissions (jobs API
 * and the seed's /execute) never exceed the quota, a schedule's "run now" is
 * refused at the quota too, the refusals are 429 RUN_QUOTA problems with
 * Retry-After, and a replayed idempotency key is not a new run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { loadConfig } from '../../src/config.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import type { JobRunner } from '../../src/runner/runner-api.js';
import { JobProducer } from '../../src/runner/producer.js';
import { quotaFromSettings } from '../../src/runner/quota.js';
import { SqliteScheduleStore } from '../../src/store/sqlite-schedule-store.js';
import { WebhookAllowList } from '../../src/schedules/webhook-address.js';
import { auth, KERNELSPECS, TOKEN } from './fakes.js';

const NB = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] });

describe('run quota per user (HTTP API, SQLite store)', () => {
  let root: string;
  let store: SqliteJobStore;
  let app: FastifyInstance;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-quota-'));
    for (const u of ['alice', 'bob', 'carol']) {
      await mkdir(join(root, 'homes', u), { recursive: true });
      await writeFile(join(root, 'homes', u, 'nb.ipynb'), NB);
    }
    store = new SqliteJobStore({ path: join(root, 'jobs.sqlite') });
    const config = loadConfig(
      { apiToken: TOKEN, homeTemplate: join(root, 'homes', '{username}'), maxRunningPerUser: 1, maxQueuedPerUser: 2, rateLimitPerMin: 0, rateLimitIpPerMin: 0, executeWaitMaxS: 1 },
      {},
    );
    // The quota comes from the settings, as src/server.ts builds it; the intake is not under test here.
    const producer = new JobProducer({ intake: { check: async (job) => ({ job, kernel: null }) }, store, quota: quotaFromSettings(config) });
    // Jobs stay queued: nothing runs, so the quota alone decides.
    const runner: JobRunner = {
      submit: (job, opts) => producer.submit(job, opts),
      check: (job) => producer.check(job),
      wake: () => undefined,
      cancel: (id) => store.requestCancel(id),
      waitFor: (id) => store.get(id),
      subscribe: () => () => undefined,
      eventCursor: async () => null,
      stats: () => ({ running: 0, concurrency: 1, pool: {} }),
      start: async () => undefined,
      stop: async () => undefined,
    };
    const schedules = { store: new SqliteScheduleStore(store), wake: () => undefined, webhookAllow: new WebhookAllowList([]) };
    app = await buildApp({ config, store, runner, kernelspecs: async () => KERNELSPECS, logger: pino({ level: 'silent' }), schedules });
  });
  after(async () => {
    await app.close();
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('20 parallel submissions of one user: exactly 3 accepted (1 running + 2 waiting), 17 refused with 429 and Retry-After', async () => {
    const submit = (i: number) =>
      i % 4 === 3
        ? app.inject({ method: 'POST', url: '/execute', headers: auth, payload: { username: 'alice', notebook_name: 'nb.ipynb' } })
        : app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { username: 'alice', notebook: 'nb.ipynb' } });
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(i)));
    const refused = replies.filter((r) => r.statusCode === 429);
    const active = (await store.list({ username: 'alice', status: ['queued', 'running'], limit: 100 })).jobs;
    assert.equal(active.length, 3, replies.map((r) => r.statusCode).join(','));
    assert.equal(refused.length, 17);
    for (const r of refused) {
      assert.equal(r.json().code, 'RUN_QUOTA');
      assert.match(r.json().detail, /alice/);
      assert.ok(Number(r.headers['retry-after']) >= 1, String(r.headers['retry-after']));
      assert.equal(r.json().retry_after, Number(r.headers['retry-after']));
    }
    // Another user has a quota of their own.
    const bob = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { username: 'bob', notebook: 'nb.ipynb' } });
    assert.equal(bob.statusCode, 202);
  });

  it('a replayed idempotency key is answered at the quota; a job that ends frees a place', async () => {
    const user = { username: 'bob', notebook: 'nb.ipynb' };
    const first = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { ...user, idempotency_key: 'k1' } });
    assert.equal(first.statusCode, 202);
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: user })).statusCode, 202);
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: user })).statusCode, 429);
    const replay = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { ...user, idempotency_key: 'k1' } });
    assert.equal(replay.statusCode, 200);
    assert.equal(replay.json().id, first.json().id);
    await store.requestCancel(first.json().id);
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: user })).statusCode, 202);
  });

  it("a schedule's run now is a direct submission: refused with 429 at the quota, as the jobs API", async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/schedules',
      headers: auth,
      payload: { name: 'yearly', username: 'carol', notebook: 'nb.ipynb', cron: '0 0 1 1 *' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const runNow = () => app.inject({ method: 'POST', url: `/api/v1/schedules/${created.json().id}/run`, headers: auth, payload: {} });
    for (let i = 0; i < 3; i++) assert.equal((await runNow()).statusCode, 202);
    const refused = await runNow();
    assert.equal(refused.statusCode, 429, refused.body);
    assert.equal(refused.json().code, 'RUN_QUOTA');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal((await store.list({ username: 'carol', status: ['queued', 'running'], limit: 100 })).jobs.length, 3);
  });
});
