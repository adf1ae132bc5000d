/**
 * A connection to one running Jupyter kernel over ZeroMQ: execute, interrupt,
 * shutdown, with every wait bounded by a timeout and an AbortSignal, and the
 * kernel's death (process exit) turned into DeadKernelError at once (the waits
 * are kept in pending-requests.ts, shared with ServerKernel).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { AbortedError, DeadKernelError, KernelStartError, TimeoutError } from '../errors.js';
import { executeRequestContent, type ExecuteOptions, type ExecutionKernel } from './execution-kernel.js';
import type { KernelSpec } from './kernelspec-discovery.js';
import { launchKernelProcess, type LaunchedKernel, type LaunchOptions } from './launcher.js';
import type {
  ExecuteReplyContent,
  KernelInfoReply,
  KernelInfoReplyContent,
  Message,
  MessageType,
} from './messages.js';
import { KernelProcess } from './kernel-process.js';
import { KernelSockets } from './kernel-sockets.js';
import { PendingRequests } from './pending-requests.js';
import type { SocketEventLog } from './socket-events.js';

/** What a request waits for: its reply and, when needIdle, the idle status after it. */
interface Pending {
  onIopub?: (msg: Message) => void;
  needIdle: boolean;
  reply: Message | null;
  idle: boolean;
}

export interface KernelClientLaunchOptions extends LaunchOptions {
  startTimeoutMs?: number;
  signal?: AbortSignal;
  /** ZeroMQ socket events go here at debug level. */
  logger?: Logger;
  /**
   * Longest pause between ZeroMQ's attempts to reach a port nobody listens on yet (default:
   * every 10 ms throughout). A kernel spawned long before it can answer (the CLI starts it
   * before loading the engine) binds its ports well before it is ready, so backing off costs
   * no latency there and saves the CPU of a hundred refused connects a second per socket.
   */
  reconnectMaxIntervalMs?: number;
  /** Starts the kernel's process (default: spawn it from the kernelspec); e.g. a fork server's child. */
  startProcess?: (spec: KernelSpec, opts: LaunchOptions) => Promise<LaunchedKernel>;
}

/** Fresh starts (new ports and key) after a port collision or a silent kernel. */
const MAX_START_ATTEMPTS = 3;

export class KernelClient extends EventEmitter implements ExecutionKernel {
  readonly id: string;
  readonly spec: KernelSpec;
  readonly cwd: string | undefined;
  readonly runAsUid: number | undefined;
  /** The kernel_info_reply content (language_info etc.), set once ready. */
  info: KernelInfoReplyContent | null = null;
  private readonly sockets: KernelSockets;
  /** Requests waiting for their reply, by msg_id; its death and the client's disposal reject them. */
  private readonly requests = new PendingRequests<Pending>();
  private readonly proc: KernelProcess;
  /** Answered shutdown_request and left to exit on its own (shutdown's letFinish). */
  private leftToFinish = false;

  private constructor(
    launched: LaunchedKernel,
    spec: KernelSpec,
    opts: KernelClientLaunchOptions,
  ) {
    super();
    this.id = launched.id;
    this.spec = spec;
    this.cwd = opts.cwd;
    this.runAsUid = opts.runAs?.uid;
    this.sockets = new KernelSockets(
      launched.connection,
      { logger: opts.logger?.child({ kernelId: this.id, kernel: spec.name }), reconnectMaxIntervalMs: opts.reconnectMaxIntervalMs },
      (msg, iopub) => this.dispatch(msg, iopub),
      (err) => this.emit('listener-error', err),
    );
    this.proc = new KernelProcess(launched, (how) => {
      const err = new DeadKernelError(`Kernel died (${how})${this.disposed ? '' : ' while hubmill was using it'}`);
      this.requests.kernelDied(err);
      this.emit('dead', err);
    });
  }

  /** Spawns a kernel and waits until it answers on shell and iopub (the iopub slow-joiner fix). */
  static async launch(spec: KernelSpec, opts: KernelClientLaunchOptions = {}): Promise<KernelClient> {
    const totalMs = opts.startTimeoutMs ?? 60_000;
    const deadline = Date.now() + totalMs;
    // A kernel that is alive but silent for a third of the budget (at least 10 s) gets a
    // fresh start, as does one that lost a port to another program (EADDRINUSE). Both are
    // logged with the socket events: they should not happen since ports are reserved.
    const firstTryMs = Math.min(totalMs, Math.max(10_000, totalMs / 3));
    for (let attempt = 1; ; attempt++) {
      const budgetMs = attempt === 1 ? firstTryMs : deadline - Date.now();
      const launched = await (opts.startProcess ?? launchKernelProcess)(spec, opts);
      const client = new KernelClient(launched, spec, opts);
      try {
        await client.waitReady(budgetMs, opts.signal);
        return client;
      } catch (err) {
        await client.dispose();
        const cause = err instanceof TimeoutError ? 'silent' : err instanceof DeadKernelError && client.proc.lostPort() ? 'port in use' : null;
        const again = cause !== null && attempt < MAX_START_ATTEMPTS && deadline - Date.now() > 2000;
        if (cause) {
          opts.logger?.warn(
            { kernelId: client.id, kernel: spec.name, attempt, cause, socketEvents: client.socketEvents.summary(), stderr: client.stderrSummary() },
            again ? 'kernel did not start; starting a fresh one' : 'kernel did not start',
          );
        }
        if (again) continue;
        if (err instanceof TimeoutError) {
          throw new KernelStartError(`Kernel '${spec.name}' did not become ready within ${(totalMs / 1000).toFixed(1)} s${client.startReport()}`);
        }
        if (err instanceof DeadKernelError) {
          throw new KernelStartError(`Kernel '${spec.name}' exited during start-up${client.stderrSummary()}`);
        }
        throw err;
      }
    }
  }

  /** What a start that timed out saw: the kernel's stderr, its sockets' last events, foreign messages. */
  private startReport(): string {
    const rejected = this.sockets.rejectedMessages;
    const foreign = rejected > 0 ? `\n${rejected} message(s) with a wrong signature or malformed (another kernel on our port?)` : '';
    const events = this.socketEvents.summary(12);
    return `${this.stderrSummary()}${foreign}${events ? `\nZeroMQ socket events:\n${events}` : ''}`;
  }

  /** What the ZeroMQ sockets did (connects, handshakes, disconnects), for debug logs and start errors. */
  get socketEvents(): SocketEventLog {
    return this.sockets.socketEvents;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Its TCP ports: shell, iopub, stdin, control, hb. */
  get ports(): number[] {
    const c = this.proc.launched.connection;
    return [c.shell_port, c.iopub_port, c.stdin_port, c.control_port, c.hb_port];
  }

  get alive(): boolean {
    return this.requests.failure === null;
  }

  private get disposed(): boolean {
    return this.requests.closed;
  }

  /** Called once when the kernel's process dies (at once when it already has). */
  onceDead(listener: (err: DeadKernelError) => void): void {
    const dead = this.requests.dead;
    if (dead) listener(dead);
    else this.once('dead', listener);
  }

  get language(): string {
    return this.info?.language_info?.name ?? this.spec.language;
  }

  /** The last lines the kernel wrote on stderr, for error reports. */
  stderrSummary(): string {
    return this.proc.stderrSummary();
  }

  private dispatch(msg: Message, iopub: boolean): void {
    const parentId = msg.parent_header?.msg_id;
    if (!parentId) return;
    // During start-up any iopub message answering one of our probes proves the subscription
    // is live, even when it arrives after that probe's shell reply (ipykernel publishes iopub
    // from a separate thread, so under load the reply often comes first).
    if (iopub && this.readyProbes?.has(parentId) && !this.readyIopubSeen) {
      this.readyIopubSeen = true;
      this.readyWake?.();
    }
    const p = this.requests.get(parentId);
    if (!p) return;
    if (iopub) {
      p.onIopub?.(msg);
      if (msg.header.msg_type === 'status' && (msg.content as { execution_state?: string }).execution_state === 'idle') {
        p.idle = true;
      }
    } else {
      p.reply = msg;
    }
    if (p.reply && (p.idle || !p.needIdle)) this.requests.settle(parentId, p.reply);
  }

  /** Sends a request and waits for its reply (and the idle status when needIdle). */
  private request(
    channel: 'shell' | 'control',
    msgType: MessageType,
    content: unknown,
    opts: { needIdle: boolean; onIopub?: (msg: Message) => void; timeoutMs?: number; signal?: AbortSignal },
  ): Promise<Message> {
    const header = this.sockets.header(msgType);
    const id = header.msg_id;
    const reply = this.requests.wait<Message>(id, { onIopub: opts.onIopub, needIdle: opts.needIdle, reply: null, idle: false }, { what: msgType, timeoutMs: opts.timeoutMs, signal: opts.signal });
    // Sent only when the wait was taken (not refused: the kernel dead, the client disposed, the signal aborted).
    if (this.requests.get(id)) {
      this.sockets.send(channel, header, content).catch((err: Error) => this.requests.reject(id, err));
    }
    return reply;
  }

  /**
   * Ready means a kernel_info_reply on shell and an iopub message for one of our
   * requests (the iopub subscription is live). Repeats the request until both.
   * One abort listener and one timer per wait, however many probes it sends.
   * Until shell has connected, the first probe waits queued on the socket and no
   * other is sent (each would be answered, three messages apiece, once the kernel
   * is up); each completed handshake (a reconnect after a redial drops the queue)
   * sends one at once and restarts the pacing.
   */
  private readyProbes: Set<string> | null = null;
  private readyIopubSeen = false;
  private readyWake: (() => void) | null = null;

  private async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const probes = new Set<string>();
    this.readyProbes = probes;
    this.readyIopubSeen = false;
    let reply: Message | null = null;
    let timer: NodeJS.Timeout | undefined;
    const wake = () => this.readyWake?.();
    signal?.addEventListener('abort', wake, { once: true });
    this.once('dead', wake);
    this.sockets.onShellHandshake = wake;
    try {
      let interval = 20;
      let handshakes = -1;
      while (!(this.readyIopubSeen && reply)) {
        if (this.requests.dead) throw this.requests.dead;
        if (signal?.aborted) throw new AbortedError('kernel start aborted');
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new TimeoutError('kernel start timed out');
        const connected = this.sockets.shellHandshakes;
        if (connected !== handshakes) interval = 20;
        if (probes.size === 0 || connected > 0) {
          handshakes = connected;
          const header = this.sockets.header('kernel_info_request');
          probes.add(header.msg_id);
          this.requests.wait<Message>(header.msg_id, { needIdle: false, reply: null, idle: false }, { what: 'kernel_info_request' }).then(
            (m) => {
              // Only the first reply wakes the loop: waking on every reply would probe at round-trip speed.
              if (reply) return;
              reply = m;
              wake();
            },
            // The kernel's death wakes the loop through 'dead'; a dropped probe needs nothing.
            () => {},
          );
          // zeromq allows one send in flight; a refused send only costs this probe.
          this.sockets.send('shell', header, {}).catch(() => {});
        }
        await new Promise<void>((r) => {
          this.readyWake = r;
          timer = setTimeout(r, Math.min(interval, remaining));
        });
        clearTimeout(timer);
        interval = Math.min(interval * 2, 200);
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', wake);
      this.off('dead', wake);
      this.sockets.onShellHandshake = null;
      // Late replies to earlier probes are dropped by dispatch (no longer pending).
      for (const id of probes) this.requests.reject(id, new AbortedError('kernel_info_request no longer needed'));
      this.readyProbes = null;
      this.readyWake = null;
    }
    const content = (reply as Message).content as KernelInfoReply;
    // A kernel that answers kernel_info with an error is running; it just tells us less.
    this.info = content.status === 'ok' ? content : null;
  }

  /** Runs code; resolves with the execute_reply once the reply and the idle status arrived. */
  async execute(code: string, opts: ExecuteOptions = {}): Promise<ExecuteReplyContent> {
    const reply = await this.request('shell', 'execute_request', executeRequestContent(code, opts), {
      needIdle: true,
      onIopub: opts.onIopub,
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
    });
    return reply.content as ExecuteReplyContent;
  }

  /** Interrupts the running cell: SIGINT to the group, or interrupt_request per the kernelspec. */
  async interrupt(timeoutMs = 5000): Promise<void> {
    if (!this.alive) return;
    if (this.spec.interrupt_mode === 'message') {
      await this.request('control', 'interrupt_request', {}, { needIdle: false, timeoutMs }).catch(() => {});
      return;
    }
    const pid = this.pid;
    if (pid) {
      try {
        process.kill(-pid, 'SIGINT');
      } catch {
        // Already gone.
      }
    }
  }

  /** Waits for the process to exit, up to timeoutMs; true when it did. */
  waitExit(timeoutMs: number): Promise<boolean> {
    return this.proc.waitExit(timeoutMs);
  }

  /** Kills the kernel's whole process group at once. */
  async kill(): Promise<void> {
    this.proc.signalGroup('SIGKILL');
    await this.waitExit(2000);
  }

  /**
   * Graceful: shutdown_request, then SIGTERM, then SIGKILL the group. Safe to call twice.
   * `letFinish`: once the kernel has answered shutdown_reply, do not wait for its process to
   * exit (its interpreter's teardown, its atexit code): it finishes on its own, bounded by the
   * watchdog once we are gone (KernelProcess.letFinish). Without a reply it is stopped as usual.
   */
  async shutdown(opts: { graceMs?: number; letFinish?: boolean } = {}): Promise<void> {
    const grace = opts.graceMs ?? 2000;
    if (this.proc.running) {
      let waited = false;
      if (!this.requests.dead) {
        if (opts.letFinish) {
          const answered = await this.request('control', 'shutdown_request', { restart: false }, { needIdle: false, timeoutMs: grace }).then(
            () => true,
            () => false,
          );
          if (answered && this.proc.letFinish()) {
            this.leftToFinish = true;
            await this.dispose();
            return;
          }
          waited = !answered;
        } else {
          // Once the kernel has answered, nothing more is read from it: the sockets close rather than
          // dial its closed ports every reconnect interval while it exits.
          void this.request('control', 'shutdown_request', { restart: false }, { needIdle: false, timeoutMs: grace }).then(
            () => this.sockets.close(),
            () => {},
          );
        }
      }
      this.sockets.closeIopub();
      if (!(await this.waitExit(waited ? 0 : grace))) {
        this.proc.signalGroup('SIGTERM');
        if (!(await this.waitExit(1000))) {
          this.proc.signalGroup('SIGKILL');
          await this.waitExit(2000);
        }
      }
    }
    // Children the kernel left in its group (e.g. subprocesses) go too.
    this.proc.signalGroup('SIGKILL');
    await this.dispose();
  }

  /** Closes sockets; kills the process if still running. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.requests.close(new DeadKernelError('Kernel client was disposed'));
    if (this.proc.running && !this.leftToFinish) {
      this.proc.signalGroup('SIGKILL');
    }
    this.sockets.close();
    // A kernel left to finish keeps its ports (handed over to it) until it has exited.
    if (!this.leftToFinish || !this.proc.running) await this.proc.cleanup();
  }
}
