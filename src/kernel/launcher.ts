/**
 * Starts a kernel process from a kernelspec: fresh ports and key, a 0600 connection
 * file, its own process group (so signals reach its children), JPY_PARENT_PID so
 * ipykernel exits with us, and a watchdog for every other kernel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelStartError } from '../errors.js';
import type { KernelSpec } from './kernelspecs.js';
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
}

export interface LaunchedKernel {
  id: string;
  child: ChildProcess;
  connection: ConnectionInfo;
  connectionFile: string;
  /** Removes the connection file and its folder. */
  cleanup(): Promise<void>;
}

/** Reserves n distinct free TCP ports on 127.0.0.1 (held together, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<import('node:net').Server>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(s));
      }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export async function launchKernelProcess(spec: KernelSpec, opts: LaunchOptions = {}): Promise<LaunchedKernel> {
  const id = randomUUID();
  const [shell, iopub, stdin, control, hb] = await freePorts(5);
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
  const dir = await mkdtemp(join(tmpdir(), 'hubmill-kernel-'));
  const connectionFile = join(dir, `kernel-${id}.json`);
  await writeFile(connectionFile, JSON.stringify(connection), { mode: 0o600 });
  if (opts.runAs) {
    await chown(dir, opts.runAs.uid, opts.runAs.gid);
    await chown(connectionFile, opts.runAs.uid, opts.runAs.gid);
  }
  const cleanup = () => rm(dir, { recursive: true, force: true });

  const argv = spec.argv.map((a) =>
    a.replaceAll('{connection_file}', connectionFile).replaceAll('{resource_dir}', spec.resource_dir).replaceAll('{prefix}', '/usr'),
  );
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...spec.env,
    ...opts.env,
    JPY_PARENT_PID: String(process.pid),
    // No pager or colour surprises in captured tracebacks; kernels still add ANSI codes, which we strip where shown.
    PAGER: 'cat',
  };
  if (opts.runAs) {
    env.HOME = opts.runAs.home;
    env.USER = opts.runAs.username;
    env.LOGNAME = opts.runAs.username;
  }
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
  return { id, child, connection, connectionFile, cleanup };
}
