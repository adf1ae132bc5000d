/**
 * The audit hook of sharing (permissions-hook.ts): every permission change and
 * share link created or revoked reaches `onPermissionsChanged` once, after it is
 * stored, with who, what, when and from where (never a link's URL); a failing
 * hook neither undoes the change nor fails the request. Grants in a real
 * SQLite sharing store; the jobs in the HTTP tests' in-memory store.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { StaticTokenAuthenticator } from '../../src/http/auth.js';
import type { PermissionsChange } from '../../src/http/permissions-hook.js';
import { sharingStoreFor } from '../../src/store/open.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { auth, makeApp, TOKEN } from './fakes.js';

const NB = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, cells: [] });

describe('sharing: the audit hook', () => {
  let root: string;
  let app: FastifyInstance;
  let db: SqliteJobStore;
  const seen: PermissionsChange[] = [];
  let fail = false;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-share-hook-'));
    await mkdir(join(root, 'alice'), { recursive: true });
    await writeFile(join(root, 'alice', 'nb.ipynb'), NB);
    db = new SqliteJobStore({ path: join(root, 'sharing.sqlite') });
    ({ app } = await makeApp(
      { homeTemplate: join(root, '{username}') },
      {
        authenticators: [new StaticTokenAuthenticator(TOKEN)],
        sharing: sharingStoreFor(db),
        onPermissionsChanged: (c) => {
          seen.push(c);
          if (fail) throw new Error('audit store down');
        },
      },
    ));
  });
  after(async () => {
    await app.close();
    await db.close();
    await rm(root, { recursive: true, force: true });
  });

  it('reports permission changes and share links once each, with before and after', async () => {
    const job = (await app.inject({ method: 'POST', url: '/api/v1/jobs?wait=true', headers: auth, payload: { username: 'alice', notebook: 'nb.ipynb' } })).json();
    assert.equal(job.status, 'succeeded');
    const put = await app.inject({ method: 'PUT', url: `/api/v1/jobs/${job.id}/permissions`, headers: auth, payload: { permissions: [{ group: 'analysts', level: 'view' }] } });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(seen.length, 1);
    const c = seen[0]!;
    assert.deepEqual({ action: c.action, kind: c.kind, id: c.id, owner: c.owner, by: c.by, before: c.before, after: c.after }, {
      action: 'permissions.set', kind: 'job', id: job.id, owner: 'alice', by: 'admin', before: [], after: [{ group: 'analysts', level: 'view' }],
    });
    assert.equal(c.from, '127.0.0.1');
    assert.ok(Math.abs(c.at_ms - Date.now()) < 10_000);

    const link = (await app.inject({ method: 'POST', url: `/api/v1/jobs/${job.id}/share-links`, headers: auth, payload: { expires_in_s: 60 } })).json();
    assert.equal(seen.at(-1)?.action, 'share_link.create');
    assert.equal(seen.at(-1)?.link_id, link.id);
    assert.doesNotMatch(JSON.stringify(seen.at(-1)), new RegExp(link.url.split('.').pop()), 'the signed URL is not in the record');
    assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/jobs/${job.id}/share-links/${link.id}`, headers: auth })).statusCode, 204);
    assert.equal(seen.at(-1)?.action, 'share_link.revoke');
    assert.equal(seen.length, 3);

    // A failing hook: the change stands, the request succeeds.
    fail = true;
    const again = await app.inject({ method: 'PUT', url: `/api/v1/jobs/${job.id}/permissions`, headers: auth, payload: { permissions: [] } });
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json().permissions, []);
    assert.equal(seen.length, 4);
    assert.deepEqual(seen[3]!.before, [{ group: 'analysts', level: 'view' }]);
    // A refused change reports nothing.
    const bad = await app.inject({ method: 'PUT', url: `/api/v1/jobs/${job.id}/permissions`, headers: auth, payload: { permissions: [{ group: 'x', level: 'owner' }] } });
    assert.equal(bad.statusCode, 422);
    assert.equal(seen.length, 4);
  });
});
