/**
 * Run quotas through the HTTP API with the real SQLite store: parallel
 * submissions (jobs API and the seed's /execute) never exceed the quota, the
 * refusals are 429 RUN_QUOTA problems with Retry-After, and a replayed
 * idempotency key is not a new run.
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
import { auth, KERNELSPECS, TOKEN } from './fakes.js';

const NB = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] });

describe('run quota per user (HTTP API, SQLite store)', () => {
  let root: string;
  let store: SqliteJobStore;
  let app: FastifyInstance;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-quota-'));
    for (const u of ['alice', 'bob']) {
      await mkdir(join(root, 'homes', u), { recursive: true });
      await writeFile(join(root, 'homes', u, 'nb.ipynb'), NB);
    }
    store = new SqliteJobStore({ path: join(root, 'jobs.sqlite') });
    // Jobs stay queued: nothing runs, so the quota alone decides.
    const runner: JobRunner = {
      submit: (job) => store.enqueue(job),
      check: async (job) => ({ job, kernel: null }),
      wake: () => undefined,
      cancel: (id) => store.requestCancel(id),
      waitFor: (id) => store.get(id),
      subscribe: () => () => undefined,
      eventCursor: async () => null,
      stats: () => ({ running: 0, concurrency: 1, pool: {} }),
      start: async () => undefined,
      stop: async () => undefined,
    };
    const config = loadConfig(
      { apiToken: TOKEN, homeTemplate: join(root, 'homes', '{username}'), maxRunningPerUser: 1, maxQueuedPerUser: 2, rateLimitPerMin: 0, rateLimitIpPerMin: 0, executeWaitMaxS: 1 },
      {},
    );
    app = await buildApp({ config, store, runner, kernelspecs: async () => KERNELSPECS, logger: pino({ level: 'silent' }) });
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
});
