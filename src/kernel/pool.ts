/**
 * A pool of pre-started ("warm") kernels per kernelspec. Each kernel serves one
 * job only: `acquire` hands it out and a replacement starts at once when the
 * pool is below its target, which it sizes from the measured arrival rate and
 * refill time (pool-sizing.ts) between the configured size and ceiling.
 * Optional preload code (e.g. `import pandas`) runs before a kernel joins the pool.
 * With `followJobFolders`, a pool without preload code starts its kernels in the
 * folder of its last job (when that still exists), and hands out first a kernel
 * already there: successive jobs of one folder (a sweep, a schedule, a batch)
 * need no move (engine/kernel-source.ts), a round trip and ~9 ms of CPU each.
 * Warm kernels run as the service's own user; a request to run as another user
 * (or with per-job environment) gets a fresh kernel.
 * Kernels come from a launcher (pool-launcher.ts): local processes by default
 * (with fork servers, Python kernels are forked children of a server that
 * already ran the preload, so refills take milliseconds), or kernels on a
 * Jupyter gateway.
 */
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import { AbortedError, KernelStartError } from '../errors.js';
import type { ForkServers } from './fork-servers.js';
import type { KernelClient } from './kernel-client.js';
import type { KernelSpecSearchOptions } from './kernelspec-discovery.js';
import { LocalLauncher } from './local-launcher.js';
import { PoolSizer } from './pool-sizing.js';
import type { KernelLauncher, KernelStartOptions, PoolableKernel } from './pool-launcher.js';

export interface KernelPoolOptions<K extends PoolableKernel = KernelClient> {
  /** The fewest warm kernels to keep per kernelspec name, e.g. { python3: 2 } (0: no pool for it). */
  sizes: Record<string, number>;
  /** The most idle kernels a pool grows to from its measurements (default: its size, a fixed pool). */
  max?: number;
  /** The clock (ms) for the arrival rate and refill times (tests give a fake one). */
  now?: () => number;
  /** Code run in each warm kernel before it joins the pool, per kernelspec name. */
  preload?: Record<string, string>;
  logger?: Logger;
  startTimeoutMs?: number;
  /** Where warm kernels start; the engine moves them to the notebook's folder. */
  cwd?: string;
  /**
   * Start warm kernels in the folder of the last job that took one (local kernels: a gateway's
   * folders are not ours to check). Not for a kernelspec with preload code: it must not run
   * with a user's folder first on sys.path.
   */
  followJobFolders?: boolean;
  /** Starts the kernels (default: a LocalLauncher with specSearch and forkServers below). */
  launcher?: KernelLauncher<K>;
  /** Local launcher only: where kernelspecs are found. */
  specSearch?: KernelSpecSearchOptions;
  /** Local launcher only: fork Python kernels from these servers (falls back to a normal launch by itself). */
  forkServers?: ForkServers | null;
  /** Called on each kernel start attempt (metrics). */
  onKernelStart?: (kernelName: string, ok: boolean, ms: number, warm: boolean) => void;
}

export type AcquireOptions = KernelStartOptions;

/**
 * IPython builds parts of its execution path on first use (its display
 * formatters, the tokenizer's patterns): about 6 ms of a first cell and of the
 * `chdir` the engine sends a warm kernel. A warm kernel pays them while it waits
 * in the pool, in one silent request (no history, no execution count, no
 * output). A kernel that is not IPython, or fails it, is used as it is.
 */
const PYTHON_WARM_UP = "get_ipython().display_formatter.format(0) if 'get_ipython' in globals() else None";

async function warmUp(k: PoolableKernel): Promise<void> {
  if (k.language.toLowerCase() !== 'python') return;
  await k.execute(PYTHON_WARM_UP, { silent: true, storeHistory: false, timeoutMs: 10_000 }).catch(() => undefined);
}

interface Waiter<K> {
  resolve: (k: K) => void;
  reject: (err: Error) => void;
}

interface Slot<K> {
  idle: K[];
  starting: number;
  failuresInARow: number;
  /** Jobs waiting for a warm kernel that is already starting (cheaper than starting yet another on 2 cores). */
  waiters: Waiter<K>[];
  sizer: PoolSizer;
  /** Where the last job that took a kernel worked (followJobFolders), or null. */
  jobFolder: string | null;
}

export class KernelPool<K extends PoolableKernel = KernelClient> {
  private readonly slots = new Map<string, Slot<K>>();
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly launcher: KernelLauncher<K>;

  constructor(private readonly opts: KernelPoolOptions<K>) {
    this.now = opts.now ?? (() => performance.now());
    this.launcher =
      opts.launcher ??
      (new LocalLauncher({ specSearch: opts.specSearch, forkServers: opts.forkServers, logger: opts.logger, startTimeoutMs: opts.startTimeoutMs }) as unknown as KernelLauncher<K>);
  }

  /** Starts filling every configured pool in the background. */
  start(): void {
    for (const [name, size] of Object.entries(this.opts.sizes)) if (size > 0) this.fill(name.toLowerCase());
  }

  private slot(name: string): Slot<K> {
    let s = this.slots.get(name);
    if (!s) {
      const min = this.size(name);
      s = { idle: [], starting: 0, failuresInARow: 0, waiters: [], sizer: new PoolSizer({ min, max: Math.max(min, this.opts.max ?? min) }, this.now), jobFolder: null };
      this.slots.set(name, s);
    }
    return s;
  }

  private readonly now: () => number;

  private size(name: string): number {
    for (const [k, v] of Object.entries(this.opts.sizes)) if (k.toLowerCase() === name) return v;
    return 0;
  }

  private target(name: string): number {
    return this.slot(name).sizer.target();
  }

  private fill(name: string): void {
    if (this.closed) return;
    const s = this.slot(name);
    while (s.idle.length + s.starting < this.target(name)) {
      s.starting++;
      const t0 = this.now();
      void this.startWarm(name).then(
        (k) => {
          s.starting--;
          s.failuresInARow = 0;
          s.sizer.refilled(this.now() - t0);
          if (this.closed) {
            void k.shutdown();
            return;
          }
          const waiter = s.waiters.shift();
          if (waiter) {
            waiter.resolve(k);
            this.fill(name);
            return;
          }
          k.onceDead(() => {
            const i = s.idle.indexOf(k);
            if (i >= 0) {
              s.idle.splice(i, 1);
              this.fill(name);
            }
          });
          s.idle.push(k);
        },
        (err: Error) => {
          s.starting--;
          s.failuresInARow++;
          // Whoever waited for this kernel starts its own instead.
          s.waiters.shift()?.reject(err);
          this.opts.logger?.warn({ kernel: name, err: err.message }, 'warm kernel failed to start');
          // Back off so a broken kernelspec does not spin.
          const delay = Math.min(60_000, 500 * 2 ** Math.min(s.failuresInARow, 7));
          const t = setTimeout(() => {
            this.timers.delete(t);
            this.fill(name);
          }, delay);
          t.unref();
          this.timers.add(t);
        },
      );
      if (s.failuresInARow > 0) break;
    }
  }

  private preloadOf(name: string): string | undefined {
    return Object.entries(this.opts.preload ?? {}).find(([n]) => n.toLowerCase() === name)?.[1];
  }

  /** The folder a new warm kernel starts in: its last job's (followJobFolders, when it is still a folder) or the pool's. */
  private startFolder(s: Slot<K>): string | undefined {
    const f = s.jobFolder;
    if (f === null) return this.opts.cwd;
    try {
      if (statSync(f).isDirectory()) return f;
    } catch {
      // Removed since: back to the pool's own folder.
    }
    s.jobFolder = null;
    return this.opts.cwd;
  }

  private async startWarm(name: string): Promise<K> {
    const t0 = performance.now();
    const s = this.slot(name);
    const cwd = this.startFolder(s);
    let started: { kernel: K; preloaded: boolean };
    try {
      started = await this.launcher.startWarm(name, { cwd, startTimeoutMs: this.opts.startTimeoutMs });
    } catch (err) {
      this.opts.onKernelStart?.(name, false, performance.now() - t0, true);
      // A job's folder that cannot be started in (its permissions changed): the next start is in the pool's.
      if (cwd !== this.opts.cwd && s.jobFolder === cwd) s.jobFolder = null;
      throw err;
    }
    this.opts.onKernelStart?.(name, true, performance.now() - t0, true);
    const k = started.kernel;
    await warmUp(k);
    const preload = this.preloadOf(name);
    if (preload && !started.preloaded) {
      const reply = await k.execute(preload, { silent: true, storeHistory: false, timeoutMs: 300_000 }).catch((e: Error) => {
        void k.shutdown();
        throw e;
      });
      if (reply.status !== 'ok') {
        void k.shutdown();
        const why = reply.status === 'error' ? `${reply.ename}: ${reply.evalue}` : reply.status;
        throw new KernelStartError(`Preload code for '${name}' failed: ${why}`);
      }
    }
    return k;
  }

  /**
   * A ready kernel for this kernelspec: a warm one when it fits (same identity, no
   * per-job environment), else a freshly launched one. The caller owns it and must
   * shut it down; the pool refills in the background.
   */
  async acquire(kernelName: string, opts: AcquireOptions = {}): Promise<K> {
    const name = kernelName.toLowerCase();
    const wantsOwnProcess = opts.runAs !== undefined || (opts.env !== undefined && Object.keys(opts.env).length > 0);
    if (!wantsOwnProcess && !this.closed) {
      const s = this.size(name) > 0 ? this.slot(name) : this.slots.get(name);
      s?.sizer.arrival();
      if (s && opts.cwd && this.opts.followJobFolders && this.preloadOf(name) === undefined) s.jobFolder = opts.cwd;
      // A kernel already in the job's folder first (it needs no move), then the oldest.
      const here = s ? s.idle.findIndex((k) => k.cwd !== undefined && k.cwd === opts.cwd && k.alive) : -1;
      if (s && here > 0) s.idle.unshift(...s.idle.splice(here, 1));
      while (s && s.idle.length > 0) {
        const k = s.idle.shift()!;
        if (k.alive) {
          this.fill(name);
          return k;
        }
      }
      // None idle: the target may have grown with this arrival.
      if (s) this.fill(name);
      // None idle, but some are on their way: wait for one rather than start another.
      if (s && s.failuresInARow === 0 && s.starting > s.waiters.length) {
        try {
          return await this.waitForWarm(s, opts.signal);
        } catch (err) {
          if (opts.signal?.aborted) throw err;
          // The warm start failed: fall through to a fresh launch.
        }
      }
    }
    return this.launch(name, opts);
  }

  private waitForWarm(s: Slot<K>, signal?: AbortSignal): Promise<K> {
    return new Promise<K>((resolve, reject) => {
      const waiter: Waiter<K> = {
        resolve: (k) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(k);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        const i = s.waiters.indexOf(waiter);
        if (i >= 0) s.waiters.splice(i, 1);
        reject(new AbortedError('waiting for a warm kernel was aborted'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      s.waiters.push(waiter);
    });
  }

  private async launch(name: string, opts: AcquireOptions): Promise<K> {
    const t0 = performance.now();
    try {
      const k = await this.launcher.start(name, { startTimeoutMs: this.opts.startTimeoutMs, ...opts });
      this.opts.onKernelStart?.(name, true, performance.now() - t0, false);
      return k;
    } catch (err) {
      this.opts.onKernelStart?.(name, false, performance.now() - t0, false);
      throw err;
    }
  }

  stats(): Record<string, { idle: number; starting: number; target: number }> {
    const out: Record<string, { idle: number; starting: number; target: number }> = {};
    for (const name of new Set([...Object.keys(this.opts.sizes).map((n) => n.toLowerCase()), ...this.slots.keys()])) {
      const s = this.slots.get(name);
      out[name] = { idle: s?.idle.length ?? 0, starting: s?.starting ?? 0, target: s ? s.sizer.target() : this.size(name) };
    }
    return out;
  }

  /** Resolves once every configured pool is full (or timeoutMs passed); for tests and benchmarks. */
  async waitFull(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const full = Object.entries(this.stats()).every(([, v]) => v.idle >= v.target);
      if (full) return true;
      await new Promise((r) => setTimeout(r, 25));
    }
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.slots.values()) for (const w of s.waiters.splice(0)) w.reject(new KernelStartError('kernel pool closed'));
    const all = [...this.slots.values()].flatMap((s) => s.idle.splice(0));
    await Promise.all(all.map((k) => k.shutdown({ graceMs: 1000 })));
  }
}
