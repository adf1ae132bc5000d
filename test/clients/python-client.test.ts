/**
 * The Python client (clients/python) against a live hubmill: starts the real
 * service on a free port with a temporary home, writes the notebooks the Python
 * tests expect, runs `python3 -m unittest` with /usr/bin/python3 and asserts it
 * passes; also checks the package installs with pip from the folder.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startServer, type StartedServer } from '../../src/server.js';
import { REPO_ROOT } from '../helpers/jupyterhub.js';
import { code, notebookJson as notebook } from '../helpers/notebooks.js';

const PY = '/usr/bin/python3';
const TOKEN = 'pyclient-token-8d1e4c';
const USER = 'pyuser';

const glue = (name: string, expr: string) =>
  `from IPython.display import display\ndisplay({'application/scrapbook.scrap.json+json': {'name': '${name}', 'data': ${expr}, 'encoder': 'json', 'version': 1}}, raw=True)`;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('Python client against a live hubmill', { timeout: 360_000 }, () => {
  let dir: string;
  let server: StartedServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hubmill-pyclient-'));
    const home = join(dir, 'homes', USER);
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'params.ipynb'), notebook([code('alpha = 1\nlabel = "x"', ['parameters']), code(glue('doubled', 'alpha * 2'))]));
    await writeFile(join(home, 'fail.ipynb'), notebook([code('raise ValueError("boom")')]));
    await writeFile(join(home, 'slow.ipynb'), notebook([code('import time\nfor _ in range(600):\n    time.sleep(0.1)')]));
    // test_pipelines.py: extract writes data.txt next to the notebooks, each sweep item reads it.
    const pl = join(home, 'pl');
    await mkdir(pl);
    await writeFile(
      join(pl, 'extract.ipynb'),
      notebook([
        code('rows = 3', ['parameters']),
        code("with open('data.txt', 'w') as f:\n    f.write('\\n'.join(str(i) for i in range(rows)))"),
        code(`${glue('rows', 'rows')}\n${glue('big', '2**63 + 1')}\n${glue('ratio', 'rows / rows')}`),
      ]),
    );
    await writeFile(
      join(pl, 'train.ipynb'),
      notebook([
        code('lr = 0.5\ndepth = 0\nn_rows = 0', ['parameters']),
        code(`file_rows = len(open('data.txt').read().splitlines())\n${glue('score', 'lr * depth * n_rows')}\n${glue('file_rows', 'file_rows')}`),
      ]),
    );
    await writeFile(join(pl, 'report.ipynb'), notebook([code('scores = []\nbig = 0', ['parameters']), code(`${glue('n', 'len(scores)')}\n${glue('big_exact', 'big == 2**63 + 1')}`)]));
    await writeFile(
      join(pl, 'flaky.ipynb'),
      notebook([code('marker = "m"', ['parameters']), code('import os\nif not os.path.exists(marker):\n    open(marker, "w").close()\n    raise RuntimeError("the first attempt fails")')]),
    );
    await writeFile(join(pl, 'ok.ipynb'), notebook([code('x = 1', ['parameters']), code(glue('ok', 'x'))]));
    const config = loadConfig(
      { host: '127.0.0.1', port: 0, homeTemplate: join(dir, 'homes', '{username}'), dataDir: join(dir, 'data'), apiToken: TOKEN, pool: 'python3:1', concurrency: 2, logLevel: 'silent' },
      {},
    );
    server = await startServer(config, { signals: false, logger: pino({ level: 'silent' }), print: () => undefined });
  });

  after(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes the unittest suite with /usr/bin/python3', async () => {
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PYTHONPATH: join(REPO_ROOT, 'clients', 'python'),
      PYTHONDONTWRITEBYTECODE: '1',
      HUBMILL_URL: `http://127.0.0.1:${server.port}`,
      HUBMILL_TEST_TOKEN: TOKEN,
      HUBMILL_TEST_USER: USER,
    };
    const r = await run(PY, ['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-v'], env, 300_000);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Ran \d+ tests/);
    assert.doesNotMatch(r.out, /skipped/i, 'live tests must not be skipped');
  });

  it('installs with pip from the folder (no index, no dependencies)', async () => {
    // scripts/ensure.mjs installs python3-pip, so pip is always there to test with.
    const target = join(dir, 'site');
    // pip builds in place (build/, *.egg-info): install from a copy so the checkout stays clean.
    const src = join(dir, 'client-src');
    await cp(join(REPO_ROOT, 'clients', 'python'), src, { recursive: true, filter: (p) => !/(__pycache__|\.egg-info|\/build)$/.test(p) });
    const r = await run(
      PY,
      ['-m', 'pip', 'install', '--quiet', '--no-index', '--no-deps', '--no-build-isolation', '--target', target, src],
      { PATH: process.env.PATH, HOME: dir, PIP_DISABLE_PIP_VERSION_CHECK: '1' },
      120_000,
    );
    assert.equal(r.code, 0, r.out);
    assert.ok(existsSync(join(target, 'hubmill_client', 'client.py')));
    const imp = await run(PY, ['-c', 'import hubmill_client, sys; print(hubmill_client.__version__, hubmill_client.__file__)'], { PATH: process.env.PATH, PYTHONPATH: target }, 30_000);
    assert.equal(imp.code, 0, imp.out);
    assert.match(imp.out, new RegExp(`0\\.1\\.0 ${target}`));
  });
});
