/**
 * No shared filesystem: with HUBMILL_HOMES=user-server, a real JupyterHub whose
 * single-user servers have their root (`c.Spawner.notebook_dir`) in a folder
 * hubmill's home template does not point to. The notebooks live ONLY there;
 * hubmill reads them and writes the outputs (incremental saves included)
 * through each server's Contents API, lists them the same way, runs named
 * servers, and stops the servers it started once they are idle.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { injectParameters } from '../../src/notebook/inject.js';
import { parseNotebook } from '../../src/notebook/read.js';
import type { StartedServer } from '../../src/server.js';
import { startHubService } from '../helpers/hub-service.js';
import { freePort, startHub, type Hub } from '../helpers/jupyterhub.js';
import { code, notebookJson as notebook } from '../helpers/notebooks.js';
import { call } from '../helpers/http.js';

const USER = 'dora';
const IDLE_S = 3;
const TERMINAL = ['succeeded', 'failed', 'cancelled', 'timed_out'];

const WHERE = notebook([
  code('x = 1\nname = "nobody"\nratio = 0.1\nitems = []', ['parameters']),
  code(
    "import os, json\nprint(json.dumps({'cwd': os.getcwd(), 'server': os.environ.get('JUPYTERHUB_SERVER_NAME', ''), 'x': x, 'name': name, 'ratio': ratio, 'items': items}))",
  ),
]);

describe('user-server jobs with the notebook only in the user\'s server (Contents API)', { timeout: 240_000 }, () => {
  let hub: Hub;
  let server: StartedServer;
  let base: string;
  let token: string;
  let roots: string;
  let root: string;

  /** A file in the user's server through its Contents API (as the test-admin service). */
  const contents = async (path: string, query = '?type=file&format=text&content=1', server = '') => {
    const prefix = server ? `/user/${USER}/${server}` : `/user/${USER}`;
    const res = await fetch(`${hub.url}${prefix}/api/contents/${path}${query}`, {
      headers: { authorization: `token ${hub.adminServiceToken}` },
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as { content?: string; type?: string } | null };
  };

  const waitJob = async (id: string, pred: (j: any) => boolean, what: string, ms = 60_000) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const deadline = Date.now() + ms;
    for (;;) {
      const j = (await call(base, 'GET', `/api/v1/jobs/${id}`, token)).body;
      if (pred(j)) return j;
      assert.ok(Date.now() < deadline, `${what}: ${JSON.stringify(j)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const serverState = async (name: string): Promise<{ ready: boolean; pending: string | null } | null> => {
    const u = await hub.api('GET', `/users/${USER}`);
    const s = u.body.servers?.[name];
    return s ? { ready: Boolean(s.ready), pending: s.pending ?? null } : null;
  };

  /** No notebook and no outputs folder was ever written on hubmill's side (the user's local home). */
  const assertLocalHomeUntouched = () => {
    const walk = (dir: string): string[] =>
      existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [e.name, ...walk(join(dir, e.name))] : [e.name])) : [];
    const names = walk(hub.homeOf(USER));
    assert.ok(!names.some((n) => n.endsWith('.ipynb') || n === 'hubmill-outputs'), `hubmill wrote into the local home: ${names.join(', ')}`);
  };

  before(async () => {
    roots = await mkdtemp(join(tmpdir(), 'hubmill-srv-'));
    root = join(roots, USER);
    await mkdir(join(root, 'proj'), { recursive: true });
    await writeFile(join(root, 'proj', 'where.ipynb'), WHERE);
    await writeFile(join(root, 'proj', 'fails.ipynb'), notebook([code("print('before the error')"), code("raise ValueError('boom via contents')"), code('print("never")')]));
    await writeFile(
      join(root, 'proj', 'slow.ipynb'),
      notebook([code("print('first-cell-output', flush=True)"), code('import time\ntime.sleep(60)'), code('print("never")')]),
    );
    const port = await freePort();
    hub = await startHub({
      hubmillPort: port,
      users: [USER],
      extraConfig: `c.JupyterHub.allow_named_servers = True\nc.Spawner.notebook_dir = ${JSON.stringify(join(roots, '{username}'))}\n`,
    });
    const started = await startHubService(hub, port, { concurrency: 3, homes: 'user-server', userServerIdleS: IDLE_S }, { HUBMILL_HUB_PUBLIC_URL: hub.url });
    assert.equal(started.config.homes, 'user-server');
    ({ server, base } = started);
    token = (await hub.createToken(USER)).token;
  });

  after(async () => {
    await server?.close();
    await hub?.stop();
    if (roots) await rm(roots, { recursive: true, force: true });
  });

  it('reads the notebook and writes the output through the server; parameters injected as for a local run', async () => {
    const parameters = { x: 42, name: 'hub"mill', ratio: 0.5, items: [1, 'a', null] };
    const r = await call(base, 'POST', '/api/v1/jobs?wait=true', token, { notebook: 'proj/where.ipynb', parameters });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.target, 'user-server', 'HUBMILL_HOMES=user-server makes user-server the default target');
    assert.equal(r.body.server_name, null);
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body.error));
    assert.match(r.body.output_path, /^proj\/hubmill-outputs\/where-.+\.ipynb$/);

    // The output is in the server's folder (read from disk and through the Contents API), the same text both ways.
    const onDisk = readFileSync(join(root, r.body.output_path), 'utf8');
    const viaApi = await contents(r.body.output_path);
    assert.equal(viaApi.status, 200);
    assert.equal(viaApi.body?.content, onDisk);
    // hubmill's own download reads it through the server too.
    const dl = await call(base, 'GET', `/api/v1/jobs/${r.body.id}/output`, token);
    assert.equal(dl.status, 200);
    assert.deepEqual(dl.body, JSON.parse(onDisk));

    // Lossless: the injected cell is exactly what a local run injects into the same notebook.
    const out = parseNotebook(onDisk, 'out');
    const injected = out.cells.find((c) => ((c.metadata as { tags?: string[] }).tags ?? []).includes('injected-parameters'));
    assert.ok(injected, 'an injected-parameters cell');
    const local = injectParameters(parseNotebook(WHERE, 'in'), parameters, { kernelName: 'python3', language: 'python' });
    const localCell = local.notebook.cells.find((c) => ((c.metadata as { tags?: string[] }).tags ?? []).includes('injected-parameters'));
    assert.deepEqual(injected.source, localCell?.source);
    assert.equal((out.metadata as { papermill: { input_path: string } }).papermill.input_path, 'proj/where.ipynb');
    const seen = printedJson(onDisk);
    assert.equal(seen.cwd, realpathSync(join(root, 'proj')), "the kernel ran in the notebook's folder of the server");
    assert.deepEqual({ x: seen.x, name: seen.name, ratio: seen.ratio, items: seen.items }, parameters);
    assertLocalHomeUntouched();
  });

  it('saves incrementally: the first cell\'s output is readable through the Contents API while the job runs', async () => {
    const r = await call(base, 'POST', '/api/v1/jobs', token, { notebook: 'proj/slow.ipynb', output_path: 'proj/slow-out.ipynb' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.id as string;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const c = await contents('proj/slow-out.ipynb');
      if (c.status === 200 && c.body?.content?.includes('first-cell-output')) break;
      const j = (await call(base, 'GET', `/api/v1/jobs/${id}`, token)).body;
      assert.ok(!TERMINAL.includes(j.status), `the job ended before its partial output was seen: ${JSON.stringify(j)}`);
      assert.ok(Date.now() < deadline, 'no partial output within 60 s');
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal((await call(base, 'GET', `/api/v1/jobs/${id}`, token)).body.status, 'running');
    await call(base, 'POST', `/api/v1/jobs/${id}/cancel`, token);
    const final = await waitJob(id, (j) => TERMINAL.includes(j.status), 'the cancel did not end the job', 20_000);
    assert.equal(final.status, 'cancelled');
    assertLocalHomeUntouched();
  });

  it('a failing notebook writes its output with the error', async () => {
    const r = await call(base, 'POST', '/api/v1/jobs?wait=true', token, { notebook: 'proj/fails.ipynb' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'failed');
    assert.equal(r.body.error.ename, 'ValueError');
    assert.equal(r.body.error.evalue, 'boom via contents');
    const text = readFileSync(join(root, r.body.output_path), 'utf8');
    assert.match(text, /boom via contents/);
    assert.match(text, /before the error/);
    assert.match(text, /papermill-error-cell-tag/);
  });

  it('a missing notebook fails the job with a clear error', async () => {
    const r = await call(base, 'POST', '/api/v1/jobs?wait=true', token, { notebook: 'proj/nope.ipynb' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'failed');
    assert.equal(r.body.error.ename, 'NotFoundError');
    assert.match(r.body.error.evalue, /notebook not found in the Jupyter server of dora: proj\/nope\.ipynb/);
  });

  it('refuses hostile paths and server names with 400, and target local (no local homes)', async () => {
    const hostile = ['../x.ipynb', 'a/../b.ipynb', 'proj/../../etc/passwd', '/etc/passwd', 'a\u0000b.ipynb', '%2e%2e/x.ipynb', 'a\\..\\b.ipynb', '~root/x.ipynb', 'proj/\u0001x.ipynb'];
    for (const p of hostile) {
      const r = await call(base, 'POST', '/api/v1/jobs', token, { notebook: p });
      assert.equal(r.status, 400, `notebook ${JSON.stringify(p)}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.detail, /unsafe path|path/, JSON.stringify(r.body));
      const o = await call(base, 'POST', '/api/v1/jobs', token, { notebook: 'proj/where.ipynb', output_path: p });
      assert.equal(o.status, 400, `output_path ${JSON.stringify(p)}: ${JSON.stringify(o.body)}`);
    }
    const listed = await call(base, 'GET', '/api/v1/jobs?limit=100', token);
    assert.ok(!(listed.body.jobs as Array<{ notebook: string }>).some((j) => hostile.includes(j.notebook)), 'no hostile job was stored');
    for (const name of ['../admin', 'a/b', '-x', 'a\u0000']) {
      const bad = await call(base, 'POST', '/api/v1/jobs', token, { notebook: 'proj/where.ipynb', server_name: name });
      assert.equal(bad.status, 422, JSON.stringify(bad.body));
      assert.match(bad.body.detail, /server_name/);
    }
    const local = await call(base, 'POST', '/api/v1/jobs', token, { notebook: 'proj/where.ipynb', target: 'local' });
    assert.equal(local.status, 400, JSON.stringify(local.body));
    assert.match(local.body.detail, /HUBMILL_HOMES=user-server/);
  });

  it('lists the notebooks of the server (seed listing and /api/v1/notebooks with parameters)', async () => {
    const seed = await call(base, 'GET', `/list-notebooks/${USER}`, token);
    assert.equal(seed.status, 200, JSON.stringify(seed.body));
    const paths = (seed.body.notebooks as Array<{ relative_path: string }>).map((n) => n.relative_path);
    assert.ok(paths.includes('proj/where.ipynb') && paths.includes('proj/fails.ipynb'), paths.join(', '));
    const nb = await call(base, 'GET', '/api/v1/notebooks', token);
    assert.equal(nb.status, 200, JSON.stringify(nb.body));
    const where = (nb.body.notebooks as Array<{ path: string; parameters: Array<{ name: string }>; kernel: string }>).find((n) => n.path === 'proj/where.ipynb');
    assert.ok(where, JSON.stringify(nb.body));
    assert.deepEqual(where.parameters.map((p) => p.name), ['x', 'name', 'ratio', 'items']);
    assert.equal(where.kernel, 'python3');
    assert.ok(!(nb.body.notebooks as Array<{ path: string }>).some((n) => n.path.includes('hubmill-outputs')), 'outputs left out by default');
  });

  it('seed /execute: requests in the same second get distinct output names (the Contents API has no exclusive create)', async () => {
    const runs = await Promise.all(
      [1, 2, 3].map((x) => call(base, 'POST', '/execute', token, { username: USER, notebook_name: 'where.ipynb', parameters: { x } })),
    );
    for (const r of runs) assert.equal(r.status, 200, JSON.stringify(r.body));
    const names = runs.map((r) => r.body.output_notebook as string);
    assert.equal(new Set(names).size, 3, names.join(', '));
    for (const [i, name] of names.entries()) {
      assert.match(name, /where_output_\d{8}_\d{6}(_\d+)?\.ipynb$/);
      const out = await contents(name);
      assert.equal(out.status, 200, name);
      assert.equal(printedJson(String(out.body?.content)).x, runs[i]!.body.parameters.x, `${name} is the output of its own request`);
    }
  });

  it('runs in a named server, started on demand', async () => {
    assert.equal(await serverState('gpu'), null);
    const r = await call(base, 'POST', '/api/v1/jobs?wait=true', token, { notebook: 'proj/where.ipynb', server_name: 'gpu', output_path: 'proj/gpu-out.ipynb' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body.error));
    assert.equal(r.body.server_name, 'gpu');
    const seen = printedJson(readFileSync(join(root, 'proj', 'gpu-out.ipynb'), 'utf8'));
    assert.equal(seen.server, 'gpu', 'the kernel ran in the named server');
    const listed = await call(base, 'GET', `/list-notebooks/${USER}?server_name=gpu`, token);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
  });

  it('stops the servers it started once idle, not one that was already running', async () => {
    // 'pre' runs before hubmill uses it; the default server and 'gpu' were started by hubmill's jobs above.
    const pre = await hub.api('POST', `/users/${USER}/servers/pre`);
    assert.ok([201, 202].includes(pre.status), JSON.stringify(pre.body));
    const deadline0 = Date.now() + 30_000;
    while (!(await serverState('pre'))?.ready) {
      assert.ok(Date.now() < deadline0, 'the pre-started server did not become ready');
      await new Promise((r) => setTimeout(r, 200));
    }
    const [a, b] = await Promise.all([
      call(base, 'POST', '/api/v1/jobs?wait=true', token, { notebook: 'proj/where.ipynb', server_name: 'pre', output_path: 'proj/pre-out.ipynb' }),
      call(base, 'POST', '/api/v1/jobs?wait=true', token, { notebook: 'proj/where.ipynb', output_path: 'proj/default-out.ipynb' }),
    ]);
    assert.equal(a.body.status, 'succeeded', JSON.stringify(a.body));
    assert.equal(b.body.status, 'succeeded', JSON.stringify(b.body));
    // Bounded wait for the hub to report the default server stopped (IDLE_S after its last job).
    const deadline = Date.now() + (IDLE_S + 30) * 1000;
    for (;;) {
      const s = await serverState('');
      if (!s || (!s.ready && !s.pending)) break;
      assert.ok(Date.now() < deadline, `the idle default server was not stopped: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const gpu = await serverState('gpu');
    assert.ok(!gpu || (!gpu.ready && !gpu.pending), `the idle named server was not stopped: ${JSON.stringify(gpu)}`);
    assert.equal((await serverState('pre'))?.ready, true, 'a server hubmill did not start is left running');
  });
});

/** The JSON the `where` notebook printed, from its output notebook's text. */
function printedJson(text: string): Record<string, unknown> {
  const out = parseNotebook(text, 'out');
  const printed = out.cells.flatMap((c) => ((c as { outputs?: Array<{ text?: string[] | string }> }).outputs ?? []).map((o) => [o.text ?? ''].flat().join(''))).join('');
  return JSON.parse(printed.trim()) as Record<string, unknown>;
}
