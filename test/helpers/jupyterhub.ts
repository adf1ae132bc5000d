/**
 * A real JupyterHub for tests (Debian's jupyterhub 3.0, configurable-http-proxy
 * from node_modules/.bin): started in a temporary directory with free ports,
 * the dummy authenticator, the simple spawner with homes under the temp dir,
 * hubmill registered as a service (external `url` + `api_token`, or a managed
 * `command`), and a separate `test-admin` service whose token creates users and
 * tokens through the hub API. Stopped with SIGTERM (the hub then stops the proxy
 * and single-user servers); then the hub's process group and every process
 * working inside the hub's folder are killed (the proxy and the single-user
 * servers run in sessions of their own), on every path, a failed start included.
 * Ports are picked free and released, so another process may take one before the
 * hub or proxy binds it: a start that fails to bind is retried with new ports.
 * Hub logs go to a file; errors carry its tail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call } from './http.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NODE_BIN = join(REPO_ROOT, 'node_modules', '.bin');
const JUPYTERHUB = '/usr/bin/jupyterhub';

/** A port nobody listens on right now (the kernel picks it; we release it at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Pids of the processes whose working folder is `dir` or inside it (Linux /proc). */
export function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${name}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) out.push(Number(name));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return out;
}

function killTree(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Gone, or not a group leader.
    }
  }
}

/** A start that failed; everything it started is stopped. `dir` was its folder. */
export class HubStartError extends Error {
  constructor(
    message: string,
    readonly dir: string,
  ) {
    super(message);
  }
}
/** A start that failed because a port was taken between our pick and the hub's (or proxy's) bind. */
class PortTakenError extends HubStartError {}
const BIND_FAILURE = /Address already in use|EADDRINUSE|Failed to bind/;
const START_ATTEMPTS = 3;

export interface HubOptions {
  /** Port hubmill listens on (external service); the hub proxies /services/hubmill/ to it. */
  hubmillPort?: number;
  /** Makes hubmill a hub-managed service started with this argv (the hub sets JUPYTERHUB_*); needs hubmillPort too. */
  hubmillCommand?: string[];
  /** Extra environment for a managed hubmill. */
  hubmillEnvironment?: Record<string, string>;
  /** Scopes of the hubmill service's role (default: what hubmill needs in production). */
  hubmillScopes?: string[];
  /** Users created at start (besides the admin). */
  users?: string[];
  /** Name of the hub admin user (default 'admin'). */
  adminUser?: string;
  /** Extra lines appended to jupyterhub_config.py. */
  extraConfig?: string;
  /** Bound of the start (default 30 s). */
  startTimeoutMs?: number;
  /** Picks the hub's and proxy's ports (tests of the retry); default freePort. */
  pickPort?: () => Promise<number>;
}

export interface HubToken {
  token: string;
  id: string;
}

export interface Hub {
  dir: string;
  /** Public URL (the proxy), e.g. http://127.0.0.1:PORT */
  url: string;
  /** The hub's own API URL, e.g. http://127.0.0.1:HUBPORT/hub/api (what JUPYTERHUB_API_URL is). */
  apiUrl: string;
  proxyPort: number;
  hubPort: number;
  /** hubmill's api_token (also its OAuth client secret). */
  serviceToken: string;
  serviceName: string;
  /** The URL prefix hubmill is proxied under: /services/hubmill/ */
  servicePrefix: string;
  /** Token of the test-admin service (admin:users, tokens, admin:servers). */
  adminServiceToken: string;
  adminUser: string;
  /** Home directory of a user, as the simple spawner and hubmill's home template see it. */
  homeOf(name: string): string;
  /** The home template ("{username}" placeholder) to give hubmill. */
  homeTemplate: string;
  logFile: string;
  logTail(lines?: number): string;
  /** Starts that failed to bind a port before this one succeeded, with their folders. */
  failedStarts: { dir: string; error: string }[];
  /** Calls the hub API (relative to apiUrl) with the test-admin token unless `token` is given. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  createUser(name: string, opts?: { admin?: boolean }): Promise<void>;
  createToken(name: string, opts?: { expiresInS?: number; note?: string; scopes?: string[] }): Promise<HubToken>;
  stop(): Promise<void>;
}

function pyStr(s: string): string {
  return JSON.stringify(s);
}

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs: number, isDead: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    const dead = isDead();
    if (dead) throw new Error(`${what}: ${dead}`);
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function probe(url: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000), redirect: 'manual' });
  await res.arrayBuffer();
  return res.status;
}

export async function startHub(opts: HubOptions = {}): Promise<Hub> {
  const failedStarts: Hub['failedStarts'] = [];
  for (let attempt = 1; ; attempt++) {
    try {
      const hub = await startHubOnce(opts, (dir, error) => failedStarts.push({ dir, error }));
      hub.failedStarts = failedStarts;
      return hub;
    } catch (e) {
      if (!(e instanceof PortTakenError) || attempt >= START_ATTEMPTS) throw e;
    }
  }
}

async function startHubOnce(opts: HubOptions, onPortTaken: (dir: string, error: string) => void): Promise<Hub> {
  const pickPort = opts.pickPort ?? freePort;
  const dir = await mkdtemp(join(tmpdir(), 'hubmill-hub-'));
  const homesDir = join(dir, 'homes');
  await mkdir(homesDir, { recursive: true });
  const [proxyPort, proxyApiPort, hubPort] = [await pickPort(), await pickPort(), await pickPort()];
  const serviceToken = randomBytes(24).toString('hex');
  const adminServiceToken = randomBytes(24).toString('hex');
  const adminUser = opts.adminUser ?? 'admin';
  const serviceName = 'hubmill';
  const hubmillPort = opts.hubmillPort ?? (await freePort());
  const hubmillScopes = opts.hubmillScopes ?? ['read:users', 'list:users', 'admin:servers', 'access:servers'];

  const service: string[] = [
    `"name": ${pyStr(serviceName)}`,
    `"url": ${pyStr(`http://127.0.0.1:${hubmillPort}`)}`,
    `"api_token": ${pyStr(serviceToken)}`,
    `"oauth_no_confirm": True`,
  ];
  if (opts.hubmillCommand) {
    service.push(`"command": ${JSON.stringify(opts.hubmillCommand)}`);
    service.push(`"environment": ${JSON.stringify(opts.hubmillEnvironment ?? {})}`);
    service.push(`"cwd": ${pyStr(REPO_ROOT)}`);
  }
  const config = `# generated by test/helpers/jupyterhub.ts
c = get_config()  # noqa
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = ${proxyPort}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = ${hubPort}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:${proxyApiPort}"
c.ConfigurableHTTPProxy.command = [${pyStr(join(NODE_BIN, 'configurable-http-proxy'))}]
c.ConfigurableHTTPProxy.should_start = True
c.ConfigurableHTTPProxy.pid_file = ${pyStr(join(dir, 'jupyterhub-proxy.pid'))}
c.JupyterHub.db_url = "sqlite:///" + ${pyStr(join(dir, 'jupyterhub.sqlite'))}
c.JupyterHub.cookie_secret_file = ${pyStr(join(dir, 'jupyterhub_cookie_secret'))}
c.JupyterHub.pid_file = ${pyStr(join(dir, 'jupyterhub.pid'))}
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.admin_users = {${pyStr(adminUser)}}
c.JupyterHub.spawner_class = "simple"
c.LocalProcessSpawner.home_dir_template = ${pyStr(join(homesDir, '{username}'))}
c.Spawner.cmd = ["/usr/bin/jupyterhub-singleuser"]
c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = 30
c.Spawner.http_timeout = 30
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.services = [
    {${service.join(', ')}},
    {"name": "test-admin", "api_token": ${pyStr(adminServiceToken)}},
]
c.JupyterHub.load_roles = [
    {"name": "hubmill", "services": [${pyStr(serviceName)}], "scopes": ${JSON.stringify(hubmillScopes)}},
    {"name": "test-admin", "services": ["test-admin"], "scopes": ["admin:users", "tokens", "admin:servers", "access:servers", "access:services"]},
    {"name": "user", "scopes": ["self", "access:services!service=${serviceName}"]},
]
${opts.extraConfig ?? ''}
`;
  const configPath = join(dir, 'jupyterhub_config.py');
  await writeFile(configPath, config);

  const logFile = join(dir, 'jupyterhub.log');
  const log = createWriteStream(logFile);
  await new Promise((r) => log.once('open', r));
  const child: ChildProcess = spawn(JUPYTERHUB, ['-f', configPath, '--no-ssl'], {
    cwd: dir,
    env: { ...process.env, PATH: `${NODE_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', log, log],
    detached: true, // own process group: stop() can reap the proxy and single-user servers too
  });
  let exited: string | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `jupyterhub exited (code ${code}, signal ${signal})`;
      resolve();
    });
    child.once('error', (e) => {
      exited = `jupyterhub failed to start: ${e.message}`;
      resolve();
    });
  });

  const logTail = (lines = 40): string => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  };

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      const pid = child.pid;
      if (pid !== undefined && exited === null) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
        await Promise.race([exitPromise, new Promise((r) => setTimeout(r, 10_000))]);
      }
      if (pid !== undefined) killTree(pid);
      // The proxy and the single-user servers run in sessions of their own: find them by their folder.
      try {
        const proxyPid = Number(readFileSync(join(dir, 'jupyterhub-proxy.pid'), 'utf8'));
        if (proxyPid > 0) killTree(proxyPid);
      } catch {
        /* no proxy started */
      }
      for (const p of processesUnder(dir)) killTree(p);
      log.end();
      if (!process.env.HUBMILL_KEEP_HUB_DIR) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    })());

  const apiUrl = `http://127.0.0.1:${hubPort}/hub/api`;
  const url = `http://127.0.0.1:${proxyPort}`;

  const api: Hub['api'] = async (method, path, body, token = adminServiceToken) => {
    const r = await call(apiUrl, method, path, token, body, {}, 15_000);
    return { status: r.status, body: r.body };
  };

  const hub: Hub = {
    dir,
    url,
    apiUrl,
    proxyPort,
    hubPort,
    serviceToken,
    serviceName,
    servicePrefix: `/services/${serviceName}/`,
    adminServiceToken,
    adminUser,
    homeOf: (name) => join(homesDir, name),
    homeTemplate: join(homesDir, '{username}'),
    logFile,
    logTail,
    failedStarts: [],
    api,
    async createUser(name, o = {}) {
      const r = await api('POST', `/users/${encodeURIComponent(name)}`, o.admin ? { admin: true } : undefined);
      if (r.status !== 201 && r.status !== 409) throw new Error(`create user ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      if (r.status === 409 && o.admin) await api('PATCH', `/users/${encodeURIComponent(name)}`, { admin: true });
      await mkdir(join(homesDir, name), { recursive: true });
    },
    async createToken(name, o = {}) {
      const body: Record<string, unknown> = { note: o.note ?? 'hubmill test' };
      if (o.expiresInS !== undefined) body.expires_in = o.expiresInS;
      if (o.scopes) body.scopes = o.scopes;
      const r = await api('POST', `/users/${encodeURIComponent(name)}/tokens`, body);
      if (r.status !== 201) throw new Error(`create token for ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      return { token: r.body.token as string, id: r.body.id as string };
    },
    stop,
  };

  try {
    const timeout = opts.startTimeoutMs ?? 30_000;
    // A bind failure (the proxy's or the hub's) ends the wait at once, even before the hub gives up.
    const failed = () => exited ?? (BIND_FAILURE.test(logTail(30)) ? 'a port was taken' : null);
    await waitFor('hub API', async () => (await probe(`${apiUrl}/`)) === 200, timeout, failed);
    // The proxy route for the hub appears once the hub has configured CHP.
    await waitFor('proxy', async () => (await probe(`${url}/hub/api/`)) === 200, timeout, failed);
    await hub.createUser(adminUser, { admin: true });
    for (const u of opts.users ?? []) await hub.createUser(u);
  } catch (e) {
    const tail = logTail();
    await stop();
    const message = `${(e as Error).message}\n--- jupyterhub log tail ---\n${tail}`;
    if (BIND_FAILURE.test(tail)) {
      onPortTaken(dir, message);
      throw new PortTakenError(message, dir);
    }
    throw new HubStartError(message, dir);
  }
  return hub;
}

/**
 * The environment the hub gives its service `hubmill` (what a managed service
 * gets; an external one is given the same by hand), plus `extra`.
 */
export function hubServiceEnv(hub: Hub, extra: Record<string, string> = {}): Record<string, string> {
  return {
    JUPYTERHUB_API_URL: hub.apiUrl,
    JUPYTERHUB_API_TOKEN: hub.serviceToken,
    JUPYTERHUB_SERVICE_PREFIX: hub.servicePrefix,
    JUPYTERHUB_SERVICE_NAME: hub.serviceName,
    JUPYTERHUB_CLIENT_ID: `service-${hub.serviceName}`,
    JUPYTERHUB_BASE_URL: '/',
    ...extra,
  };
}

/** Waits until `url` answers with `status` through the proxy (a managed or late service). */
export async function waitForUrl(url: string, status = 200, timeoutMs = 30_000, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(2000), redirect: 'manual' });
      await res.arrayBuffer();
      if (res.status === status) return;
      last = `status ${res.status}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (${last})`);
}
