/**
 * Server-side browser sessions (issue 18) on the real SQLite and PostgreSQL
 * stores: the cookie holds a random id and never the token (nor a piece or an
 * encoding of it); the store holds only the id's hash and the token sealed;
 * sign-out, an admin's revoke-all and expiry each make the cookie useless;
 * the cookie's flags, `Secure` only when a trusted proxy says https; on
 * PostgreSQL, a session made on one node works, and ends, on another.
 * The hub's side (OAuth, a user's own revoke-all, 403 for others) is in test/hub/hub.test.ts.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { fastifyCookie } from '@fastify/cookie';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { ConfigFlags } from '../../src/config.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { sessionStoreFor } from '../../src/store/open.js';
import type { SessionStore } from '../../src/store/session-store.js';
import { sessionIdHash } from '../../src/http/session-crypto.js';
import { adminQuery, pgStore, freshSchema } from '../helpers/pg.js';
import { auth, makeApp, TOKEN } from './fakes.js';

const WEEK_MS = 7 * 24 * 3600 * 1000;
const SECRET = 'a-cookie-secret-for-the-tests-0123';

interface Backend {
  name: string;
  /** A session store on a fresh database (`schema`: PostgreSQL, another node on that one), on `clock`, and how to read its rows. */
  open(t: TestContext, clock: { now: number }, schema?: string): Promise<{ sessions: SessionStore; rows(): Promise<Record<string, unknown>[]>; schema?: string }>;
}

const BACKENDS: Backend[] = [
  {
    name: 'SQLite',
    async open(t, clock) {
      const jobs = new SqliteJobStore({ path: ':memory:' });
      t.after(() => jobs.close());
      return {
        sessions: sessionStoreFor(jobs, { now: () => clock.now })!,
        rows: async () => jobs.connection().prepare('SELECT * FROM browser_sessions').all() as Record<string, unknown>[],
      };
    },
  },
  {
    name: 'PostgreSQL',
    async open(t, clock, given) {
      const schema = given ?? freshSchema(t);
      const jobs = await pgStore(t, { schema, now: () => clock.now });
      return { sessions: sessionStoreFor(jobs)!, rows: () => adminQuery(`SELECT * FROM ${schema}.browser_sessions`), schema };
    },
  },
];

async function appOn(t: TestContext, sessions: SessionStore, flags: ConfigFlags = {}): Promise<FastifyInstance> {
  const { app, runner } = await makeApp({ cookieSecret: SECRET, ...flags }, { sessions });
  t.after(async () => {
    await app.close();
    await runner.stop();
  });
  return app;
}

function setCookies(res: LightMyRequestResponse): string[] {
  const h = res.headers['set-cookie'];
  return h === undefined ? [] : Array.isArray(h) ? h : [String(h)];
}

function sessionCookie(res: LightMyRequestResponse): { value: string; header: string } {
  const header = setCookies(res).find((c) => c.startsWith('hubmill-session='));
  assert.ok(header, `a session cookie in ${JSON.stringify(res.headers)}`);
  return { value: decodeURIComponent(header.slice('hubmill-session='.length).split(';', 1)[0]!), header };
}

async function signIn(app: FastifyInstance, opts: { prefix?: string; headers?: Record<string, string>; remoteAddress?: string } = {}) {
  const res = await app.inject({ url: `${opts.prefix ?? '/'}ui/signin?token=${TOKEN}`, headers: opts.headers, remoteAddress: opts.remoteAddress });
  assert.equal(res.statusCode, 302, res.body);
  return { res, ...sessionCookie(res) };
}

const jar = (value: string) => ({ cookie: `hubmill-session=${value}` });
const me = (app: FastifyInstance, value: string) => app.inject({ url: '/ui/api/me', headers: jar(value) });

/** Every form of the token a careless cookie could carry: itself, encoded, and any 8-character piece of it. */
function assertHoldsNoToken(text: string, token: string, where: string): void {
  const forms = [
    token,
    encodeURIComponent(token),
    Buffer.from(token).toString('base64'),
    Buffer.from(token).toString('base64url'),
    Buffer.from(token).toString('hex'),
    fastifyCookie.sign(token, SECRET),
  ];
  for (const f of forms) assert.ok(!text.includes(f), `${where} holds the token (${f})`);
  for (let i = 0; i + 8 <= token.length; i++) assert.ok(!text.includes(token.slice(i, i + 8)), `${where} holds a piece of the token`);
  for (const decoded of [Buffer.from(text, 'base64').toString('latin1'), Buffer.from(text, 'base64url').toString('latin1')]) {
    assert.ok(!decoded.includes(token), `${where}, decoded as base64, holds the token`);
  }
}

for (const backend of BACKENDS) {
  describe(`browser sessions (${backend.name})`, () => {
    it('signing in with a token link sets a cookie that holds a random id, never the token; the store keeps only its hash', async (t) => {
      const clock = { now: Date.now() };
      const db = await backend.open(t, clock);
      const app = await appOn(t, db.sessions);
      const first = await signIn(app);
      const second = await signIn(app);
      for (const s of [first, second]) {
        assert.match(s.value, /^[A-Za-z0-9_-]{43}$/, 'a 256-bit random id, base64url');
        for (const c of setCookies(s.res)) assertHoldsNoToken(c, TOKEN, 'a Set-Cookie header');
        assertHoldsNoToken(s.value, TOKEN, 'the cookie value');
      }
      assert.notEqual(first.value, second.value, 'each sign-in gets its own id');
      assert.match(first.header, /; Path=\/;/);
      assert.match(first.header, /; HttpOnly/);
      assert.match(first.header, /; SameSite=Lax/);
      assert.match(first.header, /Max-Age=604800/);
      assert.doesNotMatch(first.header, /Secure/, 'plain http: not Secure');

      const rows = await db.rows();
      assert.equal(rows.length, 2);
      const stored = JSON.stringify(rows);
      assertHoldsNoToken(stored, TOKEN, 'the store');
      for (const s of [first, second]) assert.ok(!stored.includes(s.value), 'the store never holds the session id itself');
      const row = rows.find((r) => r.id_hash === sessionIdHash(first.value));
      assert.ok(row, 'kept under the SHA-256 of the id');
      assert.equal(row.username, 'admin');
      assert.equal(row.kind, 'token');
      assert.equal(row.via, 'token-link');
      assert.equal(Number(row.expires_at_ms) - Number(row.created_at_ms), WEEK_MS);

      // The cookie authenticates; unsafe methods also need the XSRF header.
      const who = await me(app, first.value);
      assert.equal(who.statusCode, 200, who.body);
      assert.equal(who.json().admin, true);
      const xsrf = who.json().xsrf_token as string;
      assert.ok(xsrf);
      assert.notEqual(xsrf, first.value);
      assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/users/nobody/sessions', headers: jar(first.value) })).statusCode, 403);
      const withXsrf = await app.inject({ method: 'DELETE', url: '/api/v1/users/nobody/sessions', headers: { ...jar(first.value), 'x-xsrf-token': xsrf } });
      assert.equal(withXsrf.statusCode, 200, withXsrf.body);
      assert.deepEqual(withXsrf.json(), { username: 'nobody', revoked: 0 });
      assert.equal((await me(app, first.value)).statusCode, 200, "another user's revoke-all leaves this session alone");
    });

    it('refuses an unknown id, a malformed one, and the old token-carrying cookie; a wrong token link sets nothing', async (t) => {
      const db = await backend.open(t, { now: Date.now() });
      const app = await appOn(t, db.sessions);
      assert.equal((await me(app, 'A'.repeat(43))).statusCode, 401);
      assert.equal((await me(app, 'not an id')).statusCode, 401);
      const legacy = await app.inject({ url: '/ui/api/me', headers: { cookie: `hubmill-token=${encodeURIComponent(fastifyCookie.sign(TOKEN, SECRET))}` } });
      assert.equal(legacy.statusCode, 401, 'a cookie that carries the token is not honoured any more');
      const wrong = await app.inject({ url: '/ui/signin?token=wrong-token-value' });
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.headers['set-cookie'], undefined);
      assert.equal((await db.rows()).length, 0);
      // Signing in over an old cookie clears it.
      const over = await app.inject({ url: `/ui/signin?token=${TOKEN}`, headers: { cookie: `hubmill-token=${encodeURIComponent(fastifyCookie.sign(TOKEN, SECRET))}` } });
      assert.ok(setCookies(over).some((c) => /^hubmill-token=; .*Max-Age=0/.test(c)), JSON.stringify(setCookies(over)));
    });

    it('sign-out deletes the session: the same cookie, replayed, is refused', async (t) => {
      const db = await backend.open(t, { now: Date.now() });
      const app = await appOn(t, db.sessions);
      const kept = await signIn(app);
      const s = await signIn(app);
      assert.equal((await me(app, s.value)).statusCode, 200);
      // Neither a GET (a link or another site's redirect) nor a POST without the session's XSRF token signs out.
      const get = await app.inject({ url: '/ui/signout', headers: jar(s.value) });
      assert.equal(get.statusCode, 302);
      assert.equal(get.headers.location, '/ui/');
      assert.equal(get.headers['set-cookie'], undefined);
      for (const headers of [{}, { 'x-xsrf-token': 'wrong' }]) {
        const refused = await app.inject({ method: 'POST', url: '/ui/signout', headers: { ...jar(s.value), ...headers } });
        assert.equal(refused.statusCode, 403, refused.body);
      }
      const otherXsrf = (await me(app, kept.value)).json().xsrf_token as string;
      assert.equal((await app.inject({ method: 'POST', url: '/ui/signout', headers: { ...jar(s.value), 'x-xsrf-token': otherXsrf } })).statusCode, 403, "another session's token");
      assert.equal((await me(app, s.value)).statusCode, 200, 'still signed in');
      // The UI's form sends the token as a field.
      const xsrf = (await me(app, s.value)).json().xsrf_token as string;
      const out = await app.inject({ method: 'POST', url: '/ui/signout', headers: { ...jar(s.value), 'content-type': 'application/x-www-form-urlencoded' }, payload: `_xsrf=${encodeURIComponent(xsrf)}` });
      assert.equal(out.statusCode, 303, out.body);
      assert.equal(out.headers.location, '/ui/');
      assert.match(sessionCookie(out).header, /^hubmill-session=; .*Max-Age=0/);
      assert.equal((await me(app, s.value)).statusCode, 401, 'a copy of the cookie kept after sign-out does not work');
      assert.equal((await db.rows()).some((r) => r.id_hash === sessionIdHash(s.value)), false);
      assert.equal((await me(app, kept.value)).statusCode, 200, 'only that browser is signed out');
      // Signing in again replaces the browser's previous session.
      const again = await app.inject({ url: `/ui/signin?token=${TOKEN}`, headers: jar(kept.value) });
      assert.equal(again.statusCode, 302);
      assert.equal((await me(app, kept.value)).statusCode, 401);
      assert.equal((await me(app, sessionCookie(again).value)).statusCode, 200);
    });

    it("an admin revokes all of a user's sessions", async (t) => {
      const db = await backend.open(t, { now: Date.now() });
      const app = await appOn(t, db.sessions);
      const a = await signIn(app);
      const b = await signIn(app);
      const res = await app.inject({ method: 'DELETE', url: '/api/v1/users/admin/sessions', headers: auth });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { username: 'admin', revoked: 2 });
      assert.equal((await me(app, a.value)).statusCode, 401);
      assert.equal((await me(app, b.value)).statusCode, 401);
      assert.equal((await db.rows()).length, 0);
      assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/users/admin/sessions' })).statusCode, 401);
    });

    it('an expired session is refused, then swept', async (t) => {
      const clock = { now: Date.now() };
      const db = await backend.open(t, clock);
      const app = await appOn(t, db.sessions);
      const s = await signIn(app);
      clock.now += WEEK_MS - 1000;
      assert.equal((await me(app, s.value)).statusCode, 200, 'still valid a second before its end');
      clock.now += 1000;
      assert.equal((await me(app, s.value)).statusCode, 401, 'refused from its end on');
      const fresh = await signIn(app);
      assert.equal(await db.sessions.deleteExpired(), 1);
      const left = await db.rows();
      assert.deepEqual(left.map((r) => r.id_hash), [sessionIdHash(fresh.value)], 'the sweep leaves live sessions');
    });

    it('the cookie is Secure when a trusted proxy says https, and not otherwise', async (t) => {
      const db = await backend.open(t, { now: Date.now() });
      const https = { 'x-forwarded-proto': 'https' };
      // Default HUBMILL_TRUST_PROXY=loopback: the injected requests come from 127.0.0.1.
      const loopback = await appOn(t, db.sessions);
      assert.match((await signIn(loopback, { headers: https })).header, /; Secure$/);
      assert.doesNotMatch((await signIn(loopback)).header, /Secure/);
      assert.doesNotMatch((await signIn(loopback, { headers: { 'x-forwarded-proto': 'http' } })).header, /Secure/);
      // A proxy that is not listed is not believed.
      const listed = await appOn(t, db.sessions, { trustProxy: '10.1.2.3' });
      assert.doesNotMatch((await signIn(listed, { headers: https })).header, /Secure/);
      assert.match((await signIn(listed, { headers: https, remoteAddress: '10.1.2.3' })).header, /; Secure$/);
      const nobody = await appOn(t, db.sessions, { trustProxy: 'false' });
      assert.doesNotMatch((await signIn(nobody, { headers: https })).header, /Secure/);
      // Sign-out clears it with the same flags.
      const s = await signIn(loopback, { headers: https });
      const xsrf = (await loopback.inject({ url: '/ui/api/me', headers: { ...https, ...jar(s.value) } })).json().xsrf_token as string;
      const out = await loopback.inject({ method: 'POST', url: '/ui/signout', headers: { ...https, ...jar(s.value), 'x-xsrf-token': xsrf } });
      assert.match(sessionCookie(out).header, /^hubmill-session=; .*; Secure$/);
    });

    it('under a service prefix the cookie is scoped to it', async (t) => {
      const db = await backend.open(t, { now: Date.now() });
      const app = await appOn(t, db.sessions, { servicePrefix: '/services/hubmill/' });
      const s = await signIn(app, { prefix: '/services/hubmill/' });
      assert.match(s.header, /; Path=\/services\/hubmill\/;/);
      const who = await app.inject({ url: '/services/hubmill/ui/api/me', headers: jar(s.value) });
      assert.equal(who.statusCode, 200, who.body);
    });
  });
}

describe('browser sessions across PostgreSQL nodes', () => {
  it('a session made on one node works on another, and a sign-out on either ends it everywhere', async (t) => {
    const clock = { now: Date.now() };
    const pg = BACKENDS[1]!;
    const a = await pg.open(t, clock);
    const b = await pg.open(t, clock, a.schema);
    const nodeA = await appOn(t, a.sessions);
    const nodeB = await appOn(t, b.sessions);
    const s = await signIn(nodeA);
    assert.equal((await me(nodeB, s.value)).statusCode, 200);
    const xsrf = (await me(nodeB, s.value)).json().xsrf_token as string;
    assert.equal((await nodeB.inject({ method: 'POST', url: '/ui/signout', headers: { ...jar(s.value), 'x-xsrf-token': xsrf } })).statusCode, 303);
    assert.equal((await me(nodeA, s.value)).statusCode, 401);
    // A node with another cookie secret cannot open the stored token: refused there, still valid where it can.
    const t2 = await signIn(nodeA);
    const other = await appOn(t, b.sessions, { cookieSecret: 'another-secret-entirely-456789' });
    assert.equal((await me(other, t2.value)).statusCode, 401);
    assert.equal((await me(nodeA, t2.value)).statusCode, 200);
  });
});
