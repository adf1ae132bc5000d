/**
 * Sharing with hub groups against a real JupyterHub (issue 18): two groups
 * (analysts: bob; viewers: carol) and three users (alice owns everything). The
 * matrix grants the analysts each level in turn on alice's schedule, pipeline
 * and job and calls every endpoint as bob: no grant is 404, too low a level is a
 * 403 naming the level needed, enough is the owner's answer; carol (no grant)
 * always gets 404, the hub admin always the owner's answer. Runs bob starts run
 * as alice and record him as `triggered_by`. Listings and `?shared=true`; a user
 * removed from a group loses access within the token-check cache time; share
 * links: the page, expiry, revocation, and that the link reveals nothing else.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StartedServer } from '../../src/server.js';
import { startHubService } from '../helpers/hub-service.js';
import { freePort, startHub, type Hub } from '../helpers/jupyterhub.js';
import { code, notebookJson as notebook } from '../helpers/notebooks.js';
import { call } from '../helpers/http.js';
import { eventually } from '../helpers/wait.js';

const CACHE_S = 2;
type Level = 'view' | 'run' | 'manage';
const RANK: Record<Level, number> = { view: 1, run: 2, manage: 3 };

describe('sharing with hub groups (real JupyterHub)', { timeout: 300_000 }, () => {
  let hub: Hub;
  let server: StartedServer;
  let base: string;
  const tok: Record<string, string> = {};
  let schedule: string;
  let pipeline: string;
  let pipelineRun: string;
  let job: string;
  let otherJob: string;

  const as = (who: string, method: string, path: string, body?: unknown) => call(base, method, path, tok[who], body);
  async function ok(who: string, method: string, path: string, body?: unknown, statuses = [200, 201, 202, 204]) {
    const r = await as(who, method, path, body);
    assert.ok(statuses.includes(r.status), `${who} ${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }
  async function settledRun() {
    await eventually(
      async () => {
        const r = await as('alice', 'GET', `/api/v1/pipelines/${pipeline}/runs/${pipelineRun}`);
        return !['queued', 'running'].includes(r.body.status) && r.body.tasks.every((t: { status: string }) => !['pending', 'running'].includes(t.status));
      },
      60_000,
      'the pipeline run to settle',
      100,
    );
  }
  const grant = async (level: Level | null) => {
    const permissions = level ? [{ group: 'analysts', level }] : [];
    for (const kind of ['schedules', 'pipelines', 'jobs']) {
      const id = kind === 'schedules' ? schedule : kind === 'pipelines' ? pipeline : job;
      await ok('alice', 'PUT', `/api/v1/${kind}/${id}/permissions`, { permissions });
    }
  };

  before(async () => {
    const port = await freePort();
    hub = await startHub({
      hubmillPort: port,
      users: ['alice', 'bob', 'carol'],
      // The test-admin service also manages groups (membership changes in the tests).
      extraConfig: 'c.JupyterHub.load_roles.append({"name": "test-groups", "services": ["test-admin"], "scopes": ["admin:groups"]})',
    });
    for (const [g, users] of [['analysts', ['bob']], ['viewers', ['carol']]] as const) {
      const r = await hub.api('POST', `/groups/${g}`, { users });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    await writeFile(join(hub.homeOf('alice'), 'nb.ipynb'), notebook([code('x = 1', ['parameters']), code('print("ALICE-OUTPUT", x)')]));
    await writeFile(join(hub.homeOf('alice'), 'other.ipynb'), notebook([code('print("OTHER-RUN-MARK")')]));
    ({ server, base } = await startHubService(hub, port, { pool: 'python3:1', concurrency: 2 }, { HUBMILL_HUB_AUTH_CACHE_S: String(CACHE_S) }));
    for (const u of ['alice', 'bob', 'carol', 'admin']) tok[u] = (await hub.createToken(u)).token;
    schedule = (await ok('alice', 'POST', '/api/v1/schedules', { name: 'nightly', cron: '0 3 * * *', notebook: 'nb.ipynb' })).id;
    pipeline = (await ok('alice', 'POST', '/api/v1/pipelines', { name: 'pl', tasks: [{ key: 'a', notebook: 'nb.ipynb' }] })).id;
    pipelineRun = (await ok('alice', 'POST', `/api/v1/pipelines/${pipeline}/runs?wait=true`, {})).id;
    job = (await ok('alice', 'POST', '/api/v1/jobs?wait=true', { notebook: 'nb.ipynb', parameters: { x: 7 } })).id;
    otherJob = (await ok('alice', 'POST', '/api/v1/jobs?wait=true', { notebook: 'other.ipynb' })).id;
    await settledRun();
  });

  after(async () => {
    await server?.close();
    await hub?.stop();
  });

  it('the hub reports the groups on the token check', async () => {
    const me = await hub.api('GET', '/user', undefined, tok.bob);
    assert.deepEqual(me.body.groups, ['analysts']);
  });

  // Every endpoint of a shared object, with the level it needs. Destructive ones (DELETE) are in their own test.
  const endpoints: Array<{ name: string; need: Level; call: () => [string, string, unknown?]; before?: () => Promise<void> }> = [
    { name: 'GET schedule', need: 'view', call: () => ['GET', `/api/v1/schedules/${schedule}`] },
    { name: 'GET schedule runs', need: 'view', call: () => ['GET', `/api/v1/schedules/${schedule}/runs`] },
    { name: 'GET schedule permissions', need: 'view', call: () => ['GET', `/api/v1/schedules/${schedule}/permissions`] },
    { name: 'POST schedule run now', need: 'run', call: () => ['POST', `/api/v1/schedules/${schedule}/run`, {}] },
    { name: 'PATCH schedule', need: 'manage', call: () => ['PATCH', `/api/v1/schedules/${schedule}`, { name: 'nightly' }] },
    { name: 'POST schedule pause', need: 'manage', call: () => ['POST', `/api/v1/schedules/${schedule}/pause`] },
    { name: 'POST schedule resume', need: 'manage', call: () => ['POST', `/api/v1/schedules/${schedule}/resume`] },
    { name: 'PUT schedule permissions', need: 'manage', call: () => ['PUT', `/api/v1/schedules/${schedule}/permissions`, { permissions: [{ group: 'analysts', level: 'manage' }] }] },
    { name: 'GET pipeline', need: 'view', call: () => ['GET', `/api/v1/pipelines/${pipeline}`] },
    { name: 'GET pipeline runs', need: 'view', call: () => ['GET', `/api/v1/pipelines/${pipeline}/runs`] },
    { name: 'GET pipeline run', need: 'view', call: () => ['GET', `/api/v1/pipelines/${pipeline}/runs/${pipelineRun}`] },
    { name: 'GET pipeline run results', need: 'view', call: () => ['GET', `/api/v1/pipelines/${pipeline}/runs/${pipelineRun}/results`] },
    { name: 'GET pipeline run events', need: 'view', call: () => ['GET', `/api/v1/pipelines/${pipeline}/runs/${pipelineRun}/events`], before: settledRun },
    { name: 'GET pipeline permissions', need: 'view', call: () => ['GET', `/api/v1/pipelines/${pipeline}/permissions`] },
    { name: 'POST pipeline run', need: 'run', call: () => ['POST', `/api/v1/pipelines/${pipeline}/runs`, {}] },
    { name: 'POST pipeline run cancel', need: 'run', call: () => ['POST', `/api/v1/pipelines/${pipeline}/runs/${pipelineRun}/cancel`], before: settledRun },
    { name: 'POST pipeline run repair', need: 'run', call: () => ['POST', `/api/v1/pipelines/${pipeline}/runs/${pipelineRun}/repair`, { tasks: ['a'] }], before: settledRun },
    { name: 'PATCH pipeline', need: 'manage', call: () => ['PATCH', `/api/v1/pipelines/${pipeline}`, { name: 'pl' }] },
    { name: 'PUT pipeline permissions', need: 'manage', call: () => ['PUT', `/api/v1/pipelines/${pipeline}/permissions`, { permissions: [{ group: 'analysts', level: 'manage' }] }] },
    { name: 'GET job', need: 'view', call: () => ['GET', `/api/v1/jobs/${job}`] },
    { name: 'GET job output', need: 'view', call: () => ['GET', `/api/v1/jobs/${job}/output`] },
    { name: 'GET job events', need: 'view', call: () => ['GET', `/api/v1/jobs/${job}/events`] },
    { name: 'GET job permissions', need: 'view', call: () => ['GET', `/api/v1/jobs/${job}/permissions`] },
    { name: 'POST job cancel', need: 'run', call: () => ['POST', `/api/v1/jobs/${job}/cancel`] },
    { name: 'PUT job permissions', need: 'manage', call: () => ['PUT', `/api/v1/jobs/${job}/permissions`, { permissions: [{ group: 'analysts', level: 'manage' }] }] },
    { name: 'POST job share-links', need: 'manage', call: () => ['POST', `/api/v1/jobs/${job}/share-links`, {}] },
    { name: 'GET job share-links', need: 'manage', call: () => ['GET', `/api/v1/jobs/${job}/share-links`] },
  ];

  for (const level of [null, 'view', 'run', 'manage'] as const) {
    it(`permission matrix: the analysts group holds ${level ?? 'no grant'}`, async () => {
      await grant(level);
      for (const ep of endpoints) {
        await ep.before?.();
        const [method, path, body] = ep.call();
        const r = await as('bob', method, path, body);
        const label = `bob (${level ?? 'none'}) ${ep.name}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`;
        if (level === null) assert.equal(r.status, 404, label);
        else if (RANK[level] < RANK[ep.need]) {
          assert.equal(r.status, 403, label);
          assert.equal(r.body.level_needed, ep.need, label);
          assert.match(r.body.detail, new RegExp(`'${ep.need}'`), label);
        } else assert.ok(r.status >= 200 && r.status < 300, label);
        // The manage-level PUT set the analysts to manage: put the level of this round back.
        if (ep.name.startsWith('PUT')) await grant(level);
        const carol = await as('carol', method, path, body);
        assert.equal(carol.status, 404, `carol ${ep.name}: ${carol.status}`);
      }
    });
  }

  it('the hub admin and the owner reach every endpoint', async () => {
    await grant(null);
    for (const who of ['alice', 'admin']) {
      for (const ep of endpoints) {
        await ep.before?.();
        const [method, path, body] = ep.call();
        const r = await as(who, method, path, body);
        assert.ok(r.status >= 200 && r.status < 300, `${who} ${ep.name}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      }
      await grant(null);
    }
  });

  it('delete needs manage: 404 without a grant, 403 below manage, 204 with it', async () => {
    for (const [kind, body] of [
      ['schedules', { name: 'tmp', cron: '0 3 * * *', notebook: 'nb.ipynb' }],
      ['pipelines', { name: 'tmp', tasks: [{ key: 'a', notebook: 'nb.ipynb' }] }],
    ] as const) {
      for (const level of [null, 'view', 'run', 'manage'] as const) {
        const id = (await ok('alice', 'POST', `/api/v1/${kind}`, body)).id;
        if (level) await ok('alice', 'PUT', `/api/v1/${kind}/${id}/permissions`, { permissions: [{ group: 'analysts', level }] });
        const r = await as('bob', 'DELETE', `/api/v1/${kind}/${id}`);
        assert.equal(r.status, level === null ? 404 : level === 'manage' ? 204 : 403, `${kind} ${level}: ${JSON.stringify(r.body)}`);
        if (level === 'manage') assert.equal((await as('alice', 'GET', `/api/v1/${kind}/${id}`)).status, 404);
        else await ok('alice', 'DELETE', `/api/v1/${kind}/${id}`);
      }
    }
  });

  it("a run a grantee starts runs as the owner, records who pressed the button, and inherits the schedule's grants", async () => {
    await ok('alice', 'PUT', `/api/v1/schedules/${schedule}/permissions`, { permissions: [{ user: 'bob', level: 'run' }] });
    const started = await ok('bob', 'POST', `/api/v1/schedules/${schedule}/run`, {});
    assert.equal(started.username, 'alice');
    assert.equal(started.triggered_by, 'bob');
    await eventually(async () => (await as('bob', 'GET', `/api/v1/jobs/${started.id}`)).body.status === 'succeeded', 60_000, 'the run to end', 100);
    // The job has no grant of its own: bob sees it through the schedule, carol not at all.
    const perms = await ok('bob', 'GET', `/api/v1/jobs/${started.id}/permissions`);
    assert.deepEqual(perms.permissions, []);
    assert.deepEqual(perms.inherited, [{ from: 'schedule', id: schedule, user: 'bob', level: 'run' }]);
    assert.equal(perms.your_level, 'run');
    assert.equal((await as('carol', 'GET', `/api/v1/jobs/${started.id}`)).status, 404);
    // Its output is in alice's home.
    const out = await call(base, 'GET', `/api/v1/jobs/${started.id}/output`, tok.bob);
    assert.equal(out.status, 200);
    assert.match(JSON.stringify(out.body), /ALICE-OUTPUT/);
    await ok('alice', 'PUT', `/api/v1/schedules/${schedule}/permissions`, { permissions: [] });
  });

  it('listings show own and shared objects; ?shared=true only the shared ones', async () => {
    await grant('view');
    const ids = async (who: string, path: string, key: string) => (await ok(who, 'GET', path))[key].map((x: { id: string }) => x.id);
    assert.ok((await ids('bob', '/api/v1/schedules', 'schedules')).includes(schedule));
    assert.deepEqual(await ids('bob', '/api/v1/schedules?shared=true', 'schedules'), [schedule]);
    assert.deepEqual(await ids('bob', '/api/v1/pipelines?shared=true', 'pipelines'), [pipeline]);
    const sharedJobs: string[] = await ids('bob', '/api/v1/jobs?shared=true', 'jobs');
    assert.ok(sharedJobs.includes(job) && !sharedJobs.includes(otherJob), JSON.stringify(sharedJobs));
    // Jobs of the shared pipeline come with it.
    const runJobs = (await ok('alice', 'GET', `/api/v1/jobs?pipeline_run_id=${pipelineRun}`)).jobs.map((j: { id: string }) => j.id);
    assert.ok(runJobs.length > 0 && runJobs.every((id: string) => sharedJobs.includes(id)));
    assert.deepEqual(await ids('carol', '/api/v1/schedules?shared=true', 'schedules'), []);
    assert.deepEqual(await ids('carol', '/api/v1/jobs?shared=true', 'jobs'), []);
    assert.ok(!(await ids('carol', '/api/v1/schedules', 'schedules')).includes(schedule));
    await grant(null);
  });

  it('a user removed from a group loses access within the token-check cache time', async () => {
    await grant('view');
    await ok('bob', 'GET', `/api/v1/schedules/${schedule}`);
    const removed = await hub.api('DELETE', '/groups/analysts/users', { users: ['bob'] });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    const t0 = Date.now();
    await eventually(async () => (await as('bob', 'GET', `/api/v1/schedules/${schedule}`)).status === 404, (CACHE_S + 5) * 1000, 'bob to lose access', 100);
    assert.ok(Date.now() - t0 <= (CACHE_S + 1) * 1000, `access lost after ${Date.now() - t0} ms`);
    const back = await hub.api('POST', '/groups/analysts/users', { users: ['bob'] });
    assert.equal(back.status, 200);
    await eventually(async () => (await as('bob', 'GET', `/api/v1/schedules/${schedule}`)).status === 200, (CACHE_S + 5) * 1000, 'bob to regain access', 100);
    await grant(null);
  });

  it('share links: the page shows that run only, expires, and a revoked one is refused', async () => {
    const link = await ok('alice', 'POST', `/api/v1/jobs/${job}/share-links`, {});
    assert.match(link.url, new RegExp(`^${base}/services/hubmill/shared/sl_[\\w-]+\\.[\\w-]{43}$`));
    const days = (Date.parse(link.expires_at) - Date.now()) / 86_400_000;
    assert.ok(days > 6.9 && days <= 7, String(days));
    assert.equal((await as('alice', 'POST', `/api/v1/jobs/${job}/share-links`, { expires_in_s: 31 * 86_400 })).status, 422);
    const page = await fetch(link.url);
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, /ALICE-OUTPUT 7/);
    assert.doesNotMatch(html, /OTHER-RUN-MARK/);
    assert.doesNotMatch(html, /<script/i);
    assert.match(page.headers.get('content-security-policy') ?? '', /^sandbox; default-src 'none'/);
    assert.equal(page.headers.get('set-cookie'), null);
    // Through the hub's proxy too, with no hub account.
    const proxied = await fetch(`${hub.url}/services/hubmill/shared/${link.url.split('/').pop()}`, { redirect: 'manual' });
    assert.equal(proxied.status, 200);
    assert.match(await proxied.text(), /ALICE-OUTPUT 7/);
    // The link is no credential: not for the API, not for another run's page, not as a cookie.
    const token = link.url.split('/').pop()!;
    assert.equal((await call(base, 'GET', `/api/v1/jobs/${job}`, token)).status, 401);
    assert.equal((await call(base, 'GET', `/api/v1/jobs/${job}?token=${encodeURIComponent(token)}`)).status, 401);
    assert.equal((await call(base, 'GET', `/api/v1/jobs/${otherJob}/output`, null, undefined, { cookie: `hubmill-token=${token}` })).status, 401);
    const [id, sig] = token.split('.') as [string, string];
    assert.equal((await fetch(`${base}/shared/${id}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`)).status, 404);
    assert.equal((await fetch(`${base}/shared/${id}`)).status, 404);
    // Expiry.
    const short = await ok('alice', 'POST', `/api/v1/jobs/${job}/share-links`, { expires_in_s: 1 });
    await eventually(async () => (await fetch(short.url)).status === 410, 10_000, 'the 1 s link to expire', 100);
    // Revocation.
    await ok('alice', 'DELETE', `/api/v1/jobs/${job}/share-links/${link.id}`);
    const gone = await fetch(link.url);
    assert.equal(gone.status, 410);
    assert.doesNotMatch(await gone.text(), /ALICE-OUTPUT/);
    const listed = await ok('alice', 'GET', `/api/v1/jobs/${job}/share-links`);
    assert.ok(listed.links.find((l: { id: string; revoked_at: string | null }) => l.id === link.id)?.revoked_at);
    assert.equal((await as('alice', 'DELETE', `/api/v1/jobs/${job}/share-links/sl_nope`)).status, 404);
    // Only manage may create one: a viewer gets 403.
    await grant('view');
    assert.equal((await as('bob', 'POST', `/api/v1/jobs/${job}/share-links`, {})).status, 403);
    await grant(null);
  });
});
