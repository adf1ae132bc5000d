/**
 * Ports for kernels, reserved so that no other socket can hold them between our
 * choice and the kernel's bind:
 * - taken from below the OS ephemeral range (`ip_local_port_range`), which the
 *   OS never hands to `bind(0)`, `tcp://*:*` or an outgoing connection (ipykernel
 *   binds its IOPub pipe that way; our own clients connect that way);
 * - reserved between hubmill processes by an exclusive lock file per port in one
 *   shared folder, held for the kernel's whole life and reclaimed from dead pids;
 * - checked free with a bind probe (a foreign program may listen there).
 * See docs/architecture.md ("Kernel ports") for why.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelStartError } from '../errors.js';

export interface PortRange {
  low: number;
  high: number;
}

export interface PortReservation {
  ports: number[];
  /** Gives the ports back (idempotent). */
  release(): void;
  /**
   * Leaves the ports reserved for process `pid` instead of this one (its pid in every lock file):
   * for a kernel left to finish its exit after we are gone. Its locks are reclaimed, as any
   * dead owner's, once it has exited.
   */
  handOver(pid: number): void;
}

/** How many ports below the ephemeral range kernels use. */
const SPAN = 8000;
const DEFAULT_EPHEMERAL: PortRange = { low: 32768, high: 60999 };

let ephemeral: PortRange | null = null;

/** The OS ephemeral range, from /proc on Linux (read once per process: a sysctl change needs a restart). */
export function ephemeralRange(): PortRange {
  return (ephemeral ??= readEphemeralRange());
}

function readEphemeralRange(): PortRange {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low && high && low <= high) return { low, high };
  } catch {
    // Not Linux: use the Linux default.
  }
  return DEFAULT_EPHEMERAL;
}

/** The range kernel ports come from: the SPAN ports just below the ephemeral range (never below 1024). */
export function kernelPortRange(): PortRange {
  const { low } = ephemeralRange();
  return { low: Math.max(1024, low - SPAN), high: low - 1 };
}

export function defaultLockDir(): string {
  return join(tmpdir(), 'hubmill-ports');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Lock folders this process has created and opened to everyone (made again when a /tmp cleaner removed one). */
const preparedDirs = new Set<string>();

async function prepareLockDir(dir: string): Promise<void> {
  if (preparedDirs.has(dir)) return;
  await mkdir(dir, { recursive: true });
  // Shared by every hubmill on the machine, whatever user it runs as (sticky, like /tmp).
  await chmod(dir, 0o1777).catch(() => {});
  preparedDirs.add(dir);
}

class LockDirGone extends Error {}

/** Takes the lock file of one port; a lock left by a dead process is taken over. Throws LockDirGone when the folder is missing. */
function lockPort(dir: string, port: number): boolean {
  const file = join(dir, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new LockDirGone();
      if (code !== 'EEXIST') return false;
    }
    let owner = 0;
    try {
      owner = Number(readFileSync(file, 'utf8'));
    } catch {
      continue; // Released meanwhile: try again.
    }
    // An empty file is a lock being written right now; a live owner keeps it.
    if (!owner || pidAlive(owner)) return false;
    try {
      unlinkSync(file);
    } catch {
      return false;
    }
  }
  return false;
}

function unlockPort(dir: string, port: number): void {
  try {
    unlinkSync(join(dir, String(port)));
  } catch {
    // Already gone.
  }
}

/** True when nothing listens on 127.0.0.1:port right now. */
function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export interface ReserveOptions {
  range?: PortRange;
  lockDir?: string;
  host?: string;
}

/** Reserves n ports for one kernel; release them when the kernel has exited. */
export async function reservePorts(n: number, opts: ReserveOptions = {}): Promise<PortReservation> {
  const range = opts.range ?? kernelPortRange();
  const dir = opts.lockDir ?? defaultLockDir();
  const host = opts.host ?? '127.0.0.1';
  await prepareLockDir(dir);
  const size = range.high - range.low + 1;
  const ports: number[] = [];
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    for (const p of ports) unlockPort(dir, p);
  };
  // A random start spreads concurrent starts; the walk then visits every port once.
  const start = Math.floor(Math.random() * size);
  // The ports still missing are locked, then tried together (each try is a listen and a close).
  let i = 0;
  while (i < size && ports.length < n) {
    const locked: number[] = [];
    for (; i < size && ports.length + locked.length < n; i++) {
      const port = range.low + ((start + i) % size);
      let ok: boolean;
      try {
        ok = lockPort(dir, port);
      } catch (err) {
        if (!(err instanceof LockDirGone)) throw err;
        // Removed since we made it (a /tmp cleaner): make it again.
        preparedDirs.delete(dir);
        await prepareLockDir(dir);
        try {
          ok = lockPort(dir, port);
        } catch {
          release();
          throw new KernelStartError(`The kernel port lock folder ${dir} keeps disappearing`);
        }
      }
      if (ok) locked.push(port);
    }
    const free = await Promise.all(locked.map((port) => bindable(port, host)));
    locked.forEach((port, k) => (free[k] ? ports.push(port) : unlockPort(dir, port)));
  }
  if (ports.length < n) {
    release();
    throw new KernelStartError(`No free kernel ports in ${range.low}-${range.high} (locks in ${dir})`);
  }
  const handOver = (pid: number) => {
    if (released) return;
    for (const p of ports) {
      try {
        writeFileSync(join(dir, String(p)), String(pid));
      } catch {
        // Reclaimed or removed meanwhile: nothing to hand over.
      }
    }
  };
  return { ports, release, handOver };
}
