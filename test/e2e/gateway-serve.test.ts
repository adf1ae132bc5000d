// `hubmill serve` (in-process) with HUBMILL_KERNEL_GATEWAY_URL/_TOKEN pointing at a real Jupyter Server
// started by the test: the kernelspecs API shows the gateway's kernelspecs and the warm pool on it, a
// parametrized job runs on the warm gateway kernel, and once the gateway is down the API answers 503
// problems instead of hanging.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startServer, type StartedServer } from '../../src/server.js';
import { hasJupyterServer, startJupyterServer, type JupyterServer } from '../helpers/jupyter-server.js';
import { code, notebookJson } from '../helpers/notebooks.js';

const TOKEN = 'e2e-gateway-serve-token-9b1e';

const WHERE = `import os, json
from ipykernel import get_connection_file
print(json.dumps({"mark": os.environ.get("HUBMILL_GATEWAY_MARK"), "ppid": os.getppid(), "cwd": os.getcwd(), "n": n,
                  "kernel_id": os.path.basename(get_connection_file())[len("kernel-"):-len(".json")]}))`;

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; type: string; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `token ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(90_000),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : null };
}

/** Polls until `fn` returns a value (bounded). */
async function until<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('hubmill serve with a kernel gateway', { skip: !hasJupyterServer && 'no jupyter_server' }, () => {
  let gatewayServer: JupyterServer;
  let server: StartedServer;
  let root: string;
  let home: string;
  let base: string;

  before(async () => {
    gatewayServer = await startJupyterServer();
    root = await mkdtemp(join(tmpdir(), 'hubmill-e2e-gateway-'));
    home = join(root, 'home', 'alice');
    await mkdir(join(home, 'proj'), { recursive: true });
    await writeFile(join(home, 'proj', 'where.ipynb'), notebookJson([code('n = 0', ['parameters']), code(WHERE)]));
    const config = loadConfig(
      { port: 0, homeTemplate: join(root, 'home', '{username}'), dataDir: join(root, 'data'), apiToken: TOKEN, poolSizes: 'python3:1', concurrency: 1, shutdownGraceS: 2, waitMaxS: 90 },
      { HUBMILL_KERNEL_GATEWAY_URL: gatewayServer.url, HUBMILL_KERNEL_GATEWAY_TOKEN: gatewayServer.token },
    );
    server = await startServer(config, { signals: false, logger: pino({ level: 'silent' }), print: () => {} });
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    await server?.close();
    await gatewayServer?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("lists the gateway's kernelspecs with the warm pool kept on the gateway", async () => {
    assert.equal(server.gateway?.url, gatewayServer.url);
    const specs = await until('a warm kernel', async () => {
      const r = await call(base, 'GET', '/api/v1/kernelspecs');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const py = r.body.kernelspecs.find((s: { name: string }) => s.name === 'python3');
      return py?.pool?.idle === 1 ? r.body : null;
    });
    const py = specs.kernelspecs.find((s: { name: string }) => s.name === 'python3');
    assert.ok(py.resource_dir.startsWith(gatewayServer.url), py.resource_dir);
    assert.equal(specs.default, 'python3');
    const kernels = await gatewayServer.api('GET', '/api/kernels');
    assert.equal(kernels.body.length, 1, 'the warm kernel lives on the gateway');
  });

  it('runs a parametrized job on the warm gateway kernel, in the notebook folder', async () => {
    const warm = (await gatewayServer.api('GET', '/api/kernels')).body as { id: string }[];
    const r = await call(base, 'POST', '/api/v1/jobs?wait=true', { notebook: 'proj/where.ipynb', username: 'alice', parameters: { n: 7 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body.error));
    const out = JSON.parse(await readFile(join(home, r.body.output_path), 'utf8'));
    const printed = JSON.parse([out.cells.at(-1).outputs[0].text].flat().join(''));
    assert.equal(printed.mark, gatewayServer.mark, 'ran on the gateway');
    assert.equal(printed.ppid, gatewayServer.pid);
    assert.equal(printed.n, 7);
    assert.equal(printed.cwd, join(home, 'proj'));
    assert.deepEqual([printed.kernel_id], warm.map((k) => k.id), 'the pre-started kernel');
  });

  it('answers 503 problems (no hang) once the gateway is down', async () => {
    await gatewayServer.stop();
    const down = await until('a 503 from the kernelspecs API', async () => {
      const r = await call(base, 'GET', '/api/v1/kernelspecs');
      return r.status === 503 ? r : null;
    });
    assert.match(down.type, /application\/problem\+json/);
    assert.equal(down.body.code, 'KERNEL_GATEWAY');
    assert.match(down.body.detail, /kernel gateway at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)/);
    const t0 = Date.now();
    const submit = await call(base, 'POST', '/api/v1/jobs', { notebook: 'proj/where.ipynb', username: 'alice', parameters: {} });
    assert.equal(submit.status, 503, JSON.stringify(submit.body));
    assert.equal(submit.body.code, 'KERNEL_GATEWAY');
    assert.ok(Date.now() - t0 < 5000, 'refused at once');
    const health = await until('an unhealthy /health', async () => {
      const r = await call(base, 'GET', '/health');
      return r.status === 503 ? r : null;
    });
    assert.deepEqual(health.body.kernelspecs, []);
  });
});
