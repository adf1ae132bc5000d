/**
 * /openapi.json is valid OpenAPI 3.0.3 by a strict validator (@readme/openapi-parser,
 * the maintained fork of swagger-parser), at the root and under a service prefix;
 * the timeouts it documents as `minimum: 0, exclusiveMinimum: true` are still refused at 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { compileErrors, validate } from '@readme/openapi-parser';
import { WebhookAllowList } from '../../src/schedules/webhook-address.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { SqliteScheduleStore } from '../../src/store/sqlite-schedule-store.js';
import { pipelineStoreFor, sessionStoreFor } from '../../src/store/open.js';
import { auth, makeApp } from './fakes.js';

const NB = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, cells: [] });

async function assertValid(doc: Record<string, unknown>): Promise<void> {
  const result = await validate(structuredClone(doc) as never);
  assert.ok(result.valid, result.valid ? '' : compileErrors(result));
}

describe('OpenAPI document', () => {
  let root: string;
  let app: FastifyInstance;
  let prefixed: FastifyInstance;
  let jobs: SqliteJobStore;
  let runners: { stop(): Promise<void> }[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-openapi-'));
    await mkdir(join(root, 'alice'), { recursive: true });
    await writeFile(join(root, 'alice', 'a.ipynb'), NB);
    // With the schedules, pipelines and browser sessions APIs mounted, so the document has every route.
    jobs = new SqliteJobStore({ path: ':memory:' });
    const schedules = { store: new SqliteScheduleStore(jobs), wake: () => {}, webhookAllow: new WebhookAllowList([]) };
    const a = await makeApp({ homeTemplate: join(root, '{username}') }, { schedules, pipelines: pipelineStoreFor(jobs), sessions: sessionStoreFor(jobs) });
    const b = await makeApp({ homeTemplate: join(root, '{username}'), servicePrefix: '/services/hubmill/' });
    ({ app } = a);
    ({ app: prefixed } = b);
    runners = [a.runner, b.runner];
  });
  after(async () => {
    await app?.close();
    await prefixed?.close();
    // The accepted jobs' scripted runs write into alice's home: let them end before the folder goes.
    for (const r of runners) await r.stop();
    await jobs?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('is valid OpenAPI 3.0.3, at the root and under a service prefix', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    assert.equal(doc.openapi, '3.0.3');
    assert.ok(doc.paths['/api/v1/schedules'], 'the schedules API is documented too');
    for (const path of [
      '/api/v1/pipelines',
      '/api/v1/pipelines/{id}',
      '/api/v1/pipelines/{id}/runs',
      '/api/v1/pipelines/{id}/runs/{run_id}',
      '/api/v1/pipelines/{id}/runs/{run_id}/cancel',
      '/api/v1/pipelines/{id}/runs/{run_id}/repair',
      '/api/v1/pipelines/{id}/runs/{run_id}/events',
      '/api/v1/pipelines/{id}/runs/{run_id}/results',
      '/api/v1/users/{username}/sessions',
    ]) {
      assert.ok(doc.paths[path], `${path} is documented`);
    }
    await assertValid(doc);
    await assertValid((await prefixed.inject({ url: '/services/hubmill/openapi.json' })).json());
  });

  it('says "above 0" the 3.0 way for the timeouts', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    const body = doc.paths['/api/v1/jobs'].post.requestBody.content['application/json'].schema;
    for (const field of ['timeout_s', 'cell_timeout_s']) {
      const { minimum, exclusiveMinimum } = body.properties[field];
      assert.deepEqual({ minimum, exclusiveMinimum }, { minimum: 0, exclusiveMinimum: true }, field);
    }
    assert.doesNotMatch(JSON.stringify(doc), /"exclusive(Minimum|Maximum)":-?\d/, 'no numeric exclusive bounds anywhere');
  });

  it('still refuses a timeout of 0 or below with 422, and takes a small positive one', async () => {
    for (const field of ['timeout_s', 'cell_timeout_s']) {
      for (const v of [0, -1]) {
        const r = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { username: 'alice', notebook: 'a.ipynb', [field]: v } });
        assert.equal(r.statusCode, 422, `${field}=${v}: ${r.body}`);
        assert.match(r.json().detail, new RegExp(field), r.body);
      }
      const ok = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { username: 'alice', notebook: 'a.ipynb', [field]: 0.001 } });
      assert.equal(ok.statusCode, 202, ok.body);
      const schedule = { username: 'alice', name: 'n', notebook: 'a.ipynb', cron: '0 9 * * *', timezone: 'UTC', [field]: 0 };
      const refused = await app.inject({ method: 'POST', url: '/api/v1/schedules', headers: auth, payload: schedule });
      assert.equal(refused.statusCode, 422, refused.body);
    }
  });
});
