/**
 * Limits with hub tokens against a real JupyterHub: per-user and per-IP rate
 * limits and per-user run quotas answer 429 with Retry-After and recover; a hub
 * outage is a 503, not a 401; hub answers are cached.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigFlags } from '../../src/config.js';
import type { StartedServer } from '../../src/server.js';
import { HubAuthenticator } from '../../src/http/hub-auth.js';
import { startHubService } from '../helpers/hub-service.js';
import { freePort, startHub, type Hub } from '../helpers/jupyterhub.js';
import { code, notebookJson as notebook } from '../helpers/notebooks.js';
import { call } from '../helpers/http.js';
import { eventually } from '../helpers/wait.js';

describe('limits with a real JupyterHub', { timeout: 120_000 }, () => {
  let hub: Hub;
  const servers: StartedServer[] = [];
  const tok: Record<string, string> = {};

  async function hubmill(flags: ConfigFlags): Promise<string> {
    const port = await freePort();
    const { server: s } = await startHubService(hub, port, { dataDir: join(hub.dir, `data-${port}`), ...flags });
    servers.push(s);
    return `http://127.0.0.1:${s.port}`;
  }

  before(async () => {
    hub = await startHub({ users: ['carol', 'dave'] });
    await writeFile(join(hub.homeOf('carol'), 'slow.ipynb'), notebook([code('import time\nfor _ in range(300):\n    time.sleep(0.1)')]));
    tok.carol = (await hub.createToken('carol')).token;
    tok.dave = (await hub.createToken('dave')).token;
  });
  after(async () => {
    for (const s of servers) await s.close();
    await hub?.stop();
  });

  it('per-user rate limit: 429 with Retry-After for that user only, then recovers', async () => {
    const base = await hubmill({ rateLimitPerMin: 5, rateLimitWindowS: 2, rateLimitIpPerMin: 0 });
    for (let i = 0; i < 5; i++) assert.equal((await call(base, 'GET', '/api/v1/kernelspecs', tok.carol!)).status, 200);
    const limited = await call(base, 'GET', '/api/v1/kernelspecs', tok.carol!);
    assert.equal(limited.status, 429);
    assert.equal(limited.body.code, 'RATE_LIMITED');
    assert.equal(limited.headers.get('content-type')?.split(';')[0], 'application/problem+json');
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 2, `Retry-After ${retry}`);
    assert.equal((await call(base, 'GET', '/api/v1/kernelspecs', tok.dave!)).status, 200, 'another user is not limited');
    // Recovered once the window passed: asked until it answers, within Retry-After and some slack.
    await eventually(async () => (await call(base, 'GET', '/api/v1/kernelspecs', tok.carol!)).status === 200, retry * 1000 + 3000, 'carol to be served again after the window', 100);
  });

  it('per-IP rate limit applies before authentication and follows X-Forwarded-For from the local proxy', async () => {
    const base = await hubmill({ rateLimitPerMin: 0, rateLimitIpPerMin: 3, rateLimitWindowS: 2 });
    for (let i = 0; i < 3; i++) assert.equal((await call(base, 'GET', '/api/v1/jobs', 'bad-token')).status, 401);
    const limited = await call(base, 'GET', '/api/v1/jobs', 'bad-token');
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    // Another client behind the hub's proxy (loopback) has its own bucket.
    assert.equal((await call(base, 'GET', '/api/v1/jobs', tok.carol!, undefined, { 'x-forwarded-for': '10.1.2.3' })).status, 200);
    // Recovered once the 2 s window passed (asked until it answers, bounded).
    await eventually(async () => (await call(base, 'GET', '/api/v1/jobs', tok.carol!)).status === 200, 5000, 'the loopback address to be served again', 100);
  });

  it('run quota per user: 429 when running + waiting are full, accepted again once one ends', async () => {
    const base = await hubmill({ maxRunningPerUser: 1, maxQueuedPerUser: 1, concurrency: 1, rateLimitPerMin: 0, rateLimitIpPerMin: 0 });
    const a = await call(base, 'POST', '/api/v1/jobs', tok.carol!, { notebook: 'slow.ipynb' });
    const b = await call(base, 'POST', '/api/v1/jobs', tok.carol!, { notebook: 'slow.ipynb' });
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    const c = await call(base, 'POST', '/api/v1/jobs', tok.carol!, { notebook: 'slow.ipynb' });
    assert.equal(c.status, 429);
    assert.equal(c.body.code, 'RUN_QUOTA');
    assert.match(c.body.detail, /carol/);
    assert.ok(Number(c.headers.get('retry-after')) >= 1);
    // The synchronous seed endpoint counts too.
    const seed = await call(base, 'POST', '/execute', tok.carol!, { username: 'carol', notebook_name: 'slow.ipynb' });
    assert.equal(seed.status, 429);
    // Parallel submissions cannot slip past the check.
    await call(base, 'POST', `/api/v1/jobs/${b.body.id}/cancel`, tok.carol!);
    const burst = await Promise.all([1, 2, 3, 4].map(() => call(base, 'POST', '/api/v1/jobs', tok.carol!, { notebook: 'slow.ipynb' })));
    assert.deepEqual(burst.map((r) => r.status).sort(), [202, 429, 429, 429]);
    // Recovers once runs end.
    for (const id of [a.body.id, burst.find((r) => r.status === 202)!.body.id]) await call(base, 'POST', `/api/v1/jobs/${id}/cancel`, tok.carol!);
    const d = await call(base, 'POST', '/api/v1/jobs', tok.carol!, { notebook: 'slow.ipynb' });
    assert.equal(d.status, 202, JSON.stringify(d.body));
    await call(base, 'POST', `/api/v1/jobs/${d.body.id}/cancel`, tok.carol!);
  });

  it('run timeouts above the admin-set maximum are refused (422)', async () => {
    const base = await hubmill({ maxTimeoutS: 30, maxCellTimeoutS: 10 });
    const r = await call(base, 'POST', '/api/v1/jobs', tok.carol!, { notebook: 'slow.ipynb', timeout_s: 31 });
    assert.equal(r.status, 422);
    assert.match(r.body.detail, /maximum/);
    const c = await call(base, 'POST', '/api/v1/jobs', tok.carol!, { notebook: 'slow.ipynb', cell_timeout_s: 11 });
    assert.equal(c.status, 422);
  });

  it('hub answers are cached per token; a hub that is down is a 503, not a 401', async () => {
    const auth = new HubAuthenticator({ apiUrl: hub.apiUrl });
    const id1 = await auth.identify(tok.carol!);
    const id2 = await auth.identify(tok.carol!);
    assert.equal(id1?.name, 'carol');
    assert.equal(id2?.name, 'carol');
    assert.equal(auth.hubCalls, 1);
    assert.equal(await auth.identify('bogus'), null);
    assert.equal(await auth.identify('bogus'), null);
    assert.equal(auth.hubCalls, 2, 'a rejected token is remembered briefly');

    const deadPort = await freePort();
    const base = await hubmill({ jupyterhubApiUrl: `http://127.0.0.1:${deadPort}/hub/api` });
    const r = await call(base, 'GET', '/api/v1/jobs', tok.carol!);
    assert.equal(r.status, 503);
    assert.equal(r.body.code, 'HUB_UNAVAILABLE');
    assert.equal((await call(base, 'GET', '/health', null)).status, 200);
  });
});
