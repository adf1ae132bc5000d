/**
 * A user's own single-user Jupyter server through JupyterHub: started when it is
 * not running (`POST /hub/api/users/{name}/server`, or `.../servers/{server_name}`
 * for a named server: 201 ready, 202 pending, 400 already running), then
 * `GET /hub/api/users/{name}` is polled until `servers[server_name].ready`
 * (bounded; '' is the default server). The server is reached through the hub's
 * proxy: `<hub public URL origin><servers[name].url>`, e.g.
 * http://hub:8000/user/alice/ (named: http://hub:8000/user/alice/gpu/).
 * `stopUserServer` asks the hub to stop it (`DELETE` on the same path).
 *
 * Needs a hub token with `admin:servers` (start, read) and `access:servers`
 * (talk to the server) — hubmill's service token with the role documented in
 * deploy/.
 */
import { HubmillError } from '../errors.js';
import { jupyterCall, jupyterMessage, type JupyterAnswer } from './jupyter-call.js';

/** A job asks for the user's own server but hubmill has no hub to start it through; 422. */
export class UserServerNotConfiguredError extends HubmillError {
  override readonly code = 'USER_SERVER_NOT_CONFIGURED';
  override readonly httpStatus = 422;
}

/** The hub refused or failed to start the user's server, or it did not become ready in time; 503. */
export class UserServerStartError extends HubmillError {
  override readonly code = 'USER_SERVER_START';
  override readonly httpStatus = 503;
}

/** A JupyterHub server name hubmill accepts ('' = the default server); the HTTP schema's ServerNameT says the same. */
export const SERVER_NAME = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/;

/** The hub API path of one of the user's servers: /users/{name}/server or /users/{name}/servers/{server_name}. */
function serverPath(username: string, serverName: string): string {
  if (!SERVER_NAME.test(serverName)) throw new UserServerStartError(`not a server name: ${JSON.stringify(serverName.slice(0, 80))}`);
  const user = `/users/${encodeURIComponent(username)}`;
  return serverName === '' ? `${user}/server` : `${user}/servers/${encodeURIComponent(serverName)}`;
}

/** How a server is named in messages. */
export function serverLabel(username: string, serverName: string): string {
  return serverName === '' ? `the Jupyter server of ${username}` : `the Jupyter server '${serverName}' of ${username}`;
}

export interface UserServerOptions {
  /** The user's named server ('' or absent: the default server). */
  serverName?: string;
  /** The hub's public URL (the proxy) as hubmill can reach it, e.g. http://127.0.0.1:8000; only its origin is used. */
  publicUrl: string;
  /** Bound of the whole start (default 60 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Bound of one hub API call (default 10 s). */
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
}

export interface UserServer {
  /** Base URL of the server through the proxy, ending in '/': http://hub:8000/user/alice/ */
  baseUrl: string;
  /** True when hubmill started it now (false: it was already running). */
  started: boolean;
}

interface ServerModel {
  ready?: boolean;
  pending?: string | null;
  url?: string;
}

interface UserModel {
  name: string;
  servers?: Record<string, ServerModel>;
  server?: string | null;
  pending?: string | null;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Starts `username`'s server (default or named) if needed and waits until it is ready; returns its base URL through the proxy. */
export async function startUserServer(hubApiUrl: string, serviceToken: string, username: string, opts: UserServerOptions): Promise<UserServer> {
  const serverName = opts.serverName ?? '';
  const startPath = serverPath(username, serverName);
  const label = serverLabel(username, serverName);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const api = hubApiUrl.replace(/\/+$/, '');
  const userPath = `${api}/users/${encodeURIComponent(username)}`;
  let origin: string;
  try {
    origin = new URL(opts.publicUrl).origin;
  } catch {
    throw new UserServerNotConfiguredError(`the hub's public URL ${JSON.stringify(opts.publicUrl)} is not a URL`);
  }

  const call = (method: string, url: string): Promise<JupyterAnswer> => {
    const remaining = Math.max(1, deadline - Date.now());
    // The hub answers a start only after up to its slow_spawn_timeout (10 s by default): a POST may take the whole bound.
    const timeoutMs = method === 'POST' ? remaining : Math.min(opts.requestTimeoutMs ?? 10_000, remaining);
    return jupyterCall(url, {
      method,
      token: serviceToken,
      timeoutMs,
      signal: opts.signal,
      fetch: opts.fetch,
      noAnswer: (err) => new UserServerStartError(`JupyterHub did not answer ${method} ${url.slice(api.length) || '/'}: ${err.message}`),
    });
  };
  const detail = (body: unknown): string => jupyterMessage(body) ?? JSON.stringify(body);

  const check = (): void => {
    if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted');
    if (Date.now() >= deadline) {
      throw new UserServerStartError(`${label} did not become ready within ${(timeoutMs / 1000).toFixed(0)} s`);
    }
  };

  const readyUrl = (model: UserModel): string | null => {
    const s = model.servers?.[serverName];
    if (s?.ready && s.url) return new URL(s.url.endsWith('/') ? s.url : `${s.url}/`, origin).href;
    return null;
  };

  // Already running?
  let first = await call('GET', userPath);
  if (first.status === 404) throw new UserServerStartError(`JupyterHub has no user ${username}`);
  if (first.status === 401 || first.status === 403) {
    throw new UserServerStartError(`hubmill's hub token may not read the user ${username} (${first.status}: ${detail(first.body)}); it needs admin:servers and access:servers`);
  }
  if (first.status !== 200) throw new UserServerStartError(`JupyterHub answered ${first.status} for the user ${username}: ${detail(first.body)}`);
  const url0 = readyUrl(first.body as UserModel);
  if (url0) return { baseUrl: url0, started: false };

  let started = false;
  let interval = 100;
  let spawnRequests = 0;
  for (;;) {
    check();
    const model = first.body as UserModel;
    const s = model.servers?.[serverName];
    if (!s || (!s.ready && !s.pending)) {
      // Not running and not starting: ask the hub to start it (again, if an earlier spawn failed quickly).
      if (spawnRequests >= 3) throw new UserServerStartError(`JupyterHub could not start ${label} (see the hub's log)`);
      spawnRequests++;
      const r = await call('POST', `${api}${startPath}`);
      if (r.status === 201 || r.status === 202) started = true;
      else if (r.status !== 400 || (serverName !== '' && !/already|pending|running/i.test(detail(r.body)))) {
        // 400 is "already running / pending": poll below. For a named server it is also "named servers are not enabled".
        throw new UserServerStartError(`JupyterHub refused to start ${label} (${r.status}: ${detail(r.body)})`);
      }
    }
    await sleep(interval, opts.signal);
    interval = Math.min(interval * 2, 500);
    check();
    first = await call('GET', userPath);
    if (first.status !== 200) throw new UserServerStartError(`JupyterHub answered ${first.status} for the user ${username}: ${detail(first.body)}`);
    const url = readyUrl(first.body as UserModel);
    if (url) return { baseUrl: url, started };
  }
}

/**
 * Asks the hub to stop one of the user's servers (`DELETE`; 204 stopped, 202
 * stopping). Does not wait for the stop to finish. A server already stopped
 * (400/404) counts as done.
 */
export async function stopUserServer(
  hubApiUrl: string,
  serviceToken: string,
  username: string,
  serverName: string,
  opts: { requestTimeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<void> {
  const label = serverLabel(username, serverName);
  const r = await jupyterCall(`${hubApiUrl.replace(/\/+$/, '')}${serverPath(username, serverName)}`, {
    method: 'DELETE',
    token: serviceToken,
    timeoutMs: opts.requestTimeoutMs ?? 10_000,
    fetch: opts.fetch,
    noAnswer: (err) => new UserServerStartError(`JupyterHub did not answer the stop of ${label}: ${err.message}`),
  });
  if ([202, 204, 400, 404].includes(r.status)) return;
  throw new UserServerStartError(`JupyterHub refused to stop ${label} (${r.status}: ${jupyterMessage(r.body) ?? `HTTP ${r.status}`})`);
}
