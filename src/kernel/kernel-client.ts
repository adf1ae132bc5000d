/**
 * A connection to one running Jupyter kernel over ZeroMQ: execute, interrupt,
 * shutdown, with every wait bounded by a timeout and an AbortSignal, and the
 * kernel's death (process exit) turned into DeadKernelError at once.
 */
import { EventEmitter } from 'node:events';
import { Dealer, Subscriber } from 'zeromq';
import { AbortedError, DeadKernelError, KernelStartError, TimeoutError } from '../errors.js';
import { executeRequestContent, type ExecutionKernel } from './execution-kernel.js';
import type { KernelSpec } from './kernelspecs.js';
import { launchKernelProcess, type LaunchedKernel, type LaunchOptions } from './launcher.js';
import type {
  ExecuteReplyContent,
  KernelInfoReplyContent,
  Message,
  MessageHeader,
} from './messages.js';
import { unwatchProcessGroup } from './watchdog.js';
import { WireCodec } from './wire.js';

export interface ExecuteOptions {
  /** Called for every iopub message that belongs to this request, in order (status/execute_input included). */
  onIopub?: (msg: Message) => void;
  timeoutMs?: number;
  signal?: AbortSignal;
  stopOnError?: boolean;
  silent?: boolean;
  storeHistory?: boolean;
}

export interface ExecuteOutcome {
  reply: ExecuteReplyContent;
}

interface Pending {
  msgId: string;
  /** Settles once reply (and, when needIdle, the idle status) arrived. */
  resolve: (reply: Message) => void;
  reject: (err: Error) => void;
  onIopub?: (msg: Message) => void;
  needIdle: boolean;
  reply: Message | null;
  idle: boolean;
}

export interface KernelClientLaunchOptions extends LaunchOptions {
  startTimeoutMs?: number;
  signal?: AbortSignal;
  /** Starts the kernel's process (default: spawn it from the kernelspec); e.g. a fork server's child. */
  startProcess?: (spec: KernelSpec, opts: LaunchOptions) => Promise<LaunchedKernel>;
}

const STDERR_KEEP = 16 * 1024;

export class KernelClient extends EventEmitter implements ExecutionKernel {
  readonly id: string;
  readonly spec: KernelSpec;
  readonly cwd: string | undefined;
  readonly runAsUid: number | undefined;
  /** The kernel_info_reply content (language_info etc.), set once ready. */
  info: KernelInfoReplyContent | null = null;
  private readonly codec: WireCodec;
  private readonly shell: Dealer;
  private readonly control: Dealer;
  private readonly iopub: Subscriber;
  private readonly pending = new Map<string, Pending>();
  private deadError: DeadKernelError | null = null;
  private disposed = false;
  private stderrTail = '';
  private exitPromise: Promise<void>;

  private constructor(
    private readonly launched: LaunchedKernel,
    spec: KernelSpec,
    opts: LaunchOptions,
  ) {
    super();
    this.id = launched.id;
    this.spec = spec;
    this.cwd = opts.cwd;
    this.runAsUid = opts.runAs?.uid;
    const c = launched.connection;
    this.codec = new WireCodec(c.key);
    const url = (port: number) => `tcp://${c.ip}:${port}`;
    // A short reconnect interval makes the kernel reachable sooner after spawn (measured: ~75 ms).
    const common = { linger: 0, reconnectInterval: 10 };
    this.shell = new Dealer({ ...common, routingId: this.codec.session });
    this.control = new Dealer({ ...common });
    this.iopub = new Subscriber({ ...common });
    this.iopub.subscribe();
    this.shell.connect(url(c.shell_port));
    this.control.connect(url(c.control_port));
    this.iopub.connect(url(c.iopub_port));
    void this.readLoop(this.shell);
    void this.readLoop(this.control);
    void this.readLoop(this.iopub);

    const child = launched.child;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_KEEP);
    });
    this.exitPromise = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
    });
    child.once('exit', (code, signal) => {
      if (child.pid) unwatchProcessGroup(child.pid);
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      this.deadError = new DeadKernelError(`Kernel died (${how})${this.disposed ? '' : ' while hubmill was using it'}`);
      for (const p of this.pending.values()) p.reject(this.deadError);
      this.pending.clear();
      this.emit('dead', this.deadError);
      void launched.cleanup();
    });
  }

  /** Spawns a kernel and waits until it answers on shell and iopub (the iopub slow-joiner fix). */
  static async launch(spec: KernelSpec, opts: KernelClientLaunchOptions = {}): Promise<KernelClient> {
    const totalMs = opts.startTimeoutMs ?? 60_000;
    const deadline = Date.now() + totalMs;
    // Rarely (seen about once per few hundred starts on a loaded 2-core machine) a kernel that
    // is alive never answers; the cause is not pinned down. Such a kernel gets one fresh start
    // with new ports and key after a third of the budget (at least 10 s) instead of eating it all.
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
        if (err instanceof TimeoutError && attempt === 1 && deadline - Date.now() > 2000) continue;
        if (err instanceof TimeoutError) {
          throw new KernelStartError(`Kernel '${spec.name}' did not become ready within ${(totalMs / 1000).toFixed(1)} s${client.stderrSummary()}`);
        }
        if (err instanceof DeadKernelError) {
          throw new KernelStartError(`Kernel '${spec.name}' exited during start-up${client.stderrSummary()}`);
        }
        throw err;
      }
    }
  }

  get pid(): number | undefined {
    return this.launched.child.pid;
  }

  get alive(): boolean {
    return this.deadError === null && !this.disposed;
  }

  get language(): string {
    return this.info?.language_info?.name ?? this.spec.language;
  }

  /** The last lines the kernel wrote on stderr, for error reports. */
  stderrSummary(): string {
    const tail = this.stderrTail.trim().split('\n').slice(-15).join('\n');
    return tail ? `:\n${tail}` : '';
  }

  private async readLoop(socket: Dealer | Subscriber): Promise<void> {
    try {
      for await (const frames of socket) {
        const msg = this.codec.decode(frames as Buffer[]);
        if (!msg) continue;
        try {
          this.dispatch(msg, socket === this.iopub);
        } catch (err) {
          // A listener's bug must not stop the read loop (and with it every later reply).
          this.emit('listener-error', err);
        }
      }
    } catch {
      // Socket closed on dispose: nothing left to read.
    }
  }

  private dispatch(msg: Message, iopub: boolean): void {
    const parentId = msg.parent_header?.msg_id;
    if (!parentId) return;
    // During start-up any iopub message answering one of our probes proves the subscription
    // is live, even when it arrives after that probe's shell reply (ipykernel publishes iopub
    // from a separate thread, so under load the reply often comes first).
    if (iopub && this.readyProbes?.has(parentId)) this.readyIopubSeen = true;
    const p = this.pending.get(parentId);
    if (!p) return;
    if (iopub) {
      p.onIopub?.(msg);
      if (msg.header.msg_type === 'status' && (msg.content as { execution_state?: string }).execution_state === 'idle') {
        p.idle = true;
      }
    } else {
      p.reply = msg;
    }
    if (p.reply && (p.idle || !p.needIdle)) {
      this.pending.delete(parentId);
      p.resolve(p.reply);
    }
  }

  /** Sends a request and waits for its reply (and the idle status when needIdle). */
  private request(
    channel: 'shell' | 'control',
    msgType: string,
    content: unknown,
    opts: { needIdle: boolean; onIopub?: (msg: Message) => void; timeoutMs?: number; signal?: AbortSignal; header?: MessageHeader },
  ): Promise<Message> {
    if (this.deadError) return Promise.reject(this.deadError);
    if (this.disposed) return Promise.reject(new DeadKernelError('Kernel client was disposed'));
    const header = opts.header ?? this.codec.header(msgType);
    return new Promise<Message>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => finish(new AbortedError(`${msgType} aborted`));
      const finish = (err: Error | null, msg?: Message) => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(header.msg_id);
        if (err) reject(err);
        else resolve(msg!);
      };
      if (opts.signal?.aborted) return finish(new AbortedError(`${msgType} aborted`));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs !== undefined && Number.isFinite(opts.timeoutMs)) {
        timer = setTimeout(() => finish(new TimeoutError(`${msgType} timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
      }
      this.pending.set(header.msg_id, {
        msgId: header.msg_id,
        resolve: (m) => finish(null, m),
        reject: (e) => finish(e),
        onIopub: opts.onIopub,
        needIdle: opts.needIdle,
        reply: null,
        idle: false,
      });
      const socket = channel === 'shell' ? this.shell : this.control;
      socket.send(this.codec.encode(header, content)).catch((err: Error) => finish(err));
    });
  }

  /**
   * Ready means a kernel_info_reply on shell and an iopub message for one of our
   * requests (the iopub subscription is live). Repeats the request until both.
   */
  private readyProbes: Set<string> | null = null;
  private readyIopubSeen = false;

  private async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.readyProbes = new Set();
    this.readyIopubSeen = false;
    let reply: Message | null = null;
    const inflight: Promise<void>[] = [];
    let interval = 20;
    while (!(this.readyIopubSeen && reply)) {
      if (this.deadError) throw this.deadError;
      if (signal?.aborted) throw new AbortedError('kernel start aborted');
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new TimeoutError('kernel start timed out');
      const header = this.codec.header('kernel_info_request');
      this.readyProbes.add(header.msg_id);
      const p = this.request('shell', 'kernel_info_request', {}, {
        needIdle: false,
        header,
        timeoutMs: remaining,
        signal,
      }).then(
        (m) => {
          reply = m;
        },
        () => {},
      );
      inflight.push(p);
      // Wait a little for this round; the reply may arrive before its iopub status.
      await Promise.race([p, new Promise((r) => setTimeout(r, interval))]);
      if (reply && !this.readyIopubSeen) await new Promise((r) => setTimeout(r, 5));
      interval = Math.min(interval * 2, 200);
    }
    // Late replies to earlier kernel_info requests are dropped by dispatch (no longer pending).
    for (const pend of [...this.pending.values()]) {
      if (!pend.needIdle) pend.reject(new AbortedError('superseded kernel_info_request'));
    }
    await Promise.all(inflight);
    this.readyProbes = null;
    this.info = (reply as unknown as Message<KernelInfoReplyContent>).content;
  }

  /** Runs code; resolves with the execute_reply once the reply and the idle status arrived. */
  async execute(code: string, opts: ExecuteOptions = {}): Promise<ExecuteReplyContent> {
    const reply = await this.request('shell', 'execute_request', executeRequestContent(code, opts), {
      needIdle: true,
      onIopub: opts.onIopub,
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
    });
    return reply.content as unknown as ExecuteReplyContent;
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
  async waitExit(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      this.exitPromise.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return done;
  }

  private signalGroup(sig: NodeJS.Signals): void {
    const pid = this.pid;
    if (!pid) return;
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // Already gone.
      }
    }
  }

  /** Kills the kernel's whole process group at once. */
  async kill(): Promise<void> {
    this.signalGroup('SIGKILL');
    await this.waitExit(2000);
  }

  /** Graceful: shutdown_request, then SIGTERM, then SIGKILL the group. Safe to call twice. */
  async shutdown(opts: { graceMs?: number } = {}): Promise<void> {
    const grace = opts.graceMs ?? 2000;
    if (this.launched.child.exitCode === null && this.launched.child.signalCode === null) {
      if (!this.deadError) {
        const header = this.codec.header('shutdown_request');
        this.control.send(this.codec.encode(header, { restart: false })).catch(() => {});
      }
      if (!(await this.waitExit(grace))) {
        this.signalGroup('SIGTERM');
        if (!(await this.waitExit(1000))) {
          this.signalGroup('SIGKILL');
          await this.waitExit(2000);
        }
      }
    }
    // Children the kernel left in its group (e.g. subprocesses) go too.
    this.signalGroup('SIGKILL');
    await this.dispose();
  }

  /** Closes sockets; kills the process if still running. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.launched.child.exitCode === null && this.launched.child.signalCode === null) {
      this.signalGroup('SIGKILL');
    }
    for (const p of this.pending.values()) p.reject(new DeadKernelError('Kernel client was disposed'));
    this.pending.clear();
    for (const s of [this.shell, this.control, this.iopub]) {
      try {
        s.close();
      } catch {
        // Already closed.
      }
    }
    await this.launched.cleanup().catch(() => {});
  }
}
