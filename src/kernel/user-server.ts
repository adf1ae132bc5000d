/**
 * A user's own single-user Jupyter server through JupyterHub: started when it is
 * not running (`POST /hub/api/users/{name}/server`: 201 ready, 202 pending, 400
 * already running), then `GET /hub/api/users/{name}` is polled until
 * `servers[""].ready` (bounded). The server is reached through the hub's proxy:
 * `<hub public URL origin><servers[""].url>`, e.g. http://hub:8000/user/alice/.
 *
 * Needs a hub token with `admin:servers` (start, read) and `access:servers`
 * (talk to the server) — hubmill's service token with the role documented in
 * deploy/.
 */
import { HubmillError } from '../errors.js';

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

export interface UserServerOptions {
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

/** Starts `username`'s default server if needed and waits until it is ready; returns its base URL through the proxy. */
export async function startUserServer(hubApiUrl: string, serviceToken: string, username: string, opts: UserServerOptions): Promise<UserServer> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const doFetch = opts.fetch ?? fetch;
  const api = hubApiUrl.replace(/\/+$/, '');
  const userPath = `${api}/users/${encodeURIComponent(username)}`;
  let origin: string;
  try {
    origin = new URL(opts.publicUrl).origin;
  } catch {
    throw new UserServerNotConfiguredError(`the hub's public URL ${JSON.stringify(opts.publicUrl)} is not a URL`);
  }

  const call = async (method: string, url: string): Promise<{ status: number; body: unknown }> => {
    const remaining = Math.max(1, deadline - Date.now());
    const signals = [AbortSignal.timeout(Math.min(opts.requestTimeoutMs ?? 10_000, remaining))];
    if (opts.signal) signals.push(opts.signal);
    let res: Response;
    try {
      res = await doFetch(url, {
        method,
        headers: { authorization: `token ${serviceToken}`, accept: 'application/json' },
        signal: AbortSignal.any(signals),
      });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new UserServerStartError(`JupyterHub did not answer ${method} ${url.slice(api.length) || '/'}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // keep text
    }
    return { status: res.status, body };
  };
  const detail = (body: unknown): string => {
    const m = (body as { message?: unknown } | null)?.message;
    return typeof m === 'string' ? m : typeof body === 'string' ? body.slice(0, 200) : JSON.stringify(body);
  };

  const check = (): void => {
    if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted');
    if (Date.now() >= deadline) {
      throw new UserServerStartError(`the Jupyter server of ${username} did not become ready within ${(timeoutMs / 1000).toFixed(0)} s`);
    }
  };

  const readyUrl = (model: UserModel): string | null => {
    const s = model.servers?.[''];
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
    const s = model.servers?.[''];
    if (!s || (!s.ready && !s.pending)) {
      // Not running and not starting: ask the hub to start it (again, if an earlier spawn failed quickly).
      if (spawnRequests >= 3) throw new UserServerStartError(`JupyterHub could not start the Jupyter server of ${username} (see the hub's log)`);
      spawnRequests++;
      const r = await call('POST', `${userPath}/server`);
      if (r.status === 201 || r.status === 202) started = true;
      else if (r.status !== 400) {
        // 400 is "already running / pending": poll below.
        throw new UserServerStartError(`JupyterHub refused to start the Jupyter server of ${username} (${r.status}: ${detail(r.body)})`);
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
