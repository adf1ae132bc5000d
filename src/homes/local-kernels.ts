/**
 * The kernel source of a job in a local home, handed to the engine as its
 * `KernelSource` (the engine asks it once, after parameter injection):
 *
 * - on a Jupyter gateway, when one is configured: a warm kernel of the pool (on
 *   the same gateway) or a fresh one, moved to the notebook's folder when that
 *   folder exists on the gateway's side;
 * - else a warm pool, when there is one: a warm kernel when it fits (the pool's
 *   rule: same identity, no per-job environment), moved to the notebook's
 *   folder; otherwise the pool launches a fresh one;
 * - otherwise a fresh launch, as the job's user, with the job's environment.
 *
 * (A job in the user's own server gets its kernel there: user-server-home.ts.)
 */
import type { Logger } from 'pino';
import { freshKernels, inRequestedFolder, moveKernelWhenPresent, type KernelSource } from '../engine/kernel-source.js';
import type { RunAs } from '../engine/run-types.js';
import { DeadKernelError } from '../errors.js';
import type { ExecutionKernel } from '../kernel/execution-kernel.js';
import type { KernelStartOptions } from '../kernel/pool-launcher.js';
import type { Job } from '../store/job-store.js';

/** What a job asks of its kernel: where, as whom, with what environment (a warm kernel fits only without runAs and env). */
export type KernelAsk = KernelStartOptions;

/** A pool of warm kernels as the runner needs it (KernelPool satisfies it). */
export interface WarmKernels {
  acquire(kernelName: string, opts: KernelAsk): Promise<ExecutionKernel>;
  stats(): Record<string, { idle: number; starting: number; target: number }>;
}

/** Kernels on a Jupyter (Kernel/Enterprise) Gateway as the runner needs them (KernelGateway satisfies it). */
export interface GatewayKernels {
  /** The gateway's kernelspec of that name (NoSuchKernelError; KernelGatewayError when the gateway cannot tell). */
  kernelSpec(name: string): Promise<{ name: string; language: string }>;
  /** A fresh kernel on the gateway for one job. */
  start(kernelName: string, opts: KernelAsk): Promise<ExecutionKernel>;
}

export interface LocalKernelsDeps {
  pool: WarmKernels | null;
  gateway?: GatewayKernels | null;
  startTimeoutMs?: number;
  log: Logger;
}

/** The source the engine gets a local-home job's kernel from. */
export function localKernelSource(deps: LocalKernelsDeps, job: Job, runAs: RunAs | null, env: Record<string, string> | undefined): KernelSource {
  const startTimeoutMs = deps.startTimeoutMs;
  if (deps.gateway) return onGateway(deps, deps.gateway, job, runAs, env);
  const fresh = freshKernels({ runAs: runAs ?? undefined, env, startTimeoutMs });
  const pool = deps.pool;
  if (!pool) return fresh;
  const warm: KernelSource = {
    acquire: (req) => pool.acquire(req.kernelName, { cwd: req.cwd, runAs: runAs ?? undefined, env, startTimeoutMs, signal: req.signal }),
  };
  return inRequestedFolder(warm, fresh);
}

function onGateway(deps: LocalKernelsDeps, gateway: GatewayKernels, job: Job, runAs: RunAs | null, env: Record<string, string> | undefined): KernelSource {
  const pool = deps.pool;
  return {
    acquire: async (req) => {
      const ask: KernelAsk = { cwd: req.cwd, runAs: runAs ?? undefined, env, username: job.username, startTimeoutMs: deps.startTimeoutMs, signal: req.signal };
      const kernel = pool ? await pool.acquire(req.kernelName, ask) : await gateway.start(req.kernelName, ask);
      deps.log.info({ jobId: job.id, kernelName: req.kernelName, kernelId: kernel.id }, 'kernel on the gateway');
      try {
        await moveKernelWhenPresent(kernel, req.cwd, req.signal);
        return kernel;
      } catch (err) {
        await kernel.shutdown().catch(() => {});
        if (!(err instanceof DeadKernelError) || !pool) throw err;
      }
      deps.log.warn({ jobId: job.id, kernelId: kernel.id }, 'the warm kernel on the gateway was dead; starting a fresh one');
      const again = await gateway.start(req.kernelName, ask);
      try {
        await moveKernelWhenPresent(again, req.cwd, req.signal);
        return again;
      } catch (err) {
        await again.shutdown().catch(() => {});
        throw err;
      }
    },
  };
}
