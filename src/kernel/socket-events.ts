/**
 * ZeroMQ socket events (connect, handshake, disconnect, ...) of one kernel's
 * client sockets: logged at debug level and kept as a short ring, so a kernel
 * that does not become ready is reported with what its sockets did.
 */
import type { Logger } from 'pino';
import type { EventType, Socket } from 'zeromq';

const WATCHED: EventType[] = [
  'connect',
  'connect:retry',
  'handshake',
  'handshake:error:protocol',
  'handshake:error:auth',
  'handshake:error:other',
  'disconnect',
  'close',
];
/** connect:retry and close fire every reconnect interval while the kernel has not bound its port yet; keep one in this many. */
const RETRY_SAMPLE = 50;
const SAMPLED: ReadonlySet<EventType> = new Set<EventType>(['connect:retry', 'close']);
const KEEP = 40;

export interface SocketEvent {
  ms: number;
  socket: string;
  type: EventType;
  address?: string;
  error?: string;
}

export class SocketEventLog {
  private readonly ring: SocketEvent[] = [];
  private readonly retries = new Map<string, number>();
  private readonly closes = new Map<string, number>();
  private readonly t0 = performance.now();
  /** Sockets that completed a ZMTP handshake at least once. */
  readonly handshaken = new Set<string>();

  constructor(private readonly logger?: Logger) {}

  /**
   * Starts recording a socket's events. `onDisconnectBeforeHandshake` is called when a
   * connection ends before this socket ever completed a handshake: a foreign socket held
   * the port (see docs/architecture.md, "Kernel ports").
   */
  watch(name: string, socket: Socket, onDisconnectBeforeHandshake?: (address: string) => void): void {
    for (const type of WATCHED) {
      socket.events.on(type, (ev) => {
        const rec: SocketEvent = { ms: Math.round(performance.now() - this.t0), socket: name, type };
        if ('address' in ev) rec.address = ev.address;
        if ('error' in ev && ev.error) rec.error = ev.error.message;
        if (type === 'handshake') this.handshaken.add(name);
        if (type === 'disconnect' && !this.handshaken.has(name) && rec.address) onDisconnectBeforeHandshake?.(rec.address);
        if (SAMPLED.has(type)) {
          const counts = type === 'close' ? this.closes : this.retries;
          const n = (counts.get(name) ?? 0) + 1;
          counts.set(name, n);
          if (n % RETRY_SAMPLE !== 1) return;
        }
        this.ring.push(rec);
        if (this.ring.length > KEEP) this.ring.shift();
        this.logger?.debug({ zmq: rec }, `zmq ${name} ${type}`);
      });
    }
  }

  /** One line per event (the last `max`), for error reports: "+120ms shell handshake tcp://127.0.0.1:20001". */
  summary(max = KEEP): string {
    const retries = [...this.retries].map(([s, n]) => `${s}: ${n} connect retries`).join(', ');
    const lines = this.ring.slice(-max).map((e) => `+${e.ms}ms ${e.socket} ${e.type}${e.address ? ` ${e.address}` : ''}${e.error ? ` (${e.error})` : ''}`);
    return [...lines, ...(retries ? [retries] : [])].join('\n');
  }
}
