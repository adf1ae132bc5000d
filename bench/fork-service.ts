/**
 * The service with and without the fork server (issue 11), each as its own
 * `hubmill serve` process (dist/) with default settings except the switch:
 *   - warm latency: trivial notebooks through POST /api/v1/jobs?wait=true,
 *     sent at a fixed rate (default 5 per second) whatever the answers, each
 *     timed from send to answer;
 *   - throughput: N trivial notebooks submitted at once (default 200).
 * Run: `node --import tsx bench/fork-service.ts`; the last stdout line is the
 * JSON result. Environment: BENCH_FORK_RATE (req/s, 5), BENCH_FORK_LATENCY_N
 * (50), BENCH_FORK_THROUGHPUT_N (200).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { request } from './lib/http.js';
import { writeNotebooks } from './lib/notebooks.js';
import { benchServeEnv } from './lib/serve-env.js';
import { killTree } from './lib/proctree.js';
import { median, percentile, sleep } from './lib/stats.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const envNum = (name: string, dflt: number) => (Number.isFinite(Number(process.env[name])) && process.env[name] ? Number(process.env[name]) : dflt);
const RATE = envNum('BENCH_FORK_RATE', 5);
const LATENCY_N = envNum('BENCH_FORK_LATENCY_N', 50);
const THROUGHPUT_N = envNum('BENCH_FORK_THROUGHPUT_N', 200);
const log = (s: string) => process.stderr.write(`${s}\n`);

/** Binds port 0 and hands the port over; the service retries nothing, so we retry the whole start on EADDRINUSE. */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

interface Service {
  base: string;
  auth: Record<string, string>;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startService(work: string, env: Record<string, string>): Promise<Service> {
  const home = join(work, 'homes', 'bench');
  mkdirSync(home, { recursive: true });
  const nbs = writeNotebooks(join(work, 'homes'));
  copyFileSync(nbs.trivial, join(home, 'trivial.ipynb'));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const token = randomBytes(16).toString('hex');
    const child = spawn(process.execPath, ['--max-semi-space-size=2', join(root, 'dist/cli/index.js'), 'serve', '--port', String(port)], {
      cwd: work,
      env: { ...process.env, ...env, ...benchServeEnv(work, token) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    let exited = false;
    child.once('exit', () => (exited = true));
    const base = `http://127.0.0.1:${port}`;
    const stop = async () => {
      if (!exited) child.kill('SIGTERM');
      const end = performance.now() + 15_000;
      while (!exited && performance.now() < end) await sleep(50);
      if (!exited && child.pid) killTree(child.pid);
    };
    const end = performance.now() + 120_000;
    while (performance.now() < end && !exited) {
      try {
        const h = await request(`${base}/health`, { timeoutMs: 5000 });
        const pool = ((h.json as { pool?: Record<string, { idle: number; target: number }> } | null)?.pool ?? {}).python3;
        if (h.status === 200 && pool && pool.idle >= pool.target) return { base, auth: { authorization: `token ${token}` }, child, stop };
      } catch {
        // not up yet
      }
      await sleep(100);
    }
    await stop();
    if (attempt < 3 && /EADDRINUSE/.test(stderr)) continue;
    throw new Error(`hubmill serve did not get ready: ${stderr.slice(-500)}`);
  }
}

async function submit(svc: Service, agent: http.Agent): Promise<{ ms: number; ok: boolean; problem?: string }> {
  const s = performance.now();
  try {
    const r = await request(`${svc.base}/api/v1/jobs?wait=true`, { method: 'POST', agent, headers: svc.auth, body: { notebook: 'trivial.ipynb', username: 'bench' }, timeoutMs: 120_000 });
    let job = r.json as { id?: string; status?: string } | null;
    while (r.status === 202 && job?.id && !['succeeded', 'failed', 'cancelled', 'timed_out'].includes(job.status ?? '')) {
      await sleep(20);
      job = (await request(`${svc.base}/api/v1/jobs/${job.id}`, { agent, headers: svc.auth })).json as typeof job;
    }
    const ok = job?.status === 'succeeded';
    return { ms: performance.now() - s, ok, ...(ok ? {} : { problem: `HTTP ${r.status}: ${r.body.slice(0, 200)}` }) };
  } catch (e) {
    return { ms: performance.now() - s, ok: false, problem: (e as Error).message };
  }
}

const problems = (rs: Array<{ problem?: string }>): string[] => [...new Set(rs.flatMap((r) => (r.problem ? [r.problem] : [])))].slice(0, 5);

async function measure(label: string, env: Record<string, string>) {
  const work = mkdtempSync(join(tmpdir(), 'hubmill-forksvc-'));
  const svc = await startService(work, env);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  try {
    // Warm-up: the first requests compile the routes and the job path (V8 optimizes after a few runs), a cost
    // a long-running service does not pay per job; a few of them, so the paced requests measure the steady state.
    for (let i = 0; i < 5; i++) await submit(svc, agent);
    await sleep(1000);
    // Paced: one request every 1/RATE s, whatever the answers.
    const pending: Promise<{ ms: number; ok: boolean; problem?: string }>[] = [];
    const t0 = performance.now();
    for (let i = 0; i < LATENCY_N; i++) {
      const due = t0 + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      pending.push(submit(svc, agent));
    }
    const lat = await Promise.all(pending);
    const okLat = lat.filter((r) => r.ok).map((r) => r.ms);
    log(`  ${label}: latency at ${RATE}/s median ${median(okLat).toFixed(1)} ms, p90 ${percentile(okLat, 90).toFixed(1)} ms (${okLat.length}/${LATENCY_N} ok)`);
    await sleep(2000);
    const s = performance.now();
    const all = await Promise.all(Array.from({ length: THROUGHPUT_N }, () => submit(svc, agent)));
    const elapsedMs = performance.now() - s;
    const ok = all.filter((r) => r.ok).length;
    log(`  ${label}: throughput ${ok}/${THROUGHPUT_N} in ${elapsedMs.toFixed(0)} ms = ${(ok / (elapsedMs / 1000)).toFixed(2)}/s`);
    return {
      latency: { rate: RATE, n: LATENCY_N, ok: okLat.length, medianMs: median(okLat), p90Ms: percentile(okLat, 90), samplesMs: okLat.map((x) => Math.round(x * 10) / 10), failures: problems(lat) },
      throughput: { n: THROUGHPUT_N, ok, elapsedMs, perSecond: ok / (elapsedMs / 1000), failures: problems(all) },
    };
  } finally {
    agent.destroy();
    await svc.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

const fork = await measure('fork server', {});
const noFork = await measure('no fork server', { HUBMILL_FORK_SERVER: 'false' });
process.stdout.write(`${JSON.stringify({ fork, noFork })}\n`);
process.exit(0);
