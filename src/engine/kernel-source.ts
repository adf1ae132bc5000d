/**
 * Where the engine gets its kernel. The engine asks a `KernelSource` for "a
 * ready kernel of this kernelspec, working in this folder" and owns the answer
 * until it gives it back with `release` (by default: shut it down). How the
 * kernel comes to be is the source's business: a fresh launch (the CLI, and
 * the service when nothing warm fits), a warm pool, a user's own server (the
 * job's home chooses, see homes/).
 */
import { KernelStartError } from '../errors.js';
import type { ExecutionKernel } from '../kernel/execution-kernel.js';
import { KernelClient, type KernelClientLaunchOptions } from '../kernel/kernel-client.js';
import { getKernelSpec } from '../kernel/kernelspec-discovery.js';

export interface KernelRequest {
  /** Kernelspec name (lower case). */
  kernelName: string;
  /** The folder the kernel must work in (absolute). */
  cwd: string;
  /** Gives up the wait (cancel, whole-run timeout): reject with AbortedError and leave no kernel behind. */
  signal?: AbortSignal;
}

export interface KernelSource {
  /** A ready kernel; rejects with KernelStartError (could not start), NoSuchKernelError or AbortedError. */
  acquire(req: KernelRequest): Promise<ExecutionKernel>;
  /** Called once when the run is done with the kernel (default: `kernel.shutdown()`). */
  release?(kernel: ExecutionKernel): Promise<void>;
}

/** How fresh kernels are launched: as whom, with what extra environment, within what start budget. */
export type LaunchSettings = Pick<KernelClientLaunchOptions, 'runAs' | 'env' | 'startTimeoutMs' | 'parentPoller'>;

/** A cold start per request: the kernelspec's command, launched in the requested folder. */
export function freshKernels(settings: LaunchSettings = {}): KernelSource {
  return {
    async acquire(req) {
      const spec = await getKernelSpec(req.kernelName);
      return KernelClient.launch(spec, { ...settings, startTimeoutMs: settings.startTimeoutMs ?? 60_000, cwd: req.cwd, signal: req.signal });
    },
  };
}

/** A kernel started by the caller (benchmarks, tests): handed out as it is; `keep` leaves it running after the run. */
export function givenKernel(kernel: ExecutionKernel, opts: { keep?: boolean } = {}): KernelSource {
  return {
    acquire: async () => kernel,
    release: async (k) => {
      if (!opts.keep) await k.shutdown();
    },
  };
}

/**
 * Code that moves a running kernel to `dir`, for languages we know; null otherwise.
 * `ifPresent`: only when that folder exists where the kernel runs (else it stays).
 */
function chdirCode(language: string, dir: string, ifPresent = false): string | null {
  const lit = JSON.stringify(dir);
  switch (language.toLowerCase()) {
    case 'python': {
      // As a kernel started in `dir` would have it: the start folder's entry on sys.path (the launcher's
      // first, `python -m` style) becomes `dir`, so a job never imports what lies where the kernel started.
      const move = `(lambda os, sys, d: (lambda c: (os.chdir(d), sys.path.__setitem__(slice(None), [d if p == c else p for p in sys.path])))(os.getcwd()))`;
      const mods = `(__import__('os'), __import__('sys'), ${lit})`;
      return ifPresent ? `(lambda os: os.path.isdir(${lit}) and ${move}${mods})(__import__('os'))` : `${move}${mods}`;
    }
    case 'r':
      return ifPresent ? `if (dir.exists(${lit})) setwd(${lit})` : `setwd(${lit})`;
    default:
      return null;
  }
}

/**
 * Moves a remote kernel (e.g. a gateway's, whose files need not be this
 * machine's) to `dir` when that folder exists where it runs; a kernel of a
 * language we cannot move, or without that folder, stays where it was started.
 */
export async function moveKernelWhenPresent(kernel: ExecutionKernel, dir: string, signal?: AbortSignal): Promise<void> {
  const code = chdirCode(kernel.language, dir, true);
  if (code === null) return;
  const r = await kernel.execute(code, { silent: true, storeHistory: false, timeoutMs: 10_000, signal });
  if (r.status !== 'ok') throw new KernelStartError(`Could not change the kernel's directory to ${dir}`);
}

/**
 * Wraps a source whose kernels may work in another folder (a warm pool starts
 * them in the service's folder): a Python or R kernel is moved to the requested
 * folder; a kernel of another language is shut down and `fallback` starts one in
 * the right place.
 */
export function inRequestedFolder(source: KernelSource, fallback: KernelSource): KernelSource {
  return {
    async acquire(req) {
      const kernel = await source.acquire(req);
      if (kernel.cwd === req.cwd) return kernel;
      const code = chdirCode(kernel.language, req.cwd);
      if (code === null) {
        await kernel.shutdown().catch(() => {});
        return fallback.acquire(req);
      }
      try {
        const r = await kernel.execute(code, { silent: true, storeHistory: false, timeoutMs: 10_000, signal: req.signal });
        if (r.status !== 'ok') throw new KernelStartError(`Could not change the kernel's directory to ${req.cwd}`);
        return kernel;
      } catch (err) {
        await kernel.shutdown().catch(() => {});
        throw err;
      }
    },
  };
}
