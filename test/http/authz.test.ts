import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { canActFor, redactUrl, StaticTokenAuthenticator, type Authenticator, type Identity } from '../../src/http/auth.js';
import { auth, makeApp, TOKEN, type FakeRunner } from './fakes.js';

const NB = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, cells: [] });

/** Stands in for the JupyterHub authenticator: `token user-<name>` is that user. */
const usersByToken: Authenticator = {
  authenticate(req: FastifyRequest): Identity | null {
    const m = /^token user-(\w+)$/.exec(req.headers.authorization ?? '');
    return m ? { name: m[1]!, admin: false, kind: 'user', scopes: [`access:servers!user=${m[1]}`] } : null;
  },
};

describe('per-user authorization', () => {
  let root: string;
  let app: FastifyInstance;
  let runner: FakeRunner;
  const as = (u: string) => ({ authorization: `token user-${u}` });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-authz-'));
    for (const u of ['alice', 'bob']) {
      await mkdir(join(root, u), { recursive: true });
      await writeFile(join(root, u, 'nb.ipynb'), NB);
    }
    ({ app, runner } = await makeApp(
      { homeTemplate: join(root, '{username}'), executeWaitMaxS: 1 },
      { authenticators: [new StaticTokenAuthenticator(TOKEN), usersByToken] },
    ));
  });
  after(async () => {
    await app.close();
    await rm(root, { recursive: true, force: true });
  });

  it('canActFor: admins for anyone, users only for themselves', () => {
    assert.equal(canActFor({ name: 'admin', admin: true, kind: 'token', scopes: [] }, 'bob'), true);
    assert.equal(canActFor({ name: 'alice', admin: false, kind: 'user', scopes: [] }, 'alice'), true);
    assert.equal(canActFor({ name: 'alice', admin: false, kind: 'user', scopes: [] }, 'bob'), false);
    assert.equal(canActFor({ name: 'alice', admin: false, kind: 'service', scopes: [] }, 'alice'), false);
    assert.equal(canActFor(null, 'alice'), false);
  });

  it('a user lists and runs their own notebooks; username defaults to the caller', async () => {
    assert.equal((await app.inject({ url: '/list-notebooks/alice', headers: as('alice') })).statusCode, 200);
    const r = await app.inject({ method: 'POST', url: '/api/v1/jobs?wait=true', headers: as('alice'), payload: { notebook: 'nb.ipynb' } });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().username, 'alice');
    assert.equal(r.json().submitted_by, 'alice');
  });

  it("a user may not touch another user's notebooks (403) or see their jobs (404)", async () => {
    assert.equal((await app.inject({ url: '/list-notebooks/bob', headers: as('alice') })).statusCode, 403);
    assert.equal((await app.inject({ method: 'POST', url: '/execute', headers: as('alice'), payload: { username: 'bob', notebook_name: 'nb.ipynb' } })).statusCode, 403);
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: as('alice'), payload: { username: 'bob', notebook: 'nb.ipynb' } })).statusCode, 403);
    assert.equal((await app.inject({ url: '/api/v1/notebooks?username=bob', headers: as('alice') })).statusCode, 403);
    const run = (await app.inject({ method: 'POST', url: '/run-notebook', headers: as('alice'), payload: { input_path: join(root, 'bob', 'nb.ipynb'), output_path: join(root, 'bob', 'o.ipynb') } }));
    assert.equal(run.statusCode, 403);
    const bobs = (await app.inject({ method: 'POST', url: '/api/v1/jobs?wait=true', headers: as('bob'), payload: { notebook: 'nb.ipynb' } })).json();
    for (const url of [`/api/v1/jobs/${bobs.id}`, `/api/v1/jobs/${bobs.id}/output`, `/api/v1/jobs/${bobs.id}/events`]) {
      assert.equal((await app.inject({ url, headers: as('alice') })).statusCode, 404, url);
    }
    assert.equal((await app.inject({ method: 'POST', url: `/api/v1/jobs/${bobs.id}/cancel`, headers: as('alice') })).statusCode, 404);
    const list = (await app.inject({ url: '/api/v1/jobs', headers: as('alice') })).json();
    assert.ok(list.jobs.length > 0 && list.jobs.every((j: { username: string }) => j.username === 'alice'));
    assert.equal((await app.inject({ url: '/api/v1/jobs?username=bob', headers: as('alice') })).statusCode, 403);
    assert.equal((await app.inject({ url: `/api/v1/jobs/${bobs.id}`, headers: auth })).statusCode, 200);
  });

  it('/execute answers 504 with the job link when the execute wait bound passes; the job keeps running', async () => {
    runner.outcome = () => ({ status: 'stay' });
    const r = await app.inject({ method: 'POST', url: '/execute', headers: as('alice'), payload: { username: 'alice', notebook_name: 'nb.ipynb' } });
    runner.outcome = () => ({ status: 'succeeded' });
    assert.equal(r.statusCode, 504);
    assert.equal(r.json().code, 'WAIT_EXPIRED');
    assert.equal(r.json().job, `/api/v1/jobs/${r.json().job_id}`);
    assert.equal((await app.inject({ url: r.json().job, headers: as('alice') })).json().status, 'running');
  });

  it('tokens never reach a logged URL', () => {
    assert.equal(redactUrl('/api/v1/jobs/1/events?token=abc&x=1'), '/api/v1/jobs/1/events?token=[redacted]&x=1');
  });
});
