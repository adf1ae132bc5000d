/**
 * `npm start` as root: the home template gives /home/root, which does not exist, so the
 * service user's own home (its passwd entry, decided at start: users/home-path.ts
 * ownHomeOutsideTemplate) is its home. The UI opens it, and its notebooks list and run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ownHomeOutsideTemplate } from '../../src/users/home-path.js';
import { auth, makeApp } from './fakes.js';

const NB = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, cells: [] });

describe('the service user whose home is outside the template', () => {
  let root: string;
  let app: FastifyInstance;
  let bare: FastifyInstance;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-own-home-http-'));
    await mkdir(join(root, 'homes', 'alice'), { recursive: true });
    await mkdir(join(root, 'root-home', 'reports'), { recursive: true });
    await writeFile(join(root, 'root-home', 'reports', 'mine.ipynb'), NB);
    const homeTemplate = join(root, 'homes', '{username}');
    const ownHome = ownHomeOutsideTemplate(homeTemplate, { username: 'root', homedir: join(root, 'root-home') });
    assert.ok(ownHome);
    ({ app } = await makeApp({ homeTemplate }, { ownHome }));
    // The same, without it (as with a hub): no home for root.
    ({ app: bare } = await makeApp({ homeTemplate }, { ownHome: { username: 'nobody-here', home: join(root, 'nothing') } }));
  });
  after(async () => {
    await app?.close();
    await bare?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('opens its own home for the service token, lists and runs its notebooks', async () => {
    const me = await app.inject({ url: '/ui/api/me', headers: auth });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json().home_user, 'root');
    assert.deepEqual(me.json().users, ['root', 'alice']);
    const list = await app.inject({ url: '/api/v1/notebooks?username=root', headers: auth });
    assert.equal(list.statusCode, 200, list.body);
    assert.deepEqual(list.json().notebooks.map((n: { path: string }) => n.path), ['reports/mine.ipynb']);
    const job = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { username: 'root', notebook: 'reports/mine.ipynb' } });
    assert.equal(job.statusCode, 202, job.body);
  });

  it('is "choose a user" when the service user has no home at all', async () => {
    const me = await bare.inject({ url: '/ui/api/me', headers: auth });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json().home_user, null);
    assert.deepEqual(me.json().users, ['alice']);
  });
});
