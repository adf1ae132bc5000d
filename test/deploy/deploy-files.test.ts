/**
 * deploy/: no Docker engine runs here, so the files are checked for coherence
 * (ports, paths, syntax) and then the same start script and JupyterHub config
 * the image uses are run outside Docker against a real hub, in both modes:
 * managed (the hub starts `node dist/cli/index.js serve`) and external
 * (start.sh starts hubmill). hubmill must answer directly and through the
 * hub's proxy at /services/hubmill/.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT, freePort, waitForUrl } from '../helpers/jupyterhub.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const read = (f: string) => readFileSync(join(DEPLOY, f), 'utf8');
const PY = '/usr/bin/python3';

/** Loads deploy/jupyterhub_config.py the way JupyterHub does (a traitlets Config) and returns the parts we check. */
function loadHubConfig(env: Record<string, string>): { status: number | null; out: any; err: string } { // eslint-disable-line @typescript-eslint/no-explicit-any
  const script = `
import json, sys
from traitlets.config import Config
c = Config()
ns = {"get_config": lambda: c, "__file__": sys.argv[1]}
exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"), ns)
jh = c.JupyterHub
print(json.dumps({"port": jh.port, "ip": jh.ip, "hub_port": jh.hub_port, "services": jh.services, "roles": jh.load_roles,
                  "authenticator": jh.authenticator_class, "spawner": jh.spawner_class, "cmd": c.Spawner.cmd}))
`;
  const r = spawnSync(PY, ['-c', script, join(DEPLOY, 'jupyterhub_config.py')], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  let out: unknown = null;
  try {
    out = JSON.parse(r.stdout);
  } catch {
    /* reported through err */
  }
  return { status: r.status, out, err: r.stderr };
}

describe('deploy files are coherent', () => {
  it('start.sh passes bash -n and jupyterhub_config.py compiles', () => {
    const sh = spawnSync('bash', ['-n', join(DEPLOY, 'start.sh')], { encoding: 'utf8' });
    assert.equal(sh.status, 0, sh.stderr);
    const py = spawnSync(PY, ['-m', 'py_compile', join(DEPLOY, 'jupyterhub_config.py')], { encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONPYCACHEPREFIX: tmpdir() } });
    assert.equal(py.status, 0, py.stderr);
  });

  it('the Dockerfile builds hubmill on Debian bookworm and exposes 8000 and 8002', () => {
    const df = read('Dockerfile');
    assert.match(df, /^FROM \S*bookworm\S*/m);
    for (const pkg of ['jupyterhub', 'python3-ipykernel', 'r-cran-irkernel', 'python3-jupyter-server']) assert.match(df, new RegExp(`\\b${pkg}\\b`));
    assert.match(df, /npm ci/);
    assert.match(df, /npm run build/);
    assert.match(df, /^EXPOSE 8000 8002$/m);
    assert.match(df, /COPY deploy\/jupyterhub_config\.py \/etc\/jupyterhub\/jupyterhub_config\.py/);
    assert.match(df, /COPY deploy\/start\.sh \/usr\/local\/bin\/start\.sh/);
    assert.match(df, /CMD \["\/usr\/local\/bin\/start\.sh"\]/);
    assert.match(df, /HUBMILL_HOME_TEMPLATE=\/home\/\{username\}/);
    assert.match(df, /HEALTHCHECK[\s\S]*8000\/hub\/health[\s\S]*8002\/health/);
    // Every COPY source exists in the build context (the repository root).
    for (const m of df.matchAll(/^COPY (.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) assert.ok(existsSync(join(REPO_ROOT, src)), `COPY source ${src} missing`);
    }
    // start.sh's defaults match where the Dockerfile puts things.
    const sh = read('start.sh');
    assert.match(sh, /JUPYTERHUB_CONFIG:-\/etc\/jupyterhub\/jupyterhub_config\.py/);
    assert.match(sh, /HUBMILL_DIR:-\/opt\/hubmill/);
    assert.match(df, /WORKDIR \/opt\/hubmill/);
    assert.match(sh, /HUBMILL_PORT:-8002/);
    assert.match(sh, /JUPYTERHUB_PORT:-8000/);
  });

  it('docker-compose.yml has one service jhub with both ports, volumes and a health check of both', () => {
    const doc = parseYaml(read('docker-compose.yml')) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(Object.keys(doc.services), ['jhub']);
    const jhub = doc.services.jhub;
    assert.deepEqual(jhub.ports, ['8000:8000', '8002:8002']);
    assert.equal(jhub.build.dockerfile, 'deploy/Dockerfile');
    assert.ok(existsSync(join(DEPLOY, jhub.build.context, jhub.build.dockerfile)));
    const mounts = (jhub.volumes as string[]).map((v) => v.split(':')[1]);
    for (const m of ['/home', '/srv/jupyterhub', '/var/lib/hubmill']) assert.ok(mounts.includes(m), `volume for ${m}`);
    const hc = jhub.healthcheck.test.join(' ');
    assert.match(hc, /127\.0\.0\.1:8000\/hub\/health/);
    assert.match(hc, /127\.0\.0\.1:8002\/health/);
  });

  it('jupyterhub_config.py registers hubmill with its roles, managed by default, external on demand', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hubmill-deploycfg-'));
    try {
      const tokenFile = join(dir, 'token');
      spawnSync('sh', ['-c', `echo s3cret-token > ${tokenFile}`]);
      const base = { HUBMILL_SERVICE_TOKEN_FILE: tokenFile, JUPYTERHUB_DATA_DIR: dir };
      const managed = loadHubConfig(base);
      assert.equal(managed.status, 0, managed.err);
      assert.equal(managed.out.port, 8000);
      assert.deepEqual(managed.out.cmd, ['/usr/bin/jupyterhub-singleuser']);
      const [svc] = managed.out.services;
      assert.equal(svc.name, 'hubmill');
      assert.equal(svc.url, 'http://127.0.0.1:8002');
      assert.equal(svc.api_token, 's3cret-token');
      assert.equal(svc.oauth_no_confirm, true);
      assert.equal(svc.display, true, 'listed in the Services menu (opens the web UI)');
      assert.deepEqual(svc.command, ['node', '--max-semi-space-size=2', '/opt/hubmill/dist/cli/index.js', 'serve', '--host', '0.0.0.0', '--port', '8002']);
      const roles = Object.fromEntries(managed.out.roles.map((r: { name: string }) => [r.name, r]));
      assert.deepEqual(roles.hubmill.services, ['hubmill']);
      for (const s of ['read:users', 'list:users', 'admin:servers', 'access:servers']) assert.ok(roles.hubmill.scopes.includes(s), s);
      assert.ok(roles.user.scopes.includes('access:services!service=hubmill'));
      assert.ok(roles.user.scopes.includes('self'));

      const external = loadHubConfig({ ...base, HUBMILL_MODE: 'external' });
      assert.equal(external.status, 0, external.err);
      assert.equal(external.out.services[0].command, undefined);
      assert.equal(external.out.services[0].url, 'http://127.0.0.1:8002');

      const bad = loadHubConfig({ ...base, HUBMILL_MODE: 'sideways' });
      assert.notEqual(bad.status, 0);
      assert.match(bad.err, /HUBMILL_MODE/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

interface Started {
  child: ChildProcess;
  hubPort: number;
  hubmillPort: number;
  dir: string;
  logFile: string;
  stop(): Promise<void>;
}

async function startDeployment(mode: 'managed' | 'external'): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), `hubmill-deploy-${mode}-`));
  await mkdir(join(dir, 'homes'), { recursive: true });
  const [hubPort, hubApiPort, proxyApiPort, hubmillPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const logFile = join(dir, 'start.log');
  const log = createWriteStream(logFile);
  await new Promise((r) => log.once('open', r));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    LANG: 'C.UTF-8',
    JUPYTERHUB_CONFIG: join(DEPLOY, 'jupyterhub_config.py'),
    JUPYTERHUB_DATA_DIR: join(dir, 'hub'),
    JUPYTERHUB_IP: '127.0.0.1',
    JUPYTERHUB_PORT: String(hubPort),
    JUPYTERHUB_HUB_PORT: String(hubApiPort),
    JUPYTERHUB_PROXY_API_PORT: String(proxyApiPort),
    JUPYTERHUB_AUTHENTICATOR: 'dummy',
    JUPYTERHUB_SPAWNER: 'simple',
    HUBMILL_MODE: mode,
    HUBMILL_DIR: REPO_ROOT,
    HUBMILL_DATA_DIR: join(dir, 'hubmill'),
    HUBMILL_HOST: '127.0.0.1',
    HUBMILL_PORT: String(hubmillPort),
    HUBMILL_HOME_TEMPLATE: join(dir, 'homes', '{username}'),
    HUBMILL_POOL: 'python3:0',
    HUBMILL_LOG_LEVEL: 'warn',
  };
  const child = spawn('bash', [join(DEPLOY, 'start.sh')], { env, cwd: dir, stdio: ['ignore', log, log], detached: true });
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  const stop = async () => {
    if (!exited && child.pid) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      await Promise.race([exit, new Promise((r) => setTimeout(r, 10_000))]);
    }
    if (child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* group empty */
      }
    }
    log.end();
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  return { child, hubPort, hubmillPort, dir, logFile, stop };
}

const tail = (f: string) => {
  try {
    return readFileSync(f, 'utf8').split('\n').slice(-40).join('\n');
  } catch {
    return '';
  }
};

for (const mode of ['managed', 'external'] as const) {
  describe(`deploy/start.sh outside Docker (${mode})`, { timeout: 90_000 }, () => {
    let started: Started | null = null;
    after(async () => started?.stop());

    it('starts the hub and hubmill; hubmill answers directly and through the proxy', { skip: !existsSync(join(REPO_ROOT, 'dist', 'cli', 'index.js')) && 'dist/ not built (npm run build)' }, async () => {
      started = await startDeployment(mode);
      const { hubPort, hubmillPort, logFile } = started;
      try {
        await waitForUrl(`http://127.0.0.1:${hubPort}/hub/health`, 200, 45_000);
        await waitForUrl(`http://127.0.0.1:${hubPort}/services/hubmill/health`, 200, 45_000);
        await waitForUrl(`http://127.0.0.1:${hubmillPort}/services/hubmill/health`, 200, 10_000);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n--- start.sh log ---\n${tail(logFile)}`);
      }
      const res = await fetch(`http://127.0.0.1:${hubPort}/services/hubmill/health`);
      const body = (await res.json()) as { status: string };
      assert.equal(body.status, 'healthy');
      // Protected endpoints want a token through the proxy too: the hub does not authenticate for the service.
      const denied = await fetch(`http://127.0.0.1:${hubPort}/services/hubmill/api/v1/jobs`);
      assert.equal(denied.status, 401);
      // The token file was generated once and is private.
      const tokenFile = join(started.dir, 'hub', 'hubmill_api_token');
      assert.ok(existsSync(tokenFile));
      assert.match(readFileSync(tokenFile, 'utf8').trim(), /^[0-9a-f]{64}$/);
    });
  });
}
