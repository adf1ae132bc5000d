/**
 * Fork servers per Python kernelspec, with fallback: `startProcess` gives
 * KernelClient a forked ipykernel when it can, and a normally launched one
 * (logging why) when the kernelspec is not a Python ipykernel, the job's
 * environment changes how Python starts (PYTHON* variables), or the server is
 * missing, crashed or refused. A failed server is started again on a later
 * request, after a backoff that doubles with each failure in a row.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ForkRefusedError, ForkServer, forkableSpec } from './fork-server.js';
import type { KernelSpec } from './kernelspec-discovery.js';
import { createConnectionFile, kernelArgv, kernelEnv, launchKernelProcess, type LaunchedKernel, type LaunchOptions } from './launcher.js';

export interface ForkServersOptions {
  /** Preload code per kernelspec name (run once in its server). */
  preload?: Record<string, string>;
  logger?: Logger;
  /** Where the servers run (their children move to the job's folder). */
  cwd?: string;
  /** Bound of a server's start (imports included), default 60 s. */
  startTimeoutMs?: number;
  /** Override of the server's file (tests). */
  script?: string;
  /** First backoff after a failure, doubled per failure in a row up to 60 s (default 1 s). */
  backoffMs?: number;
  /** false: no zygote (each child builds IPKernelApp itself); default: the server builds it when its self-check passes. */
  zygote?: boolean;
  /** false: no spare child (each kernel forked when asked for); default: a spare waits for the next request. */
  spare?: boolean;
}

interface Entry {
  server: ForkServer | null;
  starting: Promise<ForkServer | null> | null;
  failures: number;
  retryAt: number;
}

/** A forked kernel's stderr file, in its connection folder (removed with it). */
const FORKED_STDERR = 'stderr';

export type StartedKernelProcess = LaunchedKernel & { forked: boolean };

export class ForkServers {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly opts: ForkServersOptions = {}) {}

  /** True when kernels of this spec are forked (when the server is up). */
  canFork(spec: KernelSpec): boolean {
    return forkableSpec(spec) !== null;
  }

  private entry(name: string): Entry {
    let e = this.entries.get(name);
    if (!e) {
      e = { server: null, starting: null, failures: 0, retryAt: 0 };
      this.entries.set(name, e);
    }
    return e;
  }

  private fail(spec: KernelSpec, e: Entry, why: string): void {
    e.failures++;
    const delay = Math.min(60_000, (this.opts.backoffMs ?? 1000) * 2 ** (e.failures - 1));
    e.retryAt = Date.now() + delay;
    this.opts.logger?.warn({ kernel: spec.name, why, retryInMs: delay }, 'fork server unavailable; launching kernels normally');
  }

  /** The running server for this spec, starting it when needed; null while it is failing (backoff). */
  server(spec: KernelSpec): Promise<ForkServer | null> {
    const e = this.entry(spec.name);
    if (e.server?.alive) return Promise.resolve(e.server);
    if (e.starting) return e.starting;
    if (this.closed || Date.now() < e.retryAt) return Promise.resolve(null);
    const preload = Object.entries(this.opts.preload ?? {}).find(([n]) => n.toLowerCase() === spec.name.toLowerCase())?.[1];
    e.starting = ForkServer.start(spec, {
      preload,
      env: kernelEnv(spec, {}),
      cwd: this.opts.cwd,
      timeoutMs: this.opts.startTimeoutMs,
      script: this.opts.script,
      zygote: this.opts.zygote,
      spare: this.opts.spare,
    }).then(
      (server) => {
        e.starting = null;
        if (this.closed) {
          void server.close();
          return null;
        }
        e.server = server;
        this.opts.logger?.info(
          { kernel: spec.name, pid: server.pid, preloadMs: server.hello?.preload_ms, threads: server.hello?.threads, argsParsed: server.hello?.args_parsed, zygote: server.hello?.zygote, zygoteWhy: server.hello?.zygote_why ?? undefined, prefaultPages: server.hello?.prefault_pages, prefaultWhy: server.hello?.prefault_why ?? undefined, spare: server.hello?.spare },
          'fork server ready',
        );
        server.once('exit', (err: Error) => {
          if (e.server !== server) return;
          e.server = null;
          if (!this.closed) this.fail(spec, e, err.message);
        });
        e.failures = 0;
        return server;
      },
      (err: Error) => {
        e.starting = null;
        this.fail(spec, e, err.message);
        return null;
      },
    );
    return e.starting;
  }

  /** Starts a kernel process: forked when possible, else launched as usual. */
  async startProcess(spec: KernelSpec, opts: LaunchOptions): Promise<StartedKernelProcess> {
    const how = forkableSpec(spec);
    const pyEnv = Object.keys(opts.env ?? {}).find((k) => k.startsWith('PYTHON'));
    if (!how || pyEnv || this.closed) {
      if (how && pyEnv) this.opts.logger?.debug({ kernel: spec.name, variable: pyEnv }, 'job environment sets a PYTHON* variable: launching normally');
      return { ...(await launchKernelProcess(spec, opts)), forked: false };
    }
    const server = await this.server(spec);
    if (!server) return { ...(await launchKernelProcess(spec, opts)), forked: false };
    const conn = await createConnectionFile(spec, opts.runAs, opts.ports, [FORKED_STDERR]);
    try {
      const argv = kernelArgv(spec, conn.connectionFile).slice(how.launcherArgsFrom);
      const child = await server.fork({
        argv,
        env: kernelEnv(spec, opts, server.pid),
        cwd: opts.cwd ?? null,
        stderr: join(conn.dir, FORKED_STDERR),
        user: opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid, name: opts.runAs.username } : null,
      });
      return { id: conn.id, child, connection: conn.connection, connectionFile: conn.connectionFile, cleanup: conn.cleanup, forked: true };
    } catch (err) {
      await conn.cleanup();
      const e = this.entry(spec.name);
      if (err instanceof ForkRefusedError && server.alive) {
        this.opts.logger?.warn({ kernel: spec.name, why: err.message }, 'fork server refused a kernel; launching it normally');
      } else if (e.server === server) {
        // Hung or gone: its running children keep running (they are watched without it).
        e.server = null;
        server.abandon();
        this.fail(spec, e, (err as Error).message);
      }
      return { ...(await launchKernelProcess(spec, opts)), forked: false };
    }
  }

  /** The running servers' pids (tests, stats). */
  pids(): number[] {
    return [...this.entries.values()].flatMap((e) => (e.server?.pid ? [e.server.pid] : []));
  }

  async close(): Promise<void> {
    this.closed = true;
    const servers = await Promise.all([...this.entries.values()].map((e) => e.starting ?? Promise.resolve(e.server)));
    await Promise.all(servers.map((s) => s?.close()));
    this.entries.clear();
  }
}
