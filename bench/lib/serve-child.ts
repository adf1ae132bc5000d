/**
 * One measured `hubmill serve` of the bench (a built dist/), as npm start runs it
 * (a small V8 young generation), on a port the kernel picks (`--port 0`, found in
 * its banner), answered once its kernel pools are full; and the paced-request
 * loop that drives it: one request every 1/rate s, whatever the answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from './http.js';
import { writeNotebooks } from './notebooks.js';
import { waitForServeUrl } from './serve-banner.js';
import { benchServeEnv } from './serve-env.js';
import { killTree } from './proctree.js';
import { sleep } from './stats.js';

export interface BenchServe {
  /** http://127.0.0.1:PORT */
  base: string;
  auth: Record<string, string>;
  child: ChildProcess;
  /** The bench user's home, with `trivial.ipynb` in it. */
  home: string;
  /** SIGTERM, then SIGKILL of its tree after `stopGraceMs`. */
  stop(): Promise<void>;
}

/** Whether every kernel pool of the service at `base` is full (nothing starting). */
export async function poolsFull(base: string): Promise<boolean> {
  const h = await request(`${base}/health`, { timeoutMs: 5000 });
  const pools = Object.values(((h.json as { pool?: Record<string, { idle: number; target: number; starting: number }> } | null)?.pool ?? {}));
  return h.status === 200 && pools.length > 0 && pools.every((p) => p.idle >= p.target && p.starting === 0);
}

/** Starts `<dist>/cli/index.js serve` in `work` (homes and data under it, user `bench`) and waits until its pools are full. */
export async function startBenchServe(
  dist: string,
  work: string,
  o: { env?: Record<string, string>; nodeFlags?: string[]; readyMs?: number; stopGraceMs?: number } = {},
): Promise<BenchServe> {
  const home = join(work, 'homes', 'bench');
  mkdirSync(home, { recursive: true });
  copyFileSync(writeNotebooks(work).trivial, join(home, 'trivial.ipynb'));
  const token = randomBytes(16).toString('hex');
  const child = spawn(process.execPath, ['--max-semi-space-size=2', ...(o.nodeFlags ?? []), join(dist, 'cli/index.js'), 'serve', '--host', '127.0.0.1', '--port', '0'], {
    cwd: work,
    env: { ...process.env, ...o.env, ...benchServeEnv(work, token) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const stop = async () => {
    if (!gone()) child.kill('SIGTERM');
    const end = performance.now() + (o.stopGraceMs ?? 20_000);
    while (!gone() && performance.now() < end) await sleep(50);
    if (!gone() && child.pid) killTree(child.pid);
  };
  const readyMs = o.readyMs ?? 120_000;
  const end = performance.now() + readyMs;
  try {
    const base = await waitForServeUrl(child, readyMs);
    while (performance.now() < end && !gone()) {
      if (await poolsFull(base).catch(() => false)) return { base, auth: { authorization: `token ${token}` }, child, home, stop };
      await sleep(100);
    }
    throw new Error(gone() ? `serve (${dist}) exited before its pools were full` : `the pools of serve (${dist}) were not full within ${readyMs} ms`);
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Calls `send` `n` times, the i-th at i/rate s from now (not waiting for answers); answers every result in order. */
export async function paced<T>(n: number, ratePerS: number, send: (i: number) => Promise<T>): Promise<T[]> {
  const pending: Promise<T>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / ratePerS - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(send(i));
  }
  return Promise.all(pending);
}
