/**
 * A kernel inside a Jupyter server (e.g. a user's single-user server behind
 * JupyterHub's proxy), driven through the server's REST API and kernel
 * websocket with `@jupyterlab/services` (`ws` as the WebSocket on Node 20).
 * Implements `ExecutionKernel`, so the engine runs notebooks on it with the
 * same semantics as on a local `KernelClient`.
 *
 * Every wait is bounded: REST calls time out (default 15 s), the start waits
 * at most `startTimeoutMs` for kernel_info, and the kernel's death becomes a
 * `DeadKernelError` for pending executes at once. Death is any of: the
 * connection reports the kernel `dead`; the server auto-restarted it
 * (`restarting`/`autorestarting`: its state is gone, which for a notebook run
 * is death); the websocket gave up reconnecting (`disconnected`); or, while a
 * cell runs, the kernel is missing from the server's REST API (404) or the
 * server stays unreachable for `unreachableAfterMs` (default 30 s). The waits
 * are kept in pending-requests.ts, shared with KernelClient.
 */
import { KernelAPI, KernelConnection, ServerConnection, type Kernel, type KernelMessage } from '@jupyterlab/services';
import { deserialize, serialize } from '@jupyterlab/services/lib/kernel/serialize.js';
import WebSocket from 'ws';
import { AbortedError, DeadKernelError, KernelStartError, TimeoutError } from '../errors.js';
import { ExactContents } from './exact-messages.js';
import { executeRequestContent, type ExecuteOptions, type ExecutionKernel } from './execution-kernel.js';
import type { ExecuteReplyContent, KernelInfoReplyContent, Message } from './messages.js';
import { PendingRequests } from './pending-requests.js';

export interface ServerKernelOptions {
  /** The Jupyter server's base URL, e.g. http://hub:8000/user/alice/ (trailing slash optional). */
  baseUrl: string;
  /** A token the server accepts (for a single-user server: one with access:servers for its user). */
  token: string;
  /** Kernelspec name in that server. */
  kernelName: string;
  /** The kernel's working directory relative to the server's root (API path, '/'-separated; '' = the root). */
  path?: string;
  /** The same folder as a local absolute path, when the server's files are this machine's (reported as `cwd`). */
  cwd?: string;
  /**
   * Sent as the start request's `env`: what Kernel Gateway and Enterprise Gateway
   * pass to the kernel (KERNEL_* names, and those the gateway allows); Jupyter Server ignores it.
   */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  signal?: AbortSignal;
  /** Bound of one REST call (default 15 s). */
  requestTimeoutMs?: number;
  /** While a cell runs, how often the REST API is asked whether the kernel still exists (default 5 s). */
  probeIntervalMs?: number;
  /** While a cell runs, how long the server may stay unreachable before the kernel counts as dead (default 30 s). */
  unreachableAfterMs?: number;
}

/** A `@jupyterlab/services` message as hubmill's `Message`: the same shape, with Node Buffers (and display numbers as written, given `exact`). */
export function toMessage(msg: KernelMessage.IMessage, exact?: ExactContents): Message {
  const buffers = (msg.buffers ?? []).map((b) =>
    ArrayBuffer.isView(b) ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : Buffer.from(b as ArrayBuffer),
  );
  return { ...msg, ...(exact ? { content: exact.contentOf(msg) as Message['content'] } : {}), buffers };
}

/**
 * Server settings for Node: `ws` for websockets, the token in the websocket URL, every fetch bounded;
 * with `exact`, display messages keep their numbers (exact-messages.ts).
 */
export function serverSettings(baseUrl: string, token: string, requestTimeoutMs = 15_000, exact?: ExactContents): ServerConnection.ISettings {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const boundedFetch = (input: RequestInfo, init?: RequestInit): Promise<Response> =>
    fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(requestTimeoutMs) });
  return ServerConnection.makeSettings({
    baseUrl: base,
    wsUrl: `ws${base.slice(4)}`,
    token,
    appendToken: true,
    init: {},
    fetch: boundedFetch,
    Request,
    Headers,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    ...(exact ? { serializer: exact.serializer({ serialize, deserialize }) } : {}),
  });
}

function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(timer));
}

export class ServerKernel implements ExecutionKernel {
  readonly id: string;
  readonly pid = undefined;
  readonly cwd: string | undefined;
  readonly baseUrl: string;
  /** The API path the kernel was started in. */
  readonly path: string;
  spec: { name: string; language: string };
  info: KernelInfoReplyContent | null = null;
  private readonly settings: ServerConnection.ISettings;
  private readonly conn: Kernel.IKernelConnection;
  /** Requests waiting for their reply, by msg_id; while any waits, the REST API is probed for the kernel. */
  private readonly requests = new PendingRequests({ onBusy: () => this.startProbe(), onIdle: () => this.stopProbe() });
  private deadListeners: Array<(err: DeadKernelError) => void> = [];
  private dropped = false;
  private shuttingDown = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private unreachableSince: number | null = null;
  private readonly probeIntervalMs: number;
  private readonly unreachableAfterMs: number;
  /** Interrupts hubmill asked for so far (an interrupt it did not ask for may be the kernel's shutdown). */
  private interruptsAsked = 0;

  private constructor(
    model: Kernel.IModel,
    settings: ServerConnection.ISettings,
    opts: ServerKernelOptions,
    private readonly exact: ExactContents,
  ) {
    this.id = model.id;
    this.settings = settings;
    this.baseUrl = settings.baseUrl;
    this.path = opts.path ?? '';
    this.cwd = opts.cwd;
    this.spec = { name: model.name, language: '' };
    this.probeIntervalMs = opts.probeIntervalMs ?? 5000;
    this.unreachableAfterMs = opts.unreachableAfterMs ?? 30_000;
    this.conn = new KernelConnection({ model, serverSettings: settings, username: 'hubmill', handleComms: false });
    this.conn.statusChanged.connect((_sender, status) => {
      if (status === 'dead') this.markDead('the Jupyter server reports the kernel dead');
      else if ((status === 'autorestarting' || status === 'restarting') && !this.shuttingDown) {
        this.markDead('the kernel died and the Jupyter server restarted it');
      }
    });
    this.conn.connectionStatusChanged.connect((_sender, status) => {
      if (status === 'disconnected' && !this.closed) this.markDead('the connection to the Jupyter server was lost');
    });
  }

  /** Starts a kernel in the server and waits until it answers kernel_info (bounded by startTimeoutMs). */
  static async start(opts: ServerKernelOptions): Promise<ServerKernel> {
    const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
    const exact = new ExactContents();
    const settings = serverSettings(opts.baseUrl, opts.token, opts.requestTimeoutMs, exact);
    if (opts.signal?.aborted) throw new AbortedError('kernel start aborted');
    let model: Kernel.IModel;
    try {
      // Jupyter Server takes `path` (the kernel's cwd relative to its root), the gateways `env`; the typings only name `name`.
      const body = {
        name: opts.kernelName,
        ...(opts.path !== undefined ? { path: opts.path } : {}),
        ...(opts.env !== undefined ? { env: opts.env } : {}),
      } as KernelAPI.IKernelOptions;
      model = await KernelAPI.startNew(body, settings);
    } catch (err) {
      throw new KernelStartError(`Could not start kernel '${opts.kernelName}' in the Jupyter server at ${settings.baseUrl}: ${describe(err)}`);
    }
    const k = new ServerKernel(model, settings, opts, exact);
    try {
      await k.waitReady(startTimeoutMs, opts.signal);
    } catch (err) {
      await k.shutdown({ graceMs: 5000 }).catch(() => {});
      if (err instanceof TimeoutError) {
        throw new KernelStartError(`Kernel '${opts.kernelName}' in the Jupyter server did not become ready within ${(startTimeoutMs / 1000).toFixed(1)} s`);
      }
      if (err instanceof DeadKernelError) throw new KernelStartError(`Kernel '${opts.kernelName}' in the Jupyter server died during start-up: ${err.message}`);
      throw err;
    }
    return k;
  }

  private async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    // The library sends kernel_info itself, under a msg_id it keeps: this wait has a name of its own.
    const info = await this.requests.track('kernel-start', undefined, this.conn.info, { what: 'kernel start', timeoutMs, signal });
    this.info = info;
    this.spec = { name: this.spec.name, language: this.info.language_info?.name ?? '' };
  }

  get alive(): boolean {
    return this.requests.failure === null;
  }

  private get deadError(): DeadKernelError | null {
    return this.requests.dead;
  }

  private get closed(): boolean {
    return this.requests.closed;
  }

  get language(): string {
    return this.info?.language_info?.name ?? this.spec.language;
  }

  stderrSummary(): string {
    return this.deadError ? `:\n${this.deadError.message}` : '';
  }

  /** Called once when the kernel dies (not after a shutdown hubmill asked for). */
  onceDead(listener: (err: DeadKernelError) => void): void {
    if (this.deadError) listener(this.deadError);
    else this.deadListeners.push(listener);
  }

  private markDead(why: string): void {
    if (this.deadError) return;
    const err = new DeadKernelError(`Kernel died (${why})${this.closed ? '' : ' while hubmill was using it'}`);
    this.requests.kernelDied(err);
    this.stopProbe();
    // After the current message is handled (and a reconnect the library schedules for an auto-restart has begun), drop the websocket.
    setImmediate(() => this.dropConnection());
    for (const l of this.deadListeners.splice(0)) {
      try {
        l(err);
      } catch {
        // A listener's bug must not matter here.
      }
    }
  }

  /** Runs code; resolves with the execute_reply once the reply and the idle status arrived. */
  async execute(code: string, opts: ExecuteOptions = {}): Promise<ExecuteReplyContent> {
    const failure = this.requests.failure;
    if (failure) throw failure;
    const content: KernelMessage.IExecuteRequestMsg['content'] = executeRequestContent(code, opts);
    const future = this.conn.requestExecute(content, true);
    const onIopub = opts.onIopub;
    future.onIOPub = (msg) => {
      if (!onIopub || this.deadError) return;
      try {
        onIopub(toMessage(msg, this.exact));
      } catch {
        // A listener's bug must not break the connection's message loop.
      }
    };
    const asked = this.interruptsAsked;
    const wait = { what: 'execute_request', timeoutMs: opts.timeoutMs, signal: opts.signal };
    const reply = await this.requests.track(future.msg.header.msg_id, undefined, future.done, wait).catch((err: Error) => {
      if (!future.isDisposed) future.dispose();
      throw err;
    });
    const c = reply.content;
    if (c.status === 'error' && c.ename === 'KeyboardInterrupt' && this.interruptsAsked === asked) await this.goneAfterInterrupt();
    return c;
  }

  /**
   * jupyter_client interrupts a kernel before it shuts it down (a DELETE on the
   * server's REST API, a culler): an interrupt hubmill did not ask for is
   * checked for a few seconds, and when the kernel then goes, the cell's end
   * is its death (DeadKernelError), as a kill of a local kernel would be.
   */
  private async goneAfterInterrupt(boundMs = 5000): Promise<void> {
    const deadline = Date.now() + boundMs;
    while (!this.deadError && !this.closed && Date.now() < deadline) {
      const model = await KernelAPI.getKernelModel(this.id, this.settings).then(
        (m) => m ?? null,
        (err: unknown) => ((err as { response?: { status?: number } }).response?.status === 404 ? null : ('unknown' as const)),
      );
      if (model === null) this.markDead('the Jupyter server shut the kernel down');
      else if (model !== 'unknown' && model.execution_state === 'dead') this.markDead('the Jupyter server reports the kernel dead');
      else await new Promise((r) => setTimeout(r, 250));
    }
    if (this.deadError) throw this.deadError;
  }

  /** Asks the server to interrupt the kernel (REST; the server sends SIGINT or interrupt_request per the kernelspec). */
  async interrupt(): Promise<void> {
    if (!this.alive) return;
    this.interruptsAsked++;
    await bounded(this.conn.interrupt().catch(() => {}), 10_000);
  }

  /** Deletes the kernel in the server at once; pending executes reject as dead. */
  async kill(): Promise<void> {
    this.shuttingDown = true;
    this.markDead('killed by hubmill');
    await this.deleteKernel(10_000);
    this.close();
  }

  /** Shuts the kernel down in the server (REST DELETE) and closes the websocket. Safe to call twice. */
  async shutdown(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.shuttingDown = true;
    const grace = Math.max(opts.graceMs ?? 10_000, 1000);
    // The REST call works whatever state the websocket is in (also after the kernel died and was restarted).
    await this.deleteKernel(grace);
    this.close();
  }

  /**
   * DELETE /api/kernels/{id}, retried until `boundMs` passes: a server that is
   * just auto-restarting the kernel answers 500 for a moment. 404 counts as done.
   */
  private async deleteKernel(boundMs: number): Promise<void> {
    const deadline = Date.now() + boundMs;
    for (;;) {
      const ok = await bounded(
        KernelAPI.shutdownKernel(this.id, this.settings).then(
          () => true,
          () => false,
        ),
        Math.max(1, deadline - Date.now()),
      );
      if (ok || Date.now() + 500 >= deadline) return;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  private close(): void {
    if (this.closed) return;
    this.requests.close(new DeadKernelError('Kernel connection was closed'));
    this.stopProbe();
    this.dropConnection();
  }

  /**
   * Closes the websocket for good. A reconnect the library started on its own
   * (after an auto-restart) would reject its promise, unhandled, once the
   * connection is disposed; its listener is bound with the connection as
   * receiver, so disconnecting the connection as receiver drops it first.
   */
  private dropConnection(): void {
    if (this.dropped) return;
    this.dropped = true;
    this.stopProbe();
    try {
      const signalClass = this.conn.connectionStatusChanged.constructor as { disconnectReceiver?: (receiver: unknown) => void };
      signalClass.disconnectReceiver?.(this.conn);
    } catch {
      // Not the Lumino Signal we know: dispose anyway.
    }
    try {
      if (!this.conn.isDisposed) this.conn.dispose();
    } catch {
      // Already disposed.
    }
  }

  // While something waits on the kernel, check now and then that the server still has it.
  private startProbe(): void {
    if (this.probeTimer || this.probeIntervalMs <= 0) return;
    this.probeTimer = setInterval(() => void this.probe(), this.probeIntervalMs);
    this.probeTimer.unref();
  }

  private stopProbe(): void {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    this.unreachableSince = null;
  }

  private async probe(): Promise<void> {
    if (this.probing || !this.alive) return;
    this.probing = true;
    try {
      const model = await KernelAPI.getKernelModel(this.id, this.settings);
      this.unreachableSince = null;
      if (!model) this.markDead('the kernel is gone from the Jupyter server');
      else if (model.execution_state === 'dead') this.markDead('the Jupyter server reports the kernel dead');
    } catch (err) {
      const status = (err as { response?: { status?: number } }).response?.status;
      if (status === 404) {
        this.markDead('the kernel is gone from the Jupyter server');
      } else {
        this.unreachableSince ??= Date.now();
        if (Date.now() - this.unreachableSince >= this.unreachableAfterMs) {
          this.markDead(`the Jupyter server has been unreachable for ${Math.round(this.unreachableAfterMs / 1000)} s (${describe(err)})`);
        }
      }
    } finally {
      this.probing = false;
    }
  }
}

function describe(err: unknown): string {
  if (err instanceof ServerConnection.ResponseError) return `${err.response.status} ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
