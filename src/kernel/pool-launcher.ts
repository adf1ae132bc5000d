/**
 * How the warm pool (pool.ts) starts its kernels. The pool keeps the
 * bookkeeping (sizes, refills, back-off, waiters, the fit rule); a launcher
 * only starts kernels: `LocalLauncher` (local-launcher.ts) from this machine's
 * kernelspecs, `KernelGateway` (gateway.ts) on a Jupyter (Kernel/Enterprise)
 * Gateway or any Jupyter Server.
 */
import type { DeadKernelError } from '../errors.js';
import type { ExecutionKernel } from './execution-kernel.js';
import type { RunAs } from './launcher.js';

/** A kernel the pool can keep warm: it says when it dies (a dead warm kernel leaves the pool). */
export interface PoolableKernel extends ExecutionKernel {
  onceDead(listener: (err: DeadKernelError) => void): void;
}

/** What a job asks of its kernel; a warm kernel fits only when none of `env` and `runAs` is given. */
export interface KernelStartOptions {
  /** The folder the kernel works in (for a gateway: sent as KERNEL_WORKING_DIR). */
  cwd?: string;
  /** The job's own environment (for a gateway: sent as the start request's `env`). */
  env?: Record<string, string>;
  /** Run the kernel as this local user (local kernels only). */
  runAs?: RunAs;
  /** Whom the kernel is for (for a gateway: KERNEL_USERNAME). */
  username?: string;
  startTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface KernelLauncher<K extends PoolableKernel> {
  /**
   * Starts a kernel nobody asked for yet (no per-job settings), in `cwd` when given.
   * `preloaded`: it already ran the pool's preload code (a forked kernel's server did).
   */
  startWarm(name: string, opts: { cwd?: string; startTimeoutMs?: number }): Promise<{ kernel: K; preloaded: boolean }>;
  /** Starts a kernel for one job, with its settings. */
  start(name: string, opts: KernelStartOptions): Promise<K>;
}
