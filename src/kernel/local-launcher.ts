/**
 * The pool's launcher for kernels on this machine: the kernelspec from the
 * Jupyter data dirs, started as a process (or forked from a fork server that
 * already ran the preload, when there are fork servers).
 */
import type { Logger } from 'pino';
import type { ForkServers } from './fork-servers.js';
import { KernelClient, type KernelClientLaunchOptions } from './kernel-client.js';
import { getKernelSpec, type KernelSpecSearchOptions } from './kernelspec-discovery.js';
import type { KernelLauncher, KernelStartOptions } from './pool-launcher.js';
import { ttlCached } from '../ttl-cache.js';

export interface LocalLauncherOptions {
  specSearch?: KernelSpecSearchOptions;
  /** Fork Python kernels from these servers (falls back to a normal launch by itself). */
  forkServers?: ForkServers | null;
  logger?: Logger;
  startTimeoutMs?: number;
}

type StartProcess = KernelClientLaunchOptions['startProcess'];

/**
 * A warm kernel's sockets back off to this pause between attempts to reach its ports (10, 20, 40 ms):
 * nobody waits for it, and dialling every 10 ms until it binds (up to a second under load) cost
 * each refill ~100 refused connects per socket, three socket events each, on hubmill's CPU.
 */
const WARM_RECONNECT_MAX_MS = 40;

export class LocalLauncher implements KernelLauncher<KernelClient> {
  /** Kernelspecs kept 5 s: without this, every kernel start scans every Jupyter data folder. */
  private readonly spec: (name: string) => ReturnType<typeof getKernelSpec>;

  constructor(private readonly opts: LocalLauncherOptions = {}) {
    this.spec = ttlCached((name) => getKernelSpec(name, opts.specSearch), { ttlMs: 5000 });
  }

  async startWarm(name: string, o: { cwd?: string; startTimeoutMs?: number }): Promise<{ kernel: KernelClient; preloaded: boolean }> {
    const spec = await this.spec(name);
    const how = this.starter();
    const kernel = await KernelClient.launch(spec, {
      cwd: o.cwd,
      startTimeoutMs: o.startTimeoutMs ?? this.opts.startTimeoutMs,
      logger: this.opts.logger,
      reconnectMaxIntervalMs: WARM_RECONNECT_MAX_MS,
      startProcess: how.startProcess,
    });
    return { kernel, preloaded: how.forked };
  }

  async start(name: string, o: KernelStartOptions): Promise<KernelClient> {
    const spec = await this.spec(name);
    const { username: _forWhom, ...launch } = o;
    return KernelClient.launch(spec, { startTimeoutMs: this.opts.startTimeoutMs, logger: this.opts.logger, startProcess: this.starter().startProcess, ...launch });
  }

  /** How to start a kernel's process: through the fork servers when there are some (records whether it was forked). */
  private starter(): { startProcess?: StartProcess; forked: boolean } {
    const servers = this.opts.forkServers;
    const how: { startProcess?: StartProcess; forked: boolean } = { forked: false };
    if (servers) {
      how.startProcess = async (spec, o) => {
        const started = await servers.startProcess(spec, o);
        how.forked = started.forked;
        return started;
      };
    }
    return how;
  }
}
