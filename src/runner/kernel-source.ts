/**
 * The choice of kernel source for one job, handed to the engine as its
 * `KernelSource` (the engine asks it once, after parameter injection):
 *
 * - target `user-server`: a kernel in the user's own single-user server through
 *   JupyterHub (the server is started if needed; see kernel/user-server.ts),
 *   in the notebook's folder given relative to the user's home, which is taken
 *   to be the server's root (the simple/local spawners' default). hubmill still
 *   reads the notebook and writes the output itself, from and to the home on
 *   this machine: the homes are assumed shared between hubmill and the user's
 *   server (one machine, or one shared filesystem mounted at the same paths).
 * - a warm pool, when there is one: a warm kernel when it fits (the pool's rule:
 *   same identity, no per-job environment), moved to the notebook's folder;
 *   otherwise the pool launches a fresh one.
 * - otherwise a fresh launch, as the job's user, with the job's environment.
 */
import { sep } from 'node:path';
import type { Logger } from 'pino';
import { freshKernels, inRequestedFolder, moveKernelWhenPresent, type KernelSource } from '../engine/kernel-source.js';
import { DeadKernelError } from '../errors.js';
import { startUserServer, UserServerNotConfiguredError } from '../kernel/user-server.js';
import type { Job } from '../store/job-store.js';
import { relativeToHome } from '../users/paths.js';
import type { PreparedRun } from './intake.js';
import type { GatewayKernels, KernelAsk, UserServerConfig, UserServerOpener, WarmKernels } from './options.js';

export interface KernelChoiceDeps {
  pool: WarmKernels | null;
  gateway?: GatewayKernels | null;
  userServer: UserServerConfig | null;
  openUserServerKernel?: UserServerOpener;
  startTimeoutMs?: number;
  log: Logger;
}

export class KernelChoice {
  constructor(private readonly deps: KernelChoiceDeps) {}

  /** Whether jobs with target `user-server` can run here. */
  get userServerAvailable(): boolean {
    return this.deps.userServer !== null || this.deps.openUserServerKernel !== undefined;
  }

  /** The source the engine gets this job's kernel from. */
  forJob(job: Job, p: PreparedRun, env: Record<string, string> | undefined): KernelSource {
    const startTimeoutMs = this.deps.startTimeoutMs;
    if (job.target === 'user-server') {
      return {
        acquire: async (req) => {
          const rel = await relativeToHome(p.home, req.cwd);
          const path = rel === '.' || rel === '' ? '' : rel.split(sep).join('/');
          this.deps.log.info({ jobId: job.id, kernelName: req.kernelName, path }, "opening a kernel in the user's own server");
          return this.openUserServerKernel(job, { kernelName: req.kernelName, path, cwd: req.cwd, startTimeoutMs, signal: req.signal });
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

  private openUserServerKernel(job: Job, o: Parameters<UserServerOpener>[1]): ReturnType<UserServerOpener> {
    if (this.deps.openUserServerKernel) return this.deps.openUserServerKernel(job, o);
    const us = this.deps.userServer;
    if (!us) return Promise.reject(new UserServerNotConfiguredError("target 'user-server' needs JupyterHub (see the job's submit error)"));
    return (async () => {
      const server = await startUserServer(us.hubApiUrl, us.token, job.username, {
        publicUrl: us.publicUrl,
        timeoutMs: us.startTimeoutMs ?? 60_000,
        signal: o.signal,
      });
      this.deps.log.info({ jobId: job.id, baseUrl: server.baseUrl, started: server.started }, 'user server ready');
      // Loaded on first use: @jupyterlab/services costs ~23 MB of RSS that local-only installs never need.
      const { ServerKernel } = await import('../kernel/server-kernel.js');
      return ServerKernel.start({
        baseUrl: server.baseUrl,
        token: us.token,
        kernelName: o.kernelName,
        path: o.path,
        cwd: o.cwd,
        startTimeoutMs: o.startTimeoutMs ?? 60_000,
        signal: o.signal,
      });
    })();
  }
}
