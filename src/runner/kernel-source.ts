/**
 * The choice of kernel source for one job, handed to the engine as its
 * `KernelSource` (the engine asks it once, after parameter injection):
 *
 * - target `user-server`: a kernel in the user's own server (default or named,
 *   started by intake through JupyterHub; see kernel/user-server.ts and
 *   user-servers.ts), in the notebook's folder given as an API path relative to
 *   the server's root. The notebook and output go through the server's Contents
 *   API (contents-intake.ts): nothing is shared with hubmill's disk.
 * - a warm pool, when there is one: a warm kernel when it fits (the pool's rule:
 *   same identity, no per-job environment), moved to the notebook's folder;
 *   otherwise the pool launches a fresh one.
 * - otherwise a fresh launch, as the job's user, with the job's environment.
 */
import type { Logger } from 'pino';
import { freshKernels, inRequestedFolder, moveKernelWhenPresent, type KernelSource } from '../engine/kernel-source.js';
import { DeadKernelError } from '../errors.js';
import type { Job } from '../store/job-store.js';
import type { RemoteRun } from './contents-intake.js';
import type { PreparedRun } from './intake.js';
import type { GatewayKernels, KernelAsk, WarmKernels } from './options.js';

export interface KernelChoiceDeps {
  pool: WarmKernels | null;
  gateway?: GatewayKernels | null;
  startTimeoutMs?: number;
  log: Logger;
}

export class KernelChoice {
  constructor(private readonly deps: KernelChoiceDeps) {}

  /** The source the engine gets this job's kernel from. */
  forJob(job: Job, p: PreparedRun, env: Record<string, string> | undefined): KernelSource {
    const startTimeoutMs = this.deps.startTimeoutMs;
    const remote = p.remote;
    if (remote) {
      return {
        acquire: async (req) => {
          this.deps.log.info({ jobId: job.id, kernelName: req.kernelName, path: remote.folder }, "opening a kernel in the user's own server");
          return this.serverKernel(remote, req.kernelName, req.signal);
        },
      };
    }
    if (this.deps.gateway) return this.onGateway(this.deps.gateway, job, p, env);
    const fresh = freshKernels({ runAs: p.runAs ?? undefined, env, startTimeoutMs });
    const pool = this.deps.pool;
    if (!pool) return fresh;
    const warm: KernelSource = {
      acquire: (req) => pool.acquire(req.kernelName, { cwd: req.cwd, runAs: p.runAs ?? undefined, env, startTimeoutMs, signal: req.signal }),
    };
    return inRequestedFolder(warm, fresh);
  }

  private async serverKernel(remote: RemoteRun, kernelName: string, signal: AbortSignal | undefined): ReturnType<KernelSource['acquire']> {
    // Loaded on first use: @jupyterlab/services costs ~23 MB of RSS that local-only installs never need.
    const { ServerKernel } = await import('../kernel/server-kernel.js');
    return ServerKernel.start({
      baseUrl: remote.server.baseUrl,
      token: remote.api.token,
      kernelName,
      path: remote.folder,
      startTimeoutMs: this.deps.startTimeoutMs ?? 60_000,
      signal,
    });
  }

  private onGateway(gateway: GatewayKernels, job: Job, p: PreparedRun, env: Record<string, string> | undefined): KernelSource {
    const pool = this.deps.pool;
    return {
      acquire: async (req) => {
        const ask: KernelAsk = { cwd: req.cwd, runAs: p.runAs ?? undefined, env, username: job.username, startTimeoutMs: this.deps.startTimeoutMs, signal: req.signal };
        const kernel = pool ? await pool.acquire(req.kernelName, ask) : await gateway.start(req.kernelName, ask);
        this.deps.log.info({ jobId: job.id, kernelName: req.kernelName, kernelId: kernel.id }, 'kernel on the gateway');
        try {
          await moveKernelWhenPresent(kernel, req.cwd, req.signal);
          return kernel;
        } catch (err) {
          await kernel.shutdown().catch(() => {});
          if (!(err instanceof DeadKernelError) || !pool) throw err;
        }
        this.deps.log.warn({ jobId: job.id, kernelId: kernel.id }, 'the warm kernel on the gateway was dead; starting a fresh one');
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
}
