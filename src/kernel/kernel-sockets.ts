/**
 * The client side of one kernel's ZeroMQ channels (shell, control, iopub): dialling,
 * dialling again after a foreign socket held a port, the read loops, signed encoding,
 * and closing. What the messages mean is KernelClient's business (kernel-client.ts).
 */
import type { Logger } from 'pino';
import { Dealer, Subscriber } from 'zeromq';
import type { ConnectionInfo } from './launcher.js';
import type { Channel, Message, MessageHeader, MessageType } from './messages.js';
import { SocketEventLog } from './socket-events.js';
import { frameBytes, largeMessageDone } from './large-messages.js';
import { WireCodec } from './wire.js';

/** Pause before dialling an endpoint again that a foreign socket held (it may still hold it). */
const REDIAL_DELAY_MS = 50;

export interface KernelSocketsOptions {
  /** ZeroMQ socket events go here at debug level. */
  logger?: Logger;
  /** Longest pause between attempts to reach a port nobody listens on yet (see KernelClientLaunchOptions). */
  reconnectMaxIntervalMs?: number;
}

type Socket = Dealer | Subscriber;

export class KernelSockets {
  private readonly codec: WireCodec;
  /** What the ZeroMQ sockets did (connects, handshakes, disconnects), for debug logs and start errors. */
  readonly socketEvents: SocketEventLog;
  /** Messages with a wrong signature or malformed: another kernel (another key) on our port. */
  rejectedMessages = 0;
  /** Completed ZMTP handshakes of the shell socket (a reconnect counts again), and who to tell of one. */
  shellHandshakes = 0;
  onShellHandshake: (() => void) | null = null;
  private readonly shell: Dealer;
  private readonly control: Dealer;
  private readonly iopub: Subscriber;
  private readonly redialTimers = new Map<Socket, NodeJS.Timeout>();
  private closed = false;

  /**
   * Dials the kernel and reads every channel; each decoded message goes to `onMessage`
   * (a throw there is passed to `onListenerError` and the read loop goes on).
   */
  constructor(
    c: ConnectionInfo,
    opts: KernelSocketsOptions,
    private readonly onMessage: (msg: Message, iopub: boolean) => void,
    private readonly onListenerError: (err: unknown) => void,
  ) {
    this.codec = new WireCodec(c.key);
    const url = (port: number) => `tcp://${c.ip}:${port}`;
    // A short reconnect interval makes the kernel reachable sooner after spawn (measured: ~75 ms).
    const common = { linger: 0, reconnectInterval: 10, ...(opts.reconnectMaxIntervalMs ? { reconnectMaxInterval: opts.reconnectMaxIntervalMs } : {}) };
    this.shell = new Dealer({ ...common, routingId: this.codec.session });
    this.control = new Dealer({ ...common });
    this.iopub = new Subscriber({ ...common });
    this.iopub.subscribe();
    this.socketEvents = new SocketEventLog(opts.logger);
    this.socketEvents.watch('shell', this.shell, (a) => this.redial(this.shell, a));
    this.socketEvents.watch('control', this.control, (a) => this.redial(this.control, a));
    this.socketEvents.watch('iopub', this.iopub, (a) => this.redial(this.iopub, a));
    // Control and IOPub are dialled once shell's handshake shows the kernel has bound its ports: while it
    // starts, each socket would otherwise dial a closed port every reconnect interval (three events each).
    let dialled = false;
    this.shell.events.on('handshake', () => {
      this.shellHandshakes++;
      this.onShellHandshake?.();
      if (dialled || this.closed) return;
      dialled = true;
      this.control.connect(url(c.control_port));
      this.iopub.connect(url(c.iopub_port));
    });
    this.shell.connect(url(c.shell_port));
    void this.readLoop(this.shell, 'shell');
    void this.readLoop(this.control, 'control');
    void this.readLoop(this.iopub, 'iopub');
  }

  /** A new message's header: its msg_id is known before it is sent. */
  header(msgType: MessageType): MessageHeader {
    return this.codec.header(msgType);
  }

  /** Signs and sends a message on shell or control. */
  send(channel: 'shell' | 'control', header: MessageHeader, content: unknown): Promise<void> {
    const socket = channel === 'shell' ? this.shell : this.control;
    return socket.send(this.codec.encode(header, content));
  }

  /**
   * Nothing is read from IOPub any more. A kernel closes its IOPub socket as it starts to exit and
   * may take a second or two to be gone; an open subscriber would dial that port meanwhile.
   */
  closeIopub(): void {
    closeSocket(this.iopub);
  }

  /** Stops dialling and reading; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.redialTimers.values()) clearTimeout(t);
    this.redialTimers.clear();
    for (const s of [this.shell, this.control, this.iopub]) closeSocket(s);
  }

  /**
   * libzmq gives up an endpoint for good when the first peer it reached failed the
   * handshake (e.g. a SUB that reached another process's PULL or ROUTER socket), so
   * the kernel, once it binds that port, would never hear from us. Dial again.
   */
  private redial(socket: Socket, address: string): void {
    if (this.closed || this.redialTimers.has(socket)) return;
    const t = setTimeout(() => {
      this.redialTimers.delete(socket);
      if (this.closed) return;
      try {
        socket.disconnect(address);
      } catch {
        // Already dropped by libzmq.
      }
      try {
        socket.connect(address);
      } catch {
        // Closed meanwhile.
      }
    }, REDIAL_DELAY_MS);
    this.redialTimers.set(socket, t);
  }

  private async readLoop(socket: Socket, channel: Channel): Promise<void> {
    try {
      const messages = socket[Symbol.asyncIterator]();
      for (;;) {
        // The message is handled without being kept in a local: one held across the `await` below would
        // stay reachable from this loop's suspended frame, and its frames (tens of MB) would not be freed.
        const bytes = this.receive(await messages.next(), channel);
        if (bytes < 0) break;
        // After a large message: its frames collected and freed before the next one is read (large-messages.ts).
        const collected = largeMessageDone(bytes);
        if (collected) await collected;
      }
    } catch {
      // Socket closed: nothing left to read.
    }
  }

  /** Decodes and hands on one message; answers its frames' size, or -1 when the socket is closed. */
  private receive(next: IteratorResult<unknown>, channel: Channel): number {
    if (next.done) return -1;
    const frames = next.value as Buffer[];
    const bytes = frameBytes(frames);
    const msg = this.codec.decode(frames, channel);
    if (!msg) {
      this.rejectedMessages++;
      return bytes;
    }
    try {
      this.onMessage(msg, channel === 'iopub');
    } catch (err) {
      // A listener's bug must not stop the read loop (and with it every later reply).
      this.onListenerError(err);
    }
    return bytes;
  }
}

function closeSocket(s: Socket): void {
  try {
    s.close();
  } catch {
    // Already closed.
  }
}
