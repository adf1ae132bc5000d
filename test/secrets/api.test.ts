/**
 * The secrets and audit APIs' rules, on a real store (SQLite and PostgreSQL)
 * behind `buildApp` with hub-like identities (alice in group analysts, bob in
 * none, a hub admin): users write their own secrets, only admins write group
 * secrets, listings show names (own and their groups') and never a value,
 * `username` lets an admin act for a user, no key → 503 naming the setting,
 * the audit record is for admins only. A job in the user's own server naming
 * a secret is refused with 422 by the producer.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import { StaticTokenAuthenticator, type Authenticator, type Identity } from '../../src/http/auth.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { secretStoreFor } from '../../src/store/open.js';
import { SecretVault } from '../../src/runner/secret-vault.js';
import { JobProducer } from '../../src/runner/producer.js';
import { FakeStore } from '../store/fake-job-store.js';
import { makeApp, TOKEN } from '../http/fakes.js';
import { pgStore } from '../helpers/pg.js';

type Hooks = { after(fn: () => void | Promise<void>): void };

const IDS: Record<string, Identity> = {
  alice: { name: 'alice', admin: false, kind: 'user', scopes: [], groups: ['analysts'] },
  bob: { name: 'bob', admin: false, kind: 'user', scopes: [], groups: [] },
  root: { name: 'root', admin: true, kind: 'user', scopes: ['admin:users'], groups: [] },
};
const byToken: Authenticator = {
  authenticate: (req: FastifyRequest) => IDS[/^token as-(\w+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''] ?? null,
};
const as = (u: string) => ({ authorization: `token as-${u}` });
const VALUE = 'hunter2-is-not-a-password';

const STORES: { name: string; open(t: Hooks): Promise<SqliteJobStore | Awaited<ReturnType<typeof pgStore>>> }[] = [
  {
    name: 'SQLite',
    async open(t) {
      const dir = await mkdtemp(join(tmpdir(), 'hubmill-secrets-api-'));
      const s = new SqliteJobStore({ path: join(dir, 'jobs.sqlite') });
      t.after(async () => {
        await s.close();
        await rm(dir, { recursive: true, force: true });
      });
      return s;
    },
  },
  { name: 'PostgreSQL', open: (t) => pgStore(t) },
];

async function appWith(t: Hooks, jobs: SqliteJobStore | Awaited<ReturnType<typeof pgStore>>, key: Buffer | null) {
  const vault = new SecretVault(secretStoreFor(jobs), key);
  const { app } = await makeApp({}, { authenticators: [new StaticTokenAuthenticator(TOKEN), byToken], secrets: vault });
  t.after(() => app.close());
  return app;
}

for (const s of STORES) {
  describe(`secrets API on ${s.name}`, { timeout: 60_000 }, () => {
    it('users write their own, admins write groups and act for users; listings and answers never hold a value', async (t) => {
      const app = await appWith(t, await s.open(t), randomBytes(32));
      const post = (who: string, body: object) => app.inject({ method: 'POST', url: '/api/v1/secrets', headers: as(who), payload: body });
      const mine = await post('alice', { name: 'MINE', value: VALUE });
      assert.equal(mine.statusCode, 201, mine.body);
      assert.deepEqual([mine.json().scope, mine.json().username, mine.json().set_by], ['user', 'alice', 'alice']);
      assert.equal((await post('alice', { name: 'TEAM', value: VALUE, scope: 'group:analysts' })).statusCode, 403);
      assert.equal((await post('bob', { name: 'X', value: VALUE, username: 'alice' })).statusCode, 403);
      assert.equal((await post('root', { name: 'TEAM', value: VALUE, scope: 'group:analysts' })).statusCode, 201);
      assert.equal((await post('root', { name: 'OPS', value: VALUE, scope: 'group:ops' })).statusCode, 201);
      const forBob = await post('root', { name: 'BOBS', value: VALUE, username: 'bob' });
      assert.equal(forBob.statusCode, 201);
      assert.deepEqual([forBob.json().username, forBob.json().set_by], ['bob', 'root']);
      assert.equal((await post('alice', { name: 'lower-case!', value: VALUE })).statusCode, 422);
      assert.equal((await post('alice', { name: 'HUBMILL_KEY', value: VALUE })).statusCode, 422);

      const list = async (who: string, q = '') => {
        const r = await app.inject({ method: 'GET', url: `/api/v1/secrets${q}`, headers: as(who) });
        assert.equal(r.statusCode, 200, r.body);
        assert.ok(!r.body.includes(VALUE), 'no value in a listing');
        return r.json().secrets.map((x: { scope: string; name: string }) => `${x.scope}/${x.name}`);
      };
      assert.deepEqual(await list('alice'), ['group:analysts/TEAM', 'user/MINE']);
      assert.deepEqual(await list('bob'), ['user/BOBS']);
      assert.deepEqual(await list('root'), ['group:analysts/TEAM', 'group:ops/OPS', 'user/MINE', 'user/BOBS']);
      assert.deepEqual(await list('root', '?username=alice'), ['user/MINE']);
      assert.deepEqual(await list('alice', '?scope=user'), ['user/MINE']);
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/secrets?username=alice', headers: as('bob') })).statusCode, 403);

      const put = await app.inject({ method: 'PUT', url: '/api/v1/secrets/MINE', headers: as('alice'), payload: { value: 'another-value' } });
      assert.equal(put.statusCode, 200, put.body);
      assert.ok(!put.body.includes('another-value'));
      assert.equal((await app.inject({ method: 'PUT', url: '/api/v1/secrets/NOPE', headers: as('alice'), payload: { value: VALUE } })).statusCode, 404);
      assert.equal((await app.inject({ method: 'PUT', url: '/api/v1/secrets/TEAM?scope=group:analysts', headers: as('alice'), payload: { value: VALUE } })).statusCode, 403);
      assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/secrets/TEAM?scope=group:analysts', headers: as('alice') })).statusCode, 403);
      assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/secrets/TEAM?scope=group:analysts', headers: as('root') })).statusCode, 204);
      assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/secrets/TEAM?scope=group:analysts', headers: as('root') })).statusCode, 404);

      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/audit', headers: as('alice') })).statusCode, 403);
      const audit = await app.inject({ method: 'GET', url: '/api/v1/audit?actor=root&limit=2', headers: as('root') });
      assert.equal(audit.statusCode, 200, audit.body);
      assert.equal(audit.json().entries.length, 2);
      assert.ok(audit.json().next_cursor);
      assert.deepEqual(audit.json().entries.map((e: { action: string; target: string }) => `${e.action} ${e.target}`), ['secret.delete secret:group:analysts/TEAM', 'secret.create secret:user:bob/BOBS']);
      assert.equal(audit.json().entries[0].origin, '127.0.0.1');
      const rest = await app.inject({ method: 'GET', url: `/api/v1/audit?actor=root&cursor=${audit.json().next_cursor}`, headers: as('root') });
      assert.equal(rest.json().entries.length, 2);
      const full = await app.inject({ method: 'GET', url: '/api/v1/audit', headers: as('root') });
      assert.ok(!full.body.includes(VALUE) && !full.body.includes('another-value'), 'no value in the audit record');
    });

    it('without a key, creating a secret answers 503 naming the setting', async (t) => {
      const app = await appWith(t, await s.open(t), null);
      const r = await app.inject({ method: 'POST', url: '/api/v1/secrets', headers: as('alice'), payload: { name: 'MINE', value: VALUE } });
      assert.equal(r.statusCode, 503, r.body);
      assert.match(r.json().detail, /HUBMILL_SECRET_KEY/);
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/secrets', headers: as('alice') })).statusCode, 200);
    });
  });
}

describe('the producer and secrets', () => {
  it("refuses (422) a job in the user's own server that names a secret: its kernel's environment cannot be set", async () => {
    let resolved = 0;
    const producer = new JobProducer({
      intake: { check: async (job) => ({ job: { ...job, target: 'user-server' }, kernel: null }) },
      store: new FakeStore(),
      secrets: { resolve: async () => (resolved++, []) },
    });
    await assert.rejects(producer.submit({ username: 'alice', notebook: 'a.ipynb', parameters: {}, submitted_by: 'alice', secrets: [{ name: 'DB' }] }), (e: unknown) => {
      const err = e as { httpStatus: number; message: string };
      return err.httpStatus === 422 && /Jupyter Server API starts kernels without a per-kernel environment/.test(err.message);
    });
    assert.equal(resolved, 0);
    // Without secrets the same job passes.
    const ok = await producer.submit({ username: 'alice', notebook: 'a.ipynb', parameters: {}, submitted_by: 'alice' });
    assert.equal(ok.created, true);
  });
});
