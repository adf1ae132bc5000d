/**
 * Kernels on a Jupyter Kernel Gateway, a Jupyter Enterprise Gateway or any
 * Jupyter Server, through its REST API (`/api/kernelspecs`, `/api/kernels`)
 * and kernel websockets: the kernelspecs jobs may use come from the gateway
 * (cached for a few seconds), and each kernel is a `ServerKernel`.
 *
 * The start request carries `env`, the way the gateways expect it: the job's
 * environment, plus `KERNEL_USERNAME` (whom the kernel is for) and
 * `KERNEL_WORKING_DIR` (the notebook's folder as a path on this machine).
 * Enterprise Gateway passes `KERNEL_*` names and the names it allows
 * (`EG_CLIENT_ENVS`) on to the kernel, and uses KERNEL_WORKING_DIR when
 * `EG_MIRROR_WORKING_DIRS` is on; Jupyter Server ignores `env` altogether.
 * Nothing else about the folder is sent: the gateway's files need not be
 * this machine's (see homes/local-kernels.ts for how the kernel is moved).
 *
 * It is also the warm pool's launcher in gateway mode (pool-launcher.ts).
 */
import { userInfo } from 'node:os';
import { HubmillError, NoSuchKernelError } from '../errors.js';
import type { KernelSpec } from './kernelspec-discovery.js';
import type { KernelLauncher, KernelStartOptions } from './pool-launcher.js';
import type { ServerKernel } from './server-kernel.js';

/** The gateway is unreachable, refuses hubmill's token, or does not answer like a Jupyter server; 503. */
export class KernelGatewayError extends HubmillError {
  override readonly code = 'KERNEL_GATEWAY';
  override readonly httpStatus = 503;
}

export interface KernelGatewayOptions {
  /** The gateway's base URL, e.g. http://gateway:8888 (a base path is kept). */
  url: string;
  /** Sent as `Authorization: token …` (and in the websocket URL); null: none. */
  token: string | null;
  /** KERNEL_USERNAME of warm kernels, which nobody asked for yet (default: the service's own user). */
  serviceUsername?: string;
  /** How long the gateway's kernelspecs are reused (default 5 s); failures are not kept. */
  specsCacheMs?: number;
  /** Bound of one REST call (default 10 s). */
  requestTimeoutMs?: number;
  /** ServerKernel's death probe: interval while a cell runs, and how long the gateway may be unreachable. */
  probeIntervalMs?: number;
  unreachableAfterMs?: number;
  fetch?: typeof fetch;
}

const SPEC_NAME = /^[a-z0-9._-]{1,200}$/i;

function describeFetchError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  if (e.cause?.code) return e.cause.code;
  if (e.cause?.message) return e.cause.message;
  return e.message ?? String(err);
}

/** One entry of `GET /api/kernelspecs` as hubmill's KernelSpec (resource_dir: the gateway's resources URL); null when malformed. */
function toKernelSpec(baseUrl: string, name: string, raw: unknown): KernelSpec | null {
  if (!SPEC_NAME.test(name) || typeof raw !== 'object' || raw === null) return null;
  const spec = (raw as { spec?: unknown }).spec;
  if (typeof spec !== 'object' || spec === null) return null;
  const s = spec as Record<string, unknown>;
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string') : []);
  const record = <T>(v: unknown): Record<string, T> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, T>) : {});
  return {
    name: name.toLowerCase(),
    argv: strings(s.argv),
    display_name: typeof s.display_name === 'string' ? s.display_name : name,
    language: typeof s.language === 'string' ? s.language : '',
    interrupt_mode: s.interrupt_mode === 'message' ? 'message' : 'signal',
    env: record<string>(s.env),
    metadata: record<unknown>(s.metadata),
    resource_dir: `${baseUrl}/kernelspecs/${encodeURIComponent(name)}`,
  };
}

export class KernelGateway implements KernelLauncher<ServerKernel> {
  readonly url: string;
  private readonly token: string | null;
  private readonly serviceUsername: string;
  private readonly specsCacheMs: number;
  private readonly requestTimeoutMs: number;
  private readonly doFetch: typeof fetch;
  private cached: { at: number; specs: Promise<KernelSpec[]> } | null = null;

  constructor(private readonly opts: KernelGatewayOptions) {
    let parsed: URL;
    try {
      parsed = new URL(opts.url);
    } catch {
      throw new KernelGatewayError(`the kernel gateway URL ${JSON.stringify(opts.url)} is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new KernelGatewayError(`the kernel gateway URL must be http(s): ${parsed.protocol}`);
    this.url = `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, '');
    this.token = opts.token;
    this.serviceUsername = opts.serviceUsername ?? userInfo().username;
    this.specsCacheMs = opts.specsCacheMs ?? 5000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.doFetch = opts.fetch ?? fetch;
  }

  /** The gateway's kernelspecs (cached for `specsCacheMs`); KernelGatewayError when it cannot tell. */
  kernelspecs(): Promise<KernelSpec[]> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.specsCacheMs) return this.cached.specs;
    const entry = { at: now, specs: this.fetchSpecs() };
    this.cached = entry;
    entry.specs.catch(() => {
      if (this.cached === entry) this.cached = null;
    });
    return entry.specs;
  }

  /** One kernelspec of the gateway by (case-insensitive) name, or NoSuchKernelError listing what it has. */
  async kernelSpec(name: string): Promise<KernelSpec> {
    const specs = await this.kernelspecs();
    const spec = specs.find((s) => s.name === name.toLowerCase());
    if (!spec) {
      const available = specs.map((s) => s.name).join(', ') || 'none';
      throw new NoSuchKernelError(`No such kernel named '${name}' on the kernel gateway (available kernels: ${available})`);
    }
    return spec;
  }

  private async fetchSpecs(): Promise<KernelSpec[]> {
    const where = `the kernel gateway at ${this.url}`;
    let res: Response;
    try {
      res = await this.doFetch(`${this.url}/api/kernelspecs`, {
        headers: { accept: 'application/json', ...(this.token ? { authorization: `token ${this.token}` } : {}) },
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (err) {
      throw new KernelGatewayError(`${where} is unreachable (${describeFetchError(err)})`);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => {});
      throw new KernelGatewayError(`${where} refused hubmill's token (${res.status}); check the gateway token (HUBMILL_KERNEL_GATEWAY_TOKEN)`);
    }
    let body: unknown;
    try {
      if (!res.ok) throw new Error(`answered ${res.status}`);
      body = await res.json();
    } catch (err) {
      throw new KernelGatewayError(`${where} did not list its kernelspecs (GET /api/kernelspecs: ${(err as Error).message})`);
    }
    const all = (body as { kernelspecs?: unknown } | null)?.kernelspecs;
    if (typeof all !== 'object' || all === null || Array.isArray(all)) {
      throw new KernelGatewayError(`${where} did not list its kernelspecs (GET /api/kernelspecs has no "kernelspecs" object)`);
    }
    const specs: KernelSpec[] = [];
    for (const [name, raw] of Object.entries(all)) {
      const spec = toKernelSpec(this.url, name, raw);
      if (spec && !specs.some((s) => s.name === spec.name)) specs.push(spec);
    }
    return specs.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** A warm kernel: for the service's own user, in the gateway's default folder. */
  async startWarm(name: string, o: { startTimeoutMs?: number }): Promise<{ kernel: ServerKernel; preloaded: boolean }> {
    return { kernel: await this.start(name, { startTimeoutMs: o.startTimeoutMs }), preloaded: false };
  }

  /** Starts a kernel on the gateway with the job's environment, KERNEL_USERNAME and KERNEL_WORKING_DIR, and waits until it is ready. */
  async start(name: string, o: KernelStartOptions): Promise<ServerKernel> {
    const spec = await this.kernelSpec(name);
    const env: Record<string, string> = {
      ...o.env,
      KERNEL_USERNAME: o.username ?? this.serviceUsername,
      ...(o.cwd !== undefined ? { KERNEL_WORKING_DIR: o.cwd } : {}),
    };
    // Loaded on first use: @jupyterlab/services costs ~23 MB of RSS that local-only installs never need.
    const { ServerKernel } = await import('./server-kernel.js');
    return ServerKernel.start({
      baseUrl: this.url,
      token: this.token ?? '',
      kernelName: spec.name,
      env,
      startTimeoutMs: o.startTimeoutMs ?? 60_000,
      signal: o.signal,
      requestTimeoutMs: this.requestTimeoutMs,
      probeIntervalMs: this.opts.probeIntervalMs,
      unreachableAfterMs: this.opts.unreachableAfterMs,
    });
  }
}
