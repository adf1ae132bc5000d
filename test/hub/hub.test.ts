/**
 * hubmill as a JupyterHub service against a real hub (Debian's jupyterhub 3.0,
 * configurable-http-proxy, dummy authenticator, simple spawner): tokens for two
 * users and an admin made through the hub API, the authorization matrix on every
 * endpoint (seed ones included), requests through the proxy under
 * /services/hubmill/, and the OAuth login in headless Chromium.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { StartedServer } from '../../src/server.js';
import { startHubService } from '../helpers/hub-service.js';
import { freePort, startHub, type Hub } from '../helpers/jupyterhub.js';
import { code, notebookJson as notebook } from '../helpers/notebooks.js';
import { call } from '../helpers/http.js';
import { eventually } from '../helpers/wait.js';

const STATIC = 'static-admin-token-7f3a';

describe('hubmill behind a real JupyterHub', { timeout: 180_000 }, () => {
  let hub: Hub;
  let server: StartedServer;
  let direct: string;
  let proxied: string;
  const tok: Record<string, string> = {};
  let aliceJob: string;

  before(async () => {
    const port = await freePort();
    hub = await startHub({ hubmillPort: port, users: ['alice', 'bob'] });
    for (const u of ['alice', 'bob']) {
      await writeFile(join(hub.homeOf(u), 'nb.ipynb'), notebook([code('x = 1', ['parameters']), code('print(x)')]));
    }
    ({ server, base: direct } = await startHubService(hub, port, { apiToken: STATIC, pool: 'python3:1', concurrency: 2 }));
    proxied = `${hub.url}/services/hubmill`;
    tok.alice = (await hub.createToken('alice')).token;
    tok.bob = (await hub.createToken('bob')).token;
    tok.admin = (await hub.createToken('admin')).token;
    tok.expired = (await hub.createToken('alice', { expiresInS: 1 })).token;
    // A token of alice's whose scopes were narrowed so it lacks access to hubmill.
    tok.noaccess = (await hub.createToken('alice', { scopes: ['read:users:name!user=alice'] })).token;
    const job = await call(direct, 'POST', '/api/v1/jobs?wait=true', tok.alice, { notebook: 'nb.ipynb' });
    assert.equal(job.status, 200, JSON.stringify(job.body));
    assert.equal(job.body.status, 'succeeded');
    aliceJob = job.body.id;
    // The 1 s token has expired once the hub itself refuses it (asked directly: hubmill would cache an answer).
    await eventually(async () => (await hub.api('GET', '/user', undefined, tok.expired)).status >= 400, 10_000, 'the hub to refuse the expired token', 100);
  });

  after(async () => {
    await server?.close();
    await hub?.stop();
  });

  // Each endpoint, as a request on alice's things. `ok` = statuses for alice herself and the admin.
  const endpoints: Array<{ name: string; method: string; path: () => string; body?: () => unknown; ok: number[] }> = [
    { name: 'GET /list-notebooks/{u}', method: 'GET', path: () => '/list-notebooks/alice', ok: [200] },
    { name: 'POST /execute', method: 'POST', path: () => '/execute', body: () => ({ username: 'alice', notebook_name: 'nb.ipynb', parameters: { x: 2 } }), ok: [200] },
    {
      name: 'POST /run-notebook',
      method: 'POST',
      path: () => '/run-notebook',
      body: () => ({ input_path: join(hub.homeOf('alice'), 'nb.ipynb'), output_path: join(hub.homeOf('alice'), 'out.ipynb'), params: {} }),
      ok: [200],
    },
    { name: 'POST /api/v1/jobs', method: 'POST', path: () => '/api/v1/jobs', body: () => ({ notebook: 'nb.ipynb', username: 'alice' }), ok: [202, 200] },
    { name: 'GET /api/v1/jobs?username=', method: 'GET', path: () => '/api/v1/jobs?username=alice', ok: [200] },
    { name: 'GET /api/v1/jobs/{id}', method: 'GET', path: () => `/api/v1/jobs/${aliceJob}`, ok: [200] },
    { name: 'GET /api/v1/jobs/{id}/output', method: 'GET', path: () => `/api/v1/jobs/${aliceJob}/output`, ok: [200] },
    { name: 'GET /api/v1/jobs/{id}/events', method: 'GET', path: () => `/api/v1/jobs/${aliceJob}/events`, ok: [200] },
    { name: 'POST /api/v1/jobs/{id}/cancel', method: 'POST', path: () => `/api/v1/jobs/${aliceJob}/cancel`, ok: [200] },
    { name: 'GET /api/v1/notebooks?username=', method: 'GET', path: () => '/api/v1/notebooks?username=alice', ok: [200] },
  ];

  for (const ep of endpoints) {
    it(`authorization matrix: ${ep.name}`, async () => {
      const req = (token: string | null) => call(direct, ep.method, ep.path(), token, ep.body?.());
      const own = await req(tok.alice!);
      assert.ok(ep.ok.includes(own.status), `own: ${own.status} ${JSON.stringify(own.body)}`);
      const admin = await req(tok.admin!);
      assert.ok(ep.ok.includes(admin.status), `admin: ${admin.status} ${JSON.stringify(admin.body)}`);
      const staticAdmin = await req(STATIC);
      assert.ok(ep.ok.includes(staticAdmin.status), `static token: ${staticAdmin.status}`);
      const other = await req(tok.bob!);
      // A job id of someone else's answers exactly like an unknown one (404); everything else named by user is 403.
      const otherExpected = ep.path().includes(aliceJob) ? 404 : 403;
      assert.equal(other.status, otherExpected, `other: ${JSON.stringify(other.body)}`);
      assert.equal(other.headers.get('content-type')?.split(';')[0], 'application/problem+json');
      for (const [who, t] of [['no token', null], ['bad token', 'not-a-token'], ['expired token', tok.expired!]] as const) {
        const r = await req(t);
        assert.equal(r.status, 401, `${who}: ${r.status} ${JSON.stringify(r.body)}`);
        assert.equal(r.headers.get('www-authenticate'), 'token');
      }
      const narrowed = await req(tok.noaccess!);
      assert.equal(narrowed.status, 403, `token without access:services: ${narrowed.status}`);
      assert.match(narrowed.body.detail, /access:services!service=hubmill/);
    });
  }

  it('another user\'s things answer the same whether they exist or not (no existence leak)', async () => {
    const pairs: Array<[string, string, unknown?]> = [
      ['GET', '/list-notebooks/alice'],
      ['GET', '/list-notebooks/nobody-here'],
      ['GET', '/api/v1/notebooks?username=nobody-here'],
      ['POST', '/api/v1/jobs', { notebook: 'nb.ipynb', username: 'alice' }],
      ['POST', '/api/v1/jobs', { notebook: 'missing.ipynb', username: 'alice' }],
      ['POST', '/execute', { username: 'alice', notebook_name: 'missing.ipynb' }],
      ['POST', '/run-notebook', { input_path: join(hub.homeOf('alice'), 'missing.ipynb'), output_path: join(hub.homeOf('alice'), 'o.ipynb') }],
    ];
    for (const [m, p, b] of pairs) {
      const r = await call(direct, m, p, tok.bob, b);
      assert.equal(r.status, 403, `${m} ${p}: ${r.status}`);
    }
    const known = await call(direct, 'GET', `/api/v1/jobs/${aliceJob}`, tok.bob);
    const unknown = await call(direct, 'GET', '/api/v1/jobs/j_0000000000000000', tok.bob);
    assert.equal(known.status, unknown.status);
    assert.equal(known.body.code, unknown.body.code);
  });

  it('lists only the caller\'s jobs; the admin sees everyone\'s and may cancel them', async () => {
    const b = await call(direct, 'POST', '/api/v1/jobs?wait=true', tok.bob, { notebook: 'nb.ipynb' });
    assert.equal(b.status, 200);
    const mine = await call(direct, 'GET', '/api/v1/jobs', tok.bob);
    assert.ok(mine.body.jobs.length > 0);
    assert.ok(mine.body.jobs.every((j: { username: string }) => j.username === 'bob'));
    const all = await call(direct, 'GET', '/api/v1/jobs', tok.admin);
    const users = new Set(all.body.jobs.map((j: { username: string }) => j.username));
    assert.ok(users.has('alice') && users.has('bob'));
    const cancel = await call(direct, 'POST', `/api/v1/jobs/${b.body.id}/cancel`, tok.admin);
    assert.equal(cancel.status, 200);
    const kinds = await call(direct, 'GET', '/api/v1/kernelspecs', tok.bob);
    assert.equal(kinds.status, 200);
    assert.equal((await call(direct, 'GET', '/api/v1/kernelspecs')).status, 401);
    // Metrics count everyone's jobs: admins only.
    assert.equal((await call(direct, 'GET', '/metrics', tok.bob)).status, 403);
    assert.equal((await call(direct, 'GET', '/metrics', tok.admin)).status, 200);
    assert.equal((await call(direct, 'GET', '/metrics')).status, 401);
  });

  it('answers through the hub\'s proxy under /services/hubmill/ with prefixed links and OpenAPI server', async () => {
    const health = await call(proxied, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'healthy');
    assert.equal((await call(proxied, 'GET', '/')).status, 200);
    const list = await call(proxied, 'GET', '/list-notebooks/alice', tok.alice);
    assert.equal(list.status, 200);
    assert.ok(list.body.notebooks.some((n: { name: string }) => n.name === 'nb.ipynb'));
    assert.equal((await call(proxied, 'GET', '/list-notebooks/alice', tok.bob)).status, 403);
    assert.equal((await call(proxied, 'GET', '/list-notebooks/alice')).status, 401);
    const job = await call(proxied, 'POST', '/api/v1/jobs?wait=true', tok.alice, { notebook: 'nb.ipynb', parameters: { x: 5 } }, {});
    assert.equal(job.status, 200);
    assert.equal(job.body.links.self, `/services/hubmill/api/v1/jobs/${job.body.id}`);
    const again = await call(hub.url, 'GET', job.body.links.self, tok.alice);
    assert.equal(again.body.status, 'succeeded');
    const out = await call(hub.url, 'GET', job.body.links.output, tok.alice);
    assert.equal(out.status, 200);
    assert.deepEqual(out.body.metadata.papermill.parameters, { x: 5 });
    const doc = await call(proxied, 'GET', '/openapi.json');
    assert.equal(doc.body.servers[0].url, '/services/hubmill');
    assert.ok(doc.body.paths['/api/v1/jobs']);
    const docs = await fetch(`${proxied}/docs`, { redirect: 'follow' });
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
    // Bearer works as well as token; the same paths answer at the root directly.
    assert.equal((await call(direct, 'GET', '/list-notebooks/alice', null, undefined, { authorization: `Bearer ${tok.alice}` })).status, 200);
    assert.equal((await call(direct, 'GET', '/services/hubmill/list-notebooks/alice', tok.alice)).status, 200);
  });

  it('an API request without a token gets 401, a browser page request a login redirect', async () => {
    const api = await call(direct, 'GET', '/api/v1/jobs', null, undefined, { accept: 'application/json' });
    assert.equal(api.status, 401);
    const page = await call(proxied, 'GET', '/api/v1/jobs', null, undefined, { accept: 'text/html,application/xhtml+xml' });
    assert.equal(page.status, 302);
    assert.equal(page.headers.get('location'), `/services/hubmill/login?next=${encodeURIComponent('/services/hubmill/api/v1/jobs')}`);
    const login = await call(proxied, 'GET', '/login?next=/services/hubmill/session');
    assert.equal(login.status, 302);
    const loc = new URL(login.headers.get('location')!, hub.url);
    assert.equal(loc.pathname, '/hub/api/oauth2/authorize');
    assert.equal(loc.searchParams.get('client_id'), 'service-hubmill');
    assert.equal(loc.searchParams.get('redirect_uri'), '/services/hubmill/oauth_callback');
    assert.ok(loc.searchParams.get('state'));
    const cookie = login.headers.get('set-cookie')!;
    assert.match(cookie, /hubmill-oauth-state=/);
    assert.match(cookie, /Path=\/services\/hubmill\//);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    // A callback whose state does not match the cookie is refused.
    const forged = await call(proxied, 'GET', `/oauth_callback?code=abc&state=${loc.searchParams.get('state')}`);
    assert.equal(forged.status, 403);
    assert.match(forged.body.detail, /state/);
  });

  it("a hub user's token-link session: the cookie is no hub token; only the user or an admin ends all of the user's sessions", async () => {
    const signIn = async () => {
      const res = await fetch(`${direct}/ui/signin?token=${tok.alice}`, { redirect: 'manual' });
      assert.equal(res.status, 302);
      const sc = res.headers.getSetCookie().find((c) => c.startsWith('hubmill-session='));
      assert.ok(sc, 'session cookie set');
      assert.ok(!sc.includes(tok.alice!) && !sc.includes(Buffer.from(tok.alice!).toString('base64url')), 'the cookie holds no hub token');
      return decodeURIComponent(sc.slice('hubmill-session='.length).split(';', 1)[0]!);
    };
    const value = await signIn();
    assert.ok((await hub.api('GET', '/user', undefined, value)).status >= 400, 'the cookie value is not a token the hub knows');
    const jar = { cookie: `hubmill-session=${value}` };
    const me = () => call(direct, 'GET', '/ui/api/me', null, undefined, jar);
    assert.equal((await me()).status, 200);
    assert.equal((await me()).body.name, 'alice');
    const revoke = (token: string) => call(direct, 'DELETE', '/api/v1/users/alice/sessions', token);
    const byBob = await revoke(tok.bob!);
    assert.equal(byBob.status, 403, JSON.stringify(byBob.body));
    assert.equal((await me()).status, 200, "bob cannot end alice's sessions");
    const byAdmin = await revoke(tok.admin!);
    assert.equal(byAdmin.status, 200, JSON.stringify(byAdmin.body));
    assert.ok(byAdmin.body.revoked >= 1);
    assert.equal((await me()).status, 401, 'revoked by the admin');
    const again = await signIn();
    const own = await revoke(tok.alice!);
    assert.deepEqual(own.body, { username: 'alice', revoked: 1 });
    assert.equal((await call(direct, 'GET', '/ui/api/me', null, undefined, { cookie: `hubmill-session=${again}` })).status, 401, 'signed out everywhere by herself');
  });

  describe('browser login through the hub (headless Chromium)', () => {
    let browser: Browser;
    before(async () => {
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
        timeout: 30_000,
      });
    });
    after(async () => {
      await browser?.close();
    });

    it('logs in with the hub form and ends on a hubmill page as that user; XSRF; logout', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(`${proxied}/session`);
      await page.waitForURL(/\/hub\/login/);
      await page.fill('#username_input', 'alice');
      await page.fill('#password_input', 'anything');
      await Promise.all([page.waitForURL(/\/services\/hubmill\/session$/), page.click('#login_submit')]);
      const session = JSON.parse((await page.textContent('body')) ?? '{}');
      assert.equal(session.name, 'alice');
      assert.equal(session.kind, 'user');
      assert.equal(session.admin, false);
      assert.ok(session.xsrf_token);

      const cookies = await context.cookies(`${proxied}/`);
      const sc = cookies.find((c) => c.name === 'hubmill-session');
      assert.ok(sc, 'session cookie set');
      assert.equal(sc.httpOnly, true);
      assert.equal(sc.sameSite, 'Lax');
      assert.equal(sc.path, '/services/hubmill/');
      assert.equal(sc.secure, false, 'the hub is served over plain http here');
      assert.match(sc.value, /^[A-Za-z0-9_-]{43}$/, 'a random session id');
      assert.ok((await hub.api('GET', '/user', undefined, decodeURIComponent(sc.value))).status >= 400, 'the cookie holds no token the hub accepts');

      // Pages and API calls from the browser are alice's.
      await page.goto(`${proxied}/list-notebooks/alice`);
      assert.equal(JSON.parse((await page.textContent('body')) ?? '{}').username, 'alice');
      const bobs = await page.evaluate(async () => (await fetch('/services/hubmill/list-notebooks/bob')).status);
      assert.equal(bobs, 403);
      // Unsafe methods with the cookie need the XSRF header.
      const post = (xsrf: string | null) =>
        page.evaluate(
          async ([x]) => {
            const r = await fetch('/services/hubmill/api/v1/jobs', {
              method: 'POST',
              headers: { 'content-type': 'application/json', ...(x ? { 'x-xsrf-token': x } : {}) },
              body: JSON.stringify({ notebook: 'nb.ipynb' }),
            });
            return { status: r.status, body: await r.json() };
          },
          [xsrf] as const,
        );
      const without = await post(null);
      assert.equal(without.status, 403);
      const withHeader = await post(session.xsrf_token);
      assert.equal(withHeader.status, 202, JSON.stringify(withHeader.body));
      assert.equal(withHeader.body.username, 'alice');

      // A GET (a link, or another site's redirect) logs nobody out: it asks, and the button POSTs with the XSRF token.
      await page.goto(`${proxied}/logout`);
      assert.equal(await page.evaluate(async () => (await fetch('/services/hubmill/session', { headers: { accept: 'application/json' } })).status), 200);
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByText('Logged out of hubmill').waitFor();
      const after = await page.evaluate(async () => (await fetch('/services/hubmill/session', { headers: { accept: 'application/json' } })).status);
      assert.equal(after, 401);
      // A copy of the cookie kept from before the logout is refused: the session is gone from the store.
      const replay = await call(proxied, 'GET', '/session', null, undefined, { accept: 'application/json', cookie: `hubmill-session=${sc.value}` });
      assert.equal(replay.status, 401);
      await context.close();
    });

    it('a hub admin logging in is an admin in hubmill', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(`${proxied}/api/v1/jobs`);
      await page.waitForURL(/\/hub\/login/);
      await page.fill('#username_input', 'admin');
      await page.fill('#password_input', 'anything');
      await Promise.all([page.waitForURL(/\/services\/hubmill\/api\/v1\/jobs$/), page.click('#login_submit')]);
      const jobs = JSON.parse((await page.textContent('body')) ?? '{}');
      const users = new Set(jobs.jobs.map((j: { username: string }) => j.username));
      assert.ok(users.has('alice') && users.has('bob'), `admin sees everyone: ${[...users].join(',')}`);
      await context.close();
    });
  });
});
