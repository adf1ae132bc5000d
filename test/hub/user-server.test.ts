/**
 * Jobs with target "user-server" against a real JupyterHub (Debian's jupyterhub
 * 3.0, simple spawner, jupyterhub-singleuser): submitted through hubmill's API
 * with the user's own hub token, the kernel runs in the user's single-user
 * server (started on demand) in the notebook's folder, with papermill's
 * semantics (parameters, cell errors, cancellation by interrupt).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Runner } from '../../src/runner/runner.js';
import type { StartedServer } from '../../src/server.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { UserServerNotConfiguredError } from '../../src/homes/hub-servers.js';
import { startHubService } from '../helpers/hub-service.js';
import { freePort, startHub, type Hub } from '../helpers/jupyterhub.js';
import { code, notebookJson as notebook } from '../helpers/notebooks.js';
import { call } from '../helpers/http.js';
import { sseEvent } from '../helpers/sse.js';
import { eventually } from '../helpers/wait.js';

const USER = 'carol';

describe('jobs in the user\'s own single-user server', { timeout: 120_000 }, () => {
  let hub: Hub;
  let server: StartedServer;
  let base: string;
  let token: string;

  before(async () => {
    const port = await freePort();
    hub = await startHub({ hubmillPort: port, users: [USER] });
    const proj = join(hub.homeOf(USER), 'proj');
    await mkdir(proj, { recursive: true });
    await writeFile(
      join(proj, 'where.ipynb'),
      notebook([
        code('x = 1\nname = "nobody"', ['parameters']),
        code(
          "import os, json\nprint(json.dumps({'user': os.environ.get('JUPYTERHUB_USER'), 'api': os.environ.get('JUPYTERHUB_API_URL'), " +
            "'prefix': os.environ.get('JUPYTERHUB_SERVICE_PREFIX'), 'cwd': os.getcwd(), 'x': x, 'name': name}))",
        ),
      ]),
    );
    await writeFile(join(proj, 'fails.ipynb'), notebook([code('y = 1'), code("raise ValueError('boom in the user server')"), code('print("never")')]));
    await writeFile(
      join(proj, 'sleeps.ipynb'),
      notebook([code("print('started', flush=True)"), code("import time\nprint('sleeping', flush=True)\ntime.sleep(60)"), code('print("never")')]),
    );
    const started = await startHubService(hub, port, { concurrency: 2 }, { HUBMILL_HUB_PUBLIC_URL: hub.url });
    assert.equal(started.config.hubPublicUrl, hub.url);
    ({ server, base } = started);
    token = (await hub.createToken(USER)).token;
  });

  after(async () => {
    await server?.close();
    await hub?.stop();
  });

  it('starts the server, injects parameters and runs in the notebook\'s folder inside the single-user server', async () => {
    const before = await hub.api('GET', `/users/${USER}`);
    assert.equal(before.body.servers?.['']?.ready ?? false, false, 'the server is not running before the job');
    const r = await call(base, 'POST', '/api/v1/jobs?wait=true', token, {
      notebook: 'proj/where.ipynb',
      parameters: { x: 42, name: 'hubmill' },
      target: 'user-server',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body.error));
    assert.equal(r.body.target, 'user-server');
    const running = await hub.api('GET', `/users/${USER}`);
    assert.equal(running.body.servers?.['']?.ready, true, 'the job started the user\'s server');

    const out = await call(base, 'GET', `/api/v1/jobs/${r.body.id}/output`, token);
    assert.equal(out.status, 200);
    const cells = out.body.cells as Array<{ source: string | string[]; metadata: { tags?: string[] }; outputs?: Array<{ text?: string | string[] }> }>;
    const src = (c: { source: string | string[] }) => (Array.isArray(c.source) ? c.source.join('') : c.source);
    const injected = cells.find((c) => c.metadata.tags?.includes('injected-parameters'));
    assert.ok(injected, 'an injected-parameters cell');
    assert.match(src(injected), /x = 42/);
    assert.match(src(injected), /name = "hubmill"/);
    const printed = cells.flatMap((c) => c.outputs ?? []).map((o) => (Array.isArray(o.text) ? o.text.join('') : o.text ?? '')).join('');
    const seen = JSON.parse(printed.trim()) as Record<string, unknown>;
    assert.equal(seen.user, USER, 'JUPYTERHUB_USER is set only in a hub-spawned server (hubmill itself has none)');
    assert.equal(process.env.JUPYTERHUB_USER, undefined);
    assert.match(String(seen.api), /^http:\/\/127\.0\.0\.1:\d+\/hub\/api$/);
    assert.equal(seen.prefix, `/user/${USER}/`);
    assert.equal(seen.cwd, await realpath(join(hub.homeOf(USER), 'proj')));
    assert.equal(seen.x, 42);
    assert.equal(seen.name, 'hubmill');
    // The output was written by hubmill next to the notebook, as for local jobs.
    assert.match(r.body.output_path, /^proj\/hubmill-outputs\/where-.+\.ipynb$/);
    // The kernel was shut down in the user's server at the end.
    await waitKernelsGone(hub, USER);
  });

  it('a cell error fails the job with its ename and evalue', async () => {
    const r = await call(base, 'POST', '/api/v1/jobs?wait=true', token, { notebook: 'proj/fails.ipynb', target: 'user-server' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'failed');
    assert.equal(r.body.error.ename, 'ValueError');
    assert.equal(r.body.error.evalue, 'boom in the user server');
    assert.ok(r.body.error.traceback.length > 0);
    await waitKernelsGone(hub, USER);
  });

  it('cancelling a running job interrupts the cell in the user\'s server', async () => {
    const r = await call(base, 'POST', '/api/v1/jobs', token, { notebook: 'proj/sleeps.ipynb', target: 'user-server' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.id as string;
    // The second cell's own output says the sleep is running (the job's events, bounded).
    await sseEvent(base, token, id, (event, d) => event === 'output' && JSON.stringify(d.output).includes('sleeping'), 30_000);
    assert.equal((await call(base, 'GET', `/api/v1/jobs/${id}`, token)).body.status, 'running');
    const t0 = Date.now();
    const c = await call(base, 'POST', `/api/v1/jobs/${id}/cancel`, token);
    assert.ok([200, 202].includes(c.status), JSON.stringify(c.body));
    const final = await eventually(
      async () => {
        const j = (await call(base, 'GET', `/api/v1/jobs/${id}`, token)).body;
        return j.status !== 'running' && j;
      },
      15_000,
      'the cancel to end the job',
    );
    assert.equal(final.status, 'cancelled', JSON.stringify(final));
    assert.equal(final.error.ename, 'Cancelled');
    // Interrupted (KeyboardInterrupt) well within the 3 s grace after which the kernel would be killed.
    assert.ok(Date.now() - t0 < 3000, `cancel took ${Date.now() - t0} ms`);
    await waitKernelsGone(hub, USER);
  });

  it('without the hub\'s public URL the runner refuses user-server jobs (422)', async () => {
    const store = new SqliteJobStore({ path: ':memory:' });
    try {
      const runner = new Runner({ store, homeFor: (u) => hub.homeOf(u), concurrency: 1 });
      await assert.rejects(
        runner.submit({ username: USER, notebook: 'proj/where.ipynb', parameters: {}, submitted_by: USER, target: 'user-server' }),
        (e: Error) => e instanceof UserServerNotConfiguredError && (e as UserServerNotConfiguredError).httpStatus === 422 && /HUBMILL_HUB_PUBLIC_URL/.test(e.message),
      );
    } finally {
      await store.close();
    }
  });
});

/** The user's server has no kernels left (hubmill shuts its kernel down once the run ends). */
async function waitKernelsGone(hub: Hub, user: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last: unknown = null;
  while (Date.now() < deadline) {
    const res = await fetch(`${hub.url}/user/${user}/api/kernels`, { headers: { authorization: `token ${hub.adminServiceToken}` }, signal: AbortSignal.timeout(5000) });
    last = await res.json().catch(() => null);
    if (res.status === 200 && Array.isArray(last) && last.length === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`kernels left in the user's server: ${JSON.stringify(last)}`);
}
