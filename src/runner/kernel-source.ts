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
import { freshKernels, inRequestedFolder, type KernelSource } from '../engine/kernel-source.js';
import type { Job } from '../store/job-store.js';
import type { RemoteRun } from './contents-intake.js';
import type { PreparedRun } from './intake.js';
import type { WarmKernels } from './options.js';

export interface KernelChoiceDeps {
  pool: WarmKernels | null;
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
}
