/**
 * The hub of deploy/compose/scale-out.yml, outside Docker: deploy/start.sh with
 * HUBMILL_MODE=remote starts only JupyterHub (its API on 0.0.0.0, as the compose
 * file sets it); hubmill runs as a separate node started here with the
 * JUPYTERHUB_* variables the compose file gives its nodes. Real hub, real proxy,
 * real hubmill: a user's hub token works through the proxy, and once the node
 * stops, nothing else answers for /services/hubmill/ (start.sh started no hubmill).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForServeUrl } from '../../bench/lib/serve-banner.js';
import { call } from '../helpers/http.js';
import { REPO_ROOT, freePort, waitForUrl } from '../helpers/jupyterhub.js';
import { yamlDocs } from './deploy-checks.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const CLI = join(REPO_ROOT, 'dist', 'cli', 'index.js');
const START_ATTEMPTS = 3;

/** Stops a detached child's whole process group: SIGTERM, a bounded wait, then SIGKILL. */
async function stopGroup(child: ChildProcess | null): Promise<void> {
  if (!child?.pid) return;
  const exited = child.exitCode !== null || child.signalCode !== null;
  const gone = exited ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    /* already gone */
  }
  await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* group empty */
  }
}

describe('deploy/start.sh with HUBMILL_MODE=remote and a separate hubmill node', { timeout: 120_000, skip: !existsSync(CLI) && 'dist/ not built (npm run build)' }, () => {
  const children: ChildProcess[] = [];
  let dir = '';
  after(async () => {
    for (const c of children.reverse()) await stopGroup(c);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("the hub proxies to the node, the node checks callers' hub tokens, and nothing else serves hubmill", async () => {
    dir = await mkdtemp(join(tmpdir(), 'hubmill-deploy-remote-'));
    await mkdir(join(dir, 'homes'));
    const compose = yamlDocs(join(DEPLOY, 'compose', 'scale-out.yml'))[0];
    const nodeEnv = compose.services['api-1'].environment as Record<string, string>;
    const hubEnv = compose.services.hub.environment as Record<string, string>;
    const serviceToken = randomBytes(24).toString('hex');
    const adminToken = randomBytes(24).toString('hex');

    let hubPort = 0;
    let nodeUrl = '';
    let node: ChildProcess | null = null;
    let logFile = '';
    for (let attempt = 1; ; attempt++) {
      const [proxyPort, hubApiPort, proxyApiPort] = [await freePort(), await freePort(), await freePort()];
      // The node, as the compose file starts it (its hub at 127.0.0.1 instead of "hub"), on a port of its own choosing.
      node = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0'], {
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          HUBMILL_DATA_DIR: join(dir, `node-${attempt}`),
          HUBMILL_HOME_TEMPLATE: join(dir, 'homes', '{username}'),
          HUBMILL_POOL: 'python3:0',
          HUBMILL_LOG_LEVEL: 'warn',
          HUBMILL_COOKIE_SECRET: randomBytes(24).toString('hex'),
          JUPYTERHUB_API_URL: nodeEnv.JUPYTERHUB_API_URL!.replace('//hub:8081', `//127.0.0.1:${hubApiPort}`),
          JUPYTERHUB_API_TOKEN: serviceToken,
          JUPYTERHUB_SERVICE_PREFIX: nodeEnv.JUPYTERHUB_SERVICE_PREFIX,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      });
      children.push(node);
      nodeUrl = await waitForServeUrl(node, 60_000);

      // A second service with admin rights, only to make a user and a token for the test.
      const extra = join(dir, 'extra_config.py');
      writeFileSync(
        extra,
        `c.JupyterHub.services.append({"name": "test-admin", "api_token": "${adminToken}"})\n` +
          `c.JupyterHub.load_roles.append({"name": "test-admin", "services": ["test-admin"], "scopes": ["admin:users", "tokens"]})\n`,
      );
      logFile = join(dir, `start-${attempt}.log`);
      const log = createWriteStream(logFile);
      await new Promise((r) => log.once('open', r));
      const hub = spawn('bash', [join(DEPLOY, 'start.sh')], {
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          LANG: 'C.UTF-8',
          JUPYTERHUB_CONFIG: join(DEPLOY, 'jupyterhub_config.py'),
          JUPYTERHUB_DATA_DIR: join(dir, `hub-${attempt}`),
          JUPYTERHUB_IP: '127.0.0.1',
          JUPYTERHUB_PORT: String(proxyPort),
          JUPYTERHUB_HUB_IP: hubEnv.JUPYTERHUB_HUB_IP,
          JUPYTERHUB_HUB_PORT: String(hubApiPort),
          JUPYTERHUB_PROXY_API_PORT: String(proxyApiPort),
          JUPYTERHUB_AUTHENTICATOR: 'dummy',
          JUPYTERHUB_SPAWNER: 'simple',
          JUPYTERHUB_EXTRA_CONFIG: extra,
          HUBMILL_MODE: hubEnv.HUBMILL_MODE,
          HUBMILL_URL: nodeUrl,
          HUBMILL_SERVICE_TOKEN: serviceToken,
          HUBMILL_DIR: REPO_ROOT,
          HUBMILL_DATA_DIR: join(dir, 'unused'),
        },
        cwd: dir,
        stdio: ['ignore', log, log],
        detached: true,
      });
      children.push(hub);
      try {
        await waitForUrl(`http://127.0.0.1:${proxyPort}/hub/health`, 200, 45_000);
        hubPort = proxyPort;
        break;
      } catch (e) {
        const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
        await stopGroup(hub);
        await stopGroup(node);
        // Ports were picked free, then bound by the hub and its proxy: another process may have taken one in between.
        if (attempt < START_ATTEMPTS && /address already in use|EADDRINUSE/i.test(text)) continue;
        throw new Error(`${(e as Error).message}\n--- start.sh log ---\n${text.split('\n').slice(-40).join('\n')}`);
      }
    }

    const proxy = `http://127.0.0.1:${hubPort}`;
    await waitForUrl(`${proxy}/services/hubmill/health`, 200, 30_000);
    // A user and her hub token.
    const created = await call(proxy, 'POST', '/hub/api/users/alice', adminToken);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const issued = await call(proxy, 'POST', '/hub/api/users/alice/tokens', adminToken, { note: 'deploy test', expires_in: 600 });
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    const aliceToken = issued.body.token as string;

    // Through the hub's proxy to the node, which asks the hub (on its 0.0.0.0 API) who the caller is.
    const jobs = await call(proxy, 'GET', '/services/hubmill/api/v1/jobs', aliceToken);
    assert.equal(jobs.status, 200, JSON.stringify(jobs.body));
    assert.equal((await call(proxy, 'GET', '/services/hubmill/api/v1/jobs')).status, 401);
    assert.equal((await call(proxy, 'GET', '/services/hubmill/api/v1/jobs', 'not-a-token')).status, 401);
    const notebooks = await call(proxy, 'GET', '/services/hubmill/list-notebooks/bob', aliceToken);
    assert.equal(notebooks.status, 403, "another user's notebooks");

    // The node is the only hubmill: once it stops, the proxy has nothing to reach.
    await stopGroup(node);
    const res = await fetch(`${proxy}/services/hubmill/health`, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    assert.ok(res.status >= 500, `after the node stopped, /services/hubmill/health answered ${res.status}`);
  });
});
