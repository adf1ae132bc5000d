/**
 * One fork server process (python/hubmill_forkserver.py) for one Python
 * kernelspec: it has imported ipykernel and the preload once, and forks a fresh
 * ipykernel per request. hubmill talks to it over a socketpair (its fd 3), one
 * JSON object per line; it reports each child's exit, which becomes the
 * ForkedProcess 'exit' event KernelClient watches for death detection.
 *
 * The server runs in its own process group, registered with the no-orphan
 * watchdog, and kills its children when our end of the socket closes; each child
 * is in its own process group (setsid) and registered with the watchdog too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync, readSync, fstatSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { KernelStartError } from '../errors.js';
import type { KernelSpec } from './kernelspec-discovery.js';
import type { KernelProcess } from './launcher.js';
import { unwatchProcessGroup, watchProcessGroup } from './watchdog.js';

/** The server's file, in the package's python/ folder (two levels above both src/kernel and dist/kernel). */
export function forkServerScript(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'python', 'hubmill_forkserver.py');
}

export interface ForkableSpec {
  /** The interpreter and its flags, as in the kernelspec (argv before `-m ipykernel_launcher`). */
  interpreter: string[];
  /** Index in the filled argv after which the launcher's own arguments start. */
  launcherArgsFrom: number;
}

/** How to fork kernels of this kernelspec, or null when it is not `PYTHON [flags] -m ipykernel_launcher ...`. */
export function forkableSpec(spec: KernelSpec): ForkableSpec | null {
  const m = spec.argv.indexOf('-m');
  if (m < 1 || spec.argv[m + 1] !== 'ipykernel_launcher') return null;
  if (!/(^|\/)python[0-9.]*$/.test(spec.argv[0]!)) return null;
  return { interpreter: spec.argv.slice(0, m), launcherArgsFrom: m + 2 };
}

/** The server answered a fork request with an error (it is still running). */
export class ForkRefusedError extends KernelStartError {}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, num]) => [num, name as NodeJS.Signals]),
);
const STDERR_TAIL = 16 * 1024;

/** A kernel forked by the server: its exit comes from the server's report (or, if the server is gone, from polling /proc). */
export class ForkedProcess extends EventEmitter implements KernelProcess {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly stderr = new EventEmitter();
  private poll: NodeJS.Timeout | null = null;
  private exited = false;

  constructor(
    readonly pid: number,
    private readonly stderrPath: string,
  ) {
    super();
  }

  /** Called once the process is gone: hands the tail of its stderr file to listeners, then 'exit'. */
  markExited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    if (this.poll) clearInterval(this.poll);
    const tail = readTail(this.stderrPath);
    if (tail.length > 0) this.stderr.emit('data', tail);
    this.exitCode = code;
    this.signalCode = signal;
    unwatchProcessGroup(this.pid);
    this.emit('exit', code, signal);
  }

  /** The server died: nobody reports this child's exit any more, so watch /proc ourselves. */
  watchWithoutServer(intervalMs = 100): void {
    if (this.exited || this.poll) return;
    this.poll = setInterval(() => {
      if (!processAlive(this.pid)) this.markExited(null, null);
    }, intervalMs);
    this.poll.unref();
  }
}

function readTail(path: string): Buffer {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const len = Math.min(size, STDERR_TAIL);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf;
  } catch {
    return Buffer.alloc(0);
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Alive and not a zombie (an orphan's zombie still answers kill(pid, 0)). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/s.test(stat);
  } catch {
    return false;
  }
}

export interface ForkRequest {
  /** The launcher's arguments (`-f FILE ...`). */
  argv: string[];
  env: Record<string, string>;
  cwd: string | null;
  /** Where the child writes its stderr. */
  stderr: string;
  user: { uid: number; gid: number; name: string } | null;
}

export interface ForkServerStartOptions {
  /** Preload code run once in the server (its names are given to every child's namespace). */
  preload?: string;
  env: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  script?: string;
  /** false: every child builds IPKernelApp itself (no zygote, python/hubmill_zygote.py). */
  zygote?: boolean;
  /** false: no spare child; each child is forked when its request comes (python/hubmill_spare.py). */
  spare?: boolean;
}

interface PendingFork {
  stderr: string;
  resolve: (child: ForkedProcess) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class ForkServer extends EventEmitter {
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<number, PendingFork>();
  private readonly children = new Map<number, ForkedProcess>();
  private exited = false;
  private stderrTail = '';
  /** Set by the server's hello: its Python threads at fork time (must be 1) and preload time. */
  hello: { pid: number; threads: number; preload_ms: number; args_parsed?: boolean; zygote?: boolean; zygote_why?: string | null; prefault_pages?: number; prefault_why?: string | null; spare?: boolean } | null = null;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly channel: Duplex,
  ) {
    super();
    proc.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    channel.on('data', (chunk: Buffer) => this.onData(chunk));
    channel.on('error', () => {});
    proc.once('exit', (code, signal) => {
      this.exited = true;
      if (proc.pid) unwatchProcessGroup(proc.pid);
      const why = new KernelStartError(`fork server exited (${signal ? `signal ${signal}` : `exit code ${code}`})${this.stderrSummary()}`);
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(why);
      }
      this.pending.clear();
      for (const child of this.children.values()) child.watchWithoutServer();
      this.emit('exit', why);
    });
  }

  /** Spawns the server and waits for its hello (ipykernel and the preload imported). */
  static async start(spec: KernelSpec, opts: ForkServerStartOptions): Promise<ForkServer> {
    const how = forkableSpec(spec);
    if (!how) throw new KernelStartError(`kernelspec '${spec.name}' is not a Python ipykernel`);
    const script = opts.script ?? forkServerScript();
    if (!existsSync(script)) throw new KernelStartError(`fork server script missing: ${script}`);
    const proc = spawn(how.interpreter[0]!, [...how.interpreter.slice(1), script], {
      cwd: opts.cwd,
      // The launcher's arguments as the kernelspec writes them ({connection_file} unfilled): the server parses them once.
      env: {
        ...opts.env,
        HUBMILL_FORKSERVER_PRELOAD: opts.preload ?? '', HUBMILL_FORKSERVER_ARGV: JSON.stringify(spec.argv.slice(how.launcherArgsFrom)),
        ...(opts.zygote === false ? { HUBMILL_FORKSERVER_ZYGOTE: '0' } : {}),
        ...(opts.spare === false ? { HUBMILL_FORKSERVER_SPARE: '0' } : {}),
      },
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    const channel = proc.stdio[3] as Duplex | null;
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (err) => reject(new KernelStartError(`could not start the fork server (${how.interpreter[0]}): ${err.message}`)));
    });
    if (proc.pid) watchProcessGroup(proc.pid);
    const server = new ForkServer(proc, channel!);
    const timeoutMs = opts.timeoutMs ?? 60_000;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new KernelStartError(`fork server did not start within ${timeoutMs} ms${server.stderrSummary()}`)), timeoutMs);
        server.once('hello', () => {
          clearTimeout(timer);
          resolve();
        });
        server.once('exit', (err: Error) => {
          clearTimeout(timer);
          reject(err);
        });
      });
    } catch (err) {
      await server.close();
      throw err;
    }
    return server;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Live children (for tests and stats). */
  get childPids(): number[] {
    return [...this.children.keys()];
  }

  stderrSummary(): string {
    const tail = this.stderrTail.trim().split('\n').slice(-15).join('\n');
    return tail ? `:\n${tail}` : '';
  }

  private onData(chunk: Buffer): void {
    this.buf += chunk.toString('utf8');
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      this.onMessage(msg);
    }
  }

  private onMessage(msg: Record<string, unknown>): void {
    if (msg.event === 'hello') {
      this.hello = msg as unknown as ForkServer['hello'];
      this.emit('hello');
      return;
    }
    if (msg.event === 'exit') {
      const pid = msg.pid as number;
      const child = this.children.get(pid);
      this.children.delete(pid);
      const sig = typeof msg.signal === 'number' ? (SIGNAL_NAMES.get(msg.signal) ?? null) : null;
      child?.markExited(typeof msg.code === 'number' ? msg.code : null, sig);
      return;
    }
    const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (!p) {
      // An answer that came after its timeout: nobody will use that kernel.
      if (typeof msg.pid === 'number') killGroup(msg.pid);
      return;
    }
    this.pending.delete(msg.id as number);
    clearTimeout(p.timer);
    if (typeof msg.pid === 'number') {
      // Registered now, not after an await: the child's exit report may be the very next line.
      const child = new ForkedProcess(msg.pid, p.stderr);
      this.children.set(msg.pid, child);
      watchProcessGroup(msg.pid);
      p.resolve(child);
    } else p.reject(new ForkRefusedError(`fork server refused: ${String(msg.error ?? 'no reason given')}`));
  }

  /** Forks a kernel; resolves once the child exists (not yet ready: KernelClient waits for that). */
  fork(req: ForkRequest, timeoutMs = 10_000): Promise<ForkedProcess> {
    if (this.exited) return Promise.reject(new KernelStartError('fork server is not running'));
    const id = this.nextId++;
    return new Promise<ForkedProcess>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new KernelStartError(`fork server did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { stderr: req.stderr, resolve, reject, timer });
      this.channel.write(`${JSON.stringify({ op: 'fork', id, ...req })}\n`);
    });
  }

  /** Kills the server alone (it hung): its children keep serving their jobs, watched through /proc. */
  abandon(): void {
    if (this.exited) return;
    killGroup(this.proc.pid!);
  }

  /** Stops the server; its children are killed with it. Bounded, safe to call twice. */
  async close(timeoutMs = 3000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.channel.end();
    try {
      process.kill(this.proc.pid!, 'SIGTERM');
    } catch {
      // Already gone.
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([gone.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs)))]);
    clearTimeout(timer);
    if (timedOut) {
      for (const pid of [this.proc.pid!, ...this.children.keys()]) killGroup(pid);
      await gone;
    }
  }
}
