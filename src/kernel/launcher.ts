/**
 * Starts a kernel process from a kernelspec: reserved ports (ports.ts), a fresh key, a 0600 connection
 * file, its own process group (so signals reach its children), JPY_PARENT_PID so
 * ipykernel exits with us (unless `parentPoller: false`), and a watchdog for every kernel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chownSync, mkdtempSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelStartError } from '../errors.js';
import type { KernelSpec } from './kernelspec-discovery.js';
import { reservePorts, type ReserveOptions } from './ports.js';
import { watchProcessGroup } from './watchdog.js';

export interface ConnectionInfo {
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  ip: string;
  key: string;
  transport: 'tcp';
  signature_scheme: 'hmac-sha256';
  kernel_name: string;
}

/** Identity a kernel runs as when the service runs as root. */
export interface RunAs {
  uid: number;
  gid: number;
  home: string;
  username: string;
}

export interface LaunchOptions {
  cwd?: string;
  /** Extra environment on top of the service's own and the kernelspec's. */
  env?: Record<string, string>;
  runAs?: RunAs;
  /** Where kernel ports come from (tests); the default is below the OS ephemeral range, locked in the system temp folder. */
  ports?: ReserveOptions;
  /**
   * false: no JPY_PARENT_PID, so ipykernel does not watch for our exit. `hubmill run` exits before
   * its kernel's teardown is over (cli/run.ts); ipykernel's parent poller would `os._exit` the kernel
   * at its next one-second tick after that, possibly before the notebook's atexit code ran. The
   * watchdog bounds such a kernel instead (watchdog.ts). Default true.
   */
  parentPoller?: boolean;
}

/** What KernelClient needs of a kernel's process: a spawned ChildProcess, or a child of the fork server. */
export interface KernelProcess {
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  readonly stderr?: { on(event: 'data', listener: (chunk: Buffer) => void): unknown } | null;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
}

export interface LaunchedKernel {
  id: string;
  child: KernelProcess;
  connection: ConnectionInfo;
  connectionFile: string;
  /** Removes the connection file and its folder and gives the ports back; call once the process has exited. */
  cleanup(): Promise<void>;
  /**
   * For a kernel left to finish its exit on its own (the CLI, after shutdown_reply): removes the
   * connection file and its folder and leaves the ports reserved for `pid` until it is dead.
   * `cleanup` still gives them back if called later. Absent: the kernel cannot be left.
   */
  handOver?(pid: number): Promise<void>;
}

/**
 * A fresh key and reserved ports for a kernel, in a 0600 connection file in a private folder
 * (owned by runAs when given). `cleanup` removes the folder and releases the ports. `alsoIn`:
 * names of other files the kernel's start writes into the folder (e.g. a forked kernel's stderr),
 * removed one by one with it (a folder that is not empty then costs a failed rmdir and a walk).
 */
export async function createConnectionFile(
  spec: KernelSpec,
  runAs?: RunAs,
  ports?: ReserveOptions,
  alsoIn: string[] = [],
): Promise<{ id: string; connection: ConnectionInfo; connectionFile: string; dir: string; cleanup: () => Promise<void>; handOver: (pid: number) => Promise<void> }> {
  const id = randomUUID();
  const reservation = await reservePorts(5, ports);
  const [shell, iopub, stdin, control, hb] = reservation.ports;
  const connection: ConnectionInfo = {
    shell_port: shell!,
    iopub_port: iopub!,
    stdin_port: stdin!,
    control_port: control!,
    hb_port: hb!,
    ip: '127.0.0.1',
    key: randomBytes(32).toString('hex'),
    transport: 'tcp',
    signature_scheme: 'hmac-sha256',
    kernel_name: spec.name,
  };
  let dir: string | undefined;
  let connectionFile: string | undefined;
  const removeDir = () => (dir ? removeConnectionDir(dir, [...(connectionFile ? [connectionFile] : []), ...alsoIn.map((n) => join(dir!, n))]) : Promise.resolve());
  const cleanup = async () => {
    reservation.release();
    await removeDir();
  };
  const handOver = async (pid: number) => {
    reservation.handOver(pid);
    await removeDir();
  };
  try {
    // Synchronous: a few small calls in the system temp folder cost less than a trip to libuv's
    // thread pool and back each (two thread switches apiece, dear on a virtual machine).
    dir = mkdtempSync(join(tmpdir(), 'hubmill-kernel-'));
    connectionFile = join(dir, `kernel-${id}.json`);
    writeFileSync(connectionFile, JSON.stringify(connection), { mode: 0o600 });
    if (runAs) {
      chownSync(dir, runAs.uid, runAs.gid);
      chownSync(connectionFile, runAs.uid, runAs.gid);
    }
    return { id, connection, connectionFile, dir, cleanup, handOver };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Removes a connection file's folder: its known files and the empty folder, or, when something
 * else was left in it, the whole folder.
 */
async function removeConnectionDir(dir: string, files: string[]): Promise<void> {
  try {
    for (const f of files) {
      try {
        unlinkSync(f);
      } catch {
        // Not there (the kernel or a cleanup removed it).
      }
    }
    rmdirSync(dir);
  } catch {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The kernelspec's argv with its placeholders filled in. */
export function kernelArgv(spec: KernelSpec, connectionFile: string): string[] {
  return spec.argv.map((a) =>
    a.replaceAll('{connection_file}', connectionFile).replaceAll('{resource_dir}', spec.resource_dir).replaceAll('{prefix}', '/usr'),
  );
}

/**
 * What a kernel inherits of the service's own environment: everything but the service's settings and credentials.
 * HUBMILL_* holds the API token, the cookie secret, the secret key, the database and SMTP URLs (with passwords);
 * JUPYTERHUB_API_TOKEN / JPY_API_TOKEN are hubmill's own hub service token. A notebook must read none of them
 * (a user's notebook could act as the service). The fork server's own switches (HUBMILL_FORKSERVER_*) pass: the
 * server reads and removes them before any kernel starts.
 */
export function inheritedEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (k.startsWith('HUBMILL_') && !k.startsWith('HUBMILL_FORKSERVER_')) continue;
    if (SERVICE_CREDENTIALS.has(k)) continue;
    out[k] = v;
  }
  return out;
}

const SERVICE_CREDENTIALS = new Set(['JUPYTERHUB_API_TOKEN', 'JPY_API_TOKEN', 'JUPYTERHUB_OAUTH_CLIENT_SECRET', 'PGPASSWORD']);

/** A kernel's environment: the service's (without its settings and credentials), the kernelspec's, the job's, and ours on top. */
export function kernelEnv(spec: KernelSpec, opts: LaunchOptions, parentPid = process.pid): Record<string, string> {
  const env: Record<string, string> = {
    ...inheritedEnv(),
    ...spec.env,
    ...opts.env,
    ...(opts.parentPoller === false ? {} : { JPY_PARENT_PID: String(parentPid) }),
    // No pager or colour surprises in captured tracebacks; kernels still add ANSI codes, which we strip where shown.
    PAGER: 'cat',
  };
  if (opts.runAs) {
    env.HOME = opts.runAs.home;
    env.USER = opts.runAs.username;
    env.LOGNAME = opts.runAs.username;
  }
  return env;
}

export async function launchKernelProcess(spec: KernelSpec, opts: LaunchOptions = {}): Promise<LaunchedKernel> {
  const { id, connection, connectionFile, cleanup, handOver } = await createConnectionFile(spec, opts.runAs, opts.ports);
  const argv = kernelArgv(spec, connectionFile);
  const env = kernelEnv(spec, opts);
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd,
      env,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      uid: opts.runAs?.uid,
      gid: opts.runAs?.gid,
    });
  } catch (err) {
    await cleanup();
    throw new KernelStartError(`Could not start kernel '${spec.name}': ${(err as Error).message}`, { cause: err });
  }
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => {
      void cleanup();
      reject(new KernelStartError(`Could not start kernel '${spec.name}' (${argv[0]}): ${err.message}`, { cause: err }));
    });
  });
  if (child.pid) watchProcessGroup(child.pid);
  return { id, child, connection, connectionFile, cleanup, handOver };
}
