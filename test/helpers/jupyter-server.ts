/**
 * A real Jupyter Server for tests (Debian's python3-jupyter-server), acting as
 * a kernel gateway: started with a random token on port 0 (the kernel picks a
 * free port at bind time, so nothing can take it first); Jupyter Server 1.x
 * prints port 0 in its banner, so the bound port is read from /proc (the
 * listening socket among the process's file descriptors). The server process
 * (and only it) has `HUBMILL_GATEWAY_MARK=<random>` in its environment, so a
 * kernel can prove it ran there. `stop()` sends SIGTERM, waits (bounded), then
 * kills the server's process group and every kernel it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call } from './http.js';

const PYTHON = '/usr/bin/python3';

export const hasJupyterServer = existsSync('/usr/lib/python3/dist-packages/jupyter_server') && existsSync('/usr/share/jupyter/kernels/python3/kernel.json');

export interface JupyterServer {
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  token: string;
  pid: number;
  /** The value of HUBMILL_GATEWAY_MARK in the server's environment. */
  mark: string;
  /** The server's root_dir. */
  rootDir: string;
  logTail(lines?: number): string;
  /** Calls the server's REST API with its token (or `token`). */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Pids of the server's child processes (its kernels). */
  children(): number[];
  stop(): Promise<void>;
}

/** Socket inodes the process holds open. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // Closed meanwhile.
    }
  }
  return out;
}

/** The TCP port the process listens on, or null yet. */
export function listeningPort(pid: number): number | null {
  const inodes = socketInodes(pid);
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is "IP:PORT" in hex; st 0A is LISTEN; field 9 is the inode.
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9]!)) return parseInt(f[1]!.split(':')[1]!, 16);
    }
  }
  return null;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // Gone.
    }
  }
  return out;
}

function kill(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // Gone.
  }
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export async function startJupyterServer(opts: { rootDir?: string; token?: string; startTimeoutMs?: number } = {}): Promise<JupyterServer> {
  const dir = await mkdtemp(join(tmpdir(), 'hubmill-jserver-'));
  const rootDir = opts.rootDir ?? join(dir, 'root');
  await mkdir(rootDir, { recursive: true });
  await mkdir(join(dir, 'config'), { recursive: true });
  const token = opts.token ?? randomBytes(16).toString('hex');
  const mark = randomBytes(8).toString('hex');
  const logFile = join(dir, 'server.log');
  const log = createWriteStream(logFile);
  await new Promise((r) => log.once('open', r));
  const args = [
    '-m',
    'jupyter_server',
    `--ServerApp.token=${token}`,
    '--ServerApp.ip=127.0.0.1',
    '--ServerApp.port=0',
    '--ServerApp.port_retries=0',
    '--ServerApp.open_browser=False',
    `--ServerApp.root_dir=${rootDir}`,
    ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
  ];
  const child = spawn(PYTHON, args, {
    cwd: dir,
    detached: true,
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      HUBMILL_GATEWAY_MARK: mark,
      JUPYTER_RUNTIME_DIR: join(dir, 'runtime'),
      JUPYTER_CONFIG_DIR: join(dir, 'config'),
    },
  });
  const pid = child.pid!;
  const logTail = (lines = 30) => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  let stopped: Promise<void> | null = null;
  const known = new Set<number>();
  const children = () => {
    const now = childrenOf(pid);
    for (const p of now) known.add(p);
    return now;
  };
  const stop = () =>
    (stopped ??= (async () => {
      children();
      kill(pid, 'SIGTERM');
      if (!(await exited(child, 10_000))) kill(-pid, 'SIGKILL');
      await exited(child, 5000);
      // Kernels run in sessions of their own: whatever outlived the server goes now.
      for (const k of known) kill(k, 'SIGKILL');
      log.end();
      await rm(dir, { recursive: true, force: true });
    })());

  const api = async (method: string, path: string, body?: unknown, tok = token) => {
    const r = await call(url, method, path, tok, body, {}, 10_000);
    return { status: r.status, body: r.body };
  };

  let url = '';
  try {
    const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`jupyter server exited (${child.exitCode ?? child.signalCode}):\n${logTail()}`);
      if (Date.now() > deadline) throw new Error(`jupyter server did not answer in time:\n${logTail()}`);
      const port = url ? null : listeningPort(pid);
      if (port) url = `http://127.0.0.1:${port}`;
      if (url) {
        const r = await api('GET', '/api/kernelspecs').catch(() => null);
        if (r?.status === 200) break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, token, pid, mark, rootDir, logTail, api, children, stop };
}
