/**
 * Service benchmarks (issue 3), against `hubmill serve` started as its own
 * process on 127.0.0.1 with a warm python3 pool of 2:
 *   - latency of a trivial notebook through POST /api/v1/jobs?wait=true, one
 *     request at a time, each started once the pool is full again;
 *   - sustained throughput: N trivial notebooks submitted at once;
 *   - requests/s on GET /health (keep-alive loops);
 *   - idle RSS of the service process (kernels excluded) and of its tree
 *     (kernels included), after start with the pool warm, and again at the end.
 * Each section runs only when the service answers GET /health with 200 within
 * 30 s; otherwise the reason is reported.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, openSync, closeSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from './lib/http.js';
import { hwmKb, killTree, rssKb, treePids, treeRssKb } from './lib/proctree.js';
import { median, percentile, sleep } from './lib/stats.js';

export interface ServiceResults {
  measured: boolean;
  reason?: string;
  startToHealthyMs?: number;
  startToPoolWarmMs?: number;
  poolSize: number;
  concurrency: number | null;
  logLevel: string;
  idle?: { serviceRssKb: number; treeRssKb: number; descendants: number };
  idleAfter?: { serviceRssKb: number; treeRssKb: number; descendants: number; serviceHwmKb: number };
  latency?: {
    n: number;
    ok: number;
    medianMs: number;
    p90Ms: number;
    minMs: number;
    maxMs: number;
    medianServerDurationMs: number | null;
    warmBeforeEach: number;
    samplesMs: number[];
    failures: string[];
  };
  throughput?: { n: number; ok: number; elapsedMs: number; perSecond: number; failures: string[] };
  health?: { durationMs: number; connections: number; ok: number; non200: number; errors: number; perSecond: number; medianLatencyMs: number };
  sectionErrors: Record<string, string>;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

interface PoolState {
  idle: number;
  starting: number;
  target: number;
}

export async function benchService(opts: {
  root: string;
  workDir: string;
  trivialNotebook: string;
  env: NodeJS.ProcessEnv;
  latencyN: number;
  throughputN: number;
  healthSeconds: number;
  log: (s: string) => void;
}): Promise<ServiceResults> {
  const poolSize = 2;
  const logLevel = opts.env.BENCH_SERVICE_LOG_LEVEL ?? 'info';
  const out: ServiceResults = { measured: false, poolSize, concurrency: null, logLevel, sectionErrors: {} };
  const serverJs = join(opts.root, 'dist/server.js');
  const configJs = join(opts.root, 'dist/config.js');
  if (!existsSync(serverJs) || !existsSync(configJs)) {
    out.reason = `the service is not built (${existsSync(serverJs) ? '' : 'dist/server.js '}${existsSync(configJs) ? '' : 'dist/config.js '}missing)`;
    return out;
  }
  const homeRoot = join(opts.workDir, 'homes');
  const home = join(homeRoot, 'bench');
  mkdirSync(home, { recursive: true });
  copyFileSync(opts.trivialNotebook, join(home, 'trivial.ipynb'));
  const dataDir = join(opts.workDir, 'service-data');
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(16).toString('hex');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const logPath = join(opts.workDir, 'service.log');
  const logFd = openSync(logPath, 'w');
  const t0 = performance.now();
  let child: ChildProcess;
  try {
    // As npm start and deploy/ run it: a small V8 young generation keeps the idle service lean.
    child = spawn(process.execPath, ['--max-semi-space-size=2', join(opts.root, 'dist/cli/index.js'), 'serve', '--host', '127.0.0.1', '--port', String(port)], {
      cwd: opts.workDir,
      env: {
        ...opts.env,
        HUBMILL_API_TOKEN: token,
        HUBMILL_HOME_TEMPLATE: join(homeRoot, '{username}'),
        HUBMILL_DATA_DIR: dataDir,
        HUBMILL_POOL: `python3:${poolSize}`,
        HUBMILL_LOG_LEVEL: logLevel,
        // Rate limits off: the bench measures the service itself, not its 429s.
        HUBMILL_RATE_LIMIT_PER_MIN: '0',
        HUBMILL_RATE_LIMIT_IP_PER_MIN: '0',
      },
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }
  const logTail = () => {
    try {
      return readFileSync(logPath, 'utf8').trim().split('\n').slice(-5).join(' | ').slice(-800);
    } catch {
      return '';
    }
  };
  let exited: string | null = null;
  child.once('exit', (code, sig) => (exited = `exit ${code ?? sig}`));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const auth = { authorization: `token ${token}` };

  const health = async (): Promise<{ status: number; pool: PoolState | null; body: Record<string, unknown> | null }> => {
    const r = await request(`${base}/health`, { agent, timeoutMs: 5000 });
    const body = (r.json ?? null) as Record<string, unknown> | null;
    const pool = ((body?.pool as Record<string, PoolState> | undefined) ?? {}).python3 ?? null;
    return { status: r.status, pool, body };
  };
  const waitPoolFull = async (boundMs: number): Promise<boolean> => {
    const end = performance.now() + boundMs;
    while (performance.now() < end && !exited) {
      try {
        const h = await health();
        if (h.pool && h.pool.idle >= h.pool.target && h.pool.starting === 0 && h.pool.target > 0) return true;
      } catch {
        // retry
      }
      await sleep(50);
    }
    return false;
  };
  const idleSnapshot = () => {
    const pid = child.pid!;
    const pids = treePids(pid);
    return { serviceRssKb: rssKb(pid), treeRssKb: treeRssKb(pid), descendants: pids.length - 1 };
  };

  try {
    // 1. Up and healthy within 30 s.
    let healthy = false;
    let last = '';
    while (performance.now() - t0 < 30_000 && !exited) {
      try {
        const h = await health();
        last = `GET /health ${h.status}`;
        if (h.status === 200) {
          healthy = true;
          out.concurrency = typeof h.body?.concurrency === 'number' ? h.body.concurrency : null;
          break;
        }
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(100);
    }
    if (!healthy) {
      out.reason = exited
        ? `hubmill serve ${exited} before /health answered 200 (${logTail()})`
        : `GET /health did not return 200 within 30 s (last: ${last}; log: ${logTail()})`;
      return out;
    }
    out.startToHealthyMs = performance.now() - t0;
    if (!(await waitPoolFull(60_000))) {
      out.reason = `the python3 pool did not fill (${poolSize} idle kernels) within 60 s of start (log: ${logTail()})`;
      return out;
    }
    out.startToPoolWarmMs = performance.now() - t0;
    out.measured = true;
    await sleep(2000); // let start-up garbage settle
    out.idle = idleSnapshot();
    opts.log(`  service up in ${out.startToHealthyMs.toFixed(0)} ms, pool warm in ${out.startToPoolWarmMs.toFixed(0)} ms; idle RSS ${(out.idle.serviceRssKb / 1024).toFixed(0)} MB (tree ${(out.idle.treeRssKb / 1024).toFixed(0)} MB)`);

    const submit = async (): Promise<{ ms: number; ok: boolean; problem?: string; serverMs: number | null }> => {
      const s = performance.now();
      const r = await request(`${base}/api/v1/jobs?wait=true`, {
        method: 'POST',
        agent,
        headers: auth,
        body: { notebook: 'trivial.ipynb', username: 'bench' },
        timeoutMs: 90_000,
      });
      let job = r.json as { id?: string; status?: string; output_path?: string | null; duration_s?: number | null } | null;
      // The wait is bounded server-side (202 when it passes): poll until the job ends (bounded).
      const pollEnd = performance.now() + 60_000;
      while (r.status === 202 && job?.id && !['succeeded', 'failed', 'cancelled', 'timed_out'].includes(job.status ?? '') && performance.now() < pollEnd) {
        await sleep(20);
        job = (await request(`${base}/api/v1/jobs/${job.id}`, { agent, headers: auth })).json as typeof job;
      }
      const ms = performance.now() - s;
      if (r.status !== 200 && r.status !== 202) return { ms, ok: false, problem: `HTTP ${r.status}: ${r.body.slice(0, 300)}`, serverMs: null };
      if (job?.status !== 'succeeded') return { ms, ok: false, problem: `job ${job?.id} ${job?.status}`, serverMs: null };
      const outAbs = job.output_path ? resolve(home, job.output_path) : null;
      if (!outAbs || !existsSync(outAbs) || statSync(outAbs).size === 0) return { ms, ok: false, problem: `job ${job.id}: no output notebook (${job.output_path})`, serverMs: null };
      return { ms, ok: true, serverMs: typeof job.duration_s === 'number' ? job.duration_s * 1000 : null };
    };

    // 2. Latency, warm pool.
    try {
      await submit(); // warm-up: first request compiles routes, opens the store paths, etc.
      const samples: number[] = [];
      const server: number[] = [];
      const failures: string[] = [];
      let warm = 0;
      const end = performance.now() + 120_000;
      for (let i = 0; i < opts.latencyN && performance.now() < end; i++) {
        if (await waitPoolFull(20_000)) warm++;
        const r = await submit();
        if (r.ok) {
          samples.push(r.ms);
          if (r.serverMs !== null) server.push(r.serverMs);
        } else failures.push(r.problem ?? 'failed');
      }
      out.latency = {
        n: samples.length + failures.length,
        ok: samples.length,
        medianMs: median(samples),
        p90Ms: percentile(samples, 90),
        minMs: samples.length ? Math.min(...samples) : NaN,
        maxMs: samples.length ? Math.max(...samples) : NaN,
        medianServerDurationMs: server.length ? median(server) : null,
        warmBeforeEach: warm,
        samplesMs: samples,
        failures: failures.slice(0, 5),
      };
      opts.log(`  latency: median ${out.latency.medianMs.toFixed(1)} ms over ${samples.length} ok (${failures.length} failed)`);
    } catch (e) {
      out.sectionErrors.latency = (e as Error).message;
    }

    // 3. Throughput: N at once.
    try {
      await waitPoolFull(30_000);
      const s = performance.now();
      const results = await Promise.all(Array.from({ length: opts.throughputN }, () => submit().catch((e: Error) => ({ ms: 0, ok: false, problem: e.message, serverMs: null }))));
      const elapsedMs = performance.now() - s;
      const ok = results.filter((r) => r.ok).length;
      out.throughput = {
        n: opts.throughputN,
        ok,
        elapsedMs,
        perSecond: ok / (elapsedMs / 1000),
        failures: results.filter((r) => !r.ok).map((r) => r.problem ?? 'failed').slice(0, 5),
      };
      opts.log(`  throughput: ${ok}/${opts.throughputN} in ${elapsedMs.toFixed(0)} ms = ${out.throughput.perSecond.toFixed(2)} notebooks/s`);
    } catch (e) {
      out.sectionErrors.throughput = (e as Error).message;
    }

    // 4. GET /health requests per second (after the pool refilled, so kernel starts do not compete).
    try {
      await waitPoolFull(30_000);
      const connections = 8;
      const hAgent = new http.Agent({ keepAlive: true, maxSockets: connections });
      let ok = 0;
      let non200 = 0;
      let errors = 0;
      const lat: number[] = [];
      const s = performance.now();
      const stopAt = s + opts.healthSeconds * 1000;
      await Promise.all(
        Array.from({ length: connections }, async () => {
          while (performance.now() < stopAt && errors < 100) {
            const q = performance.now();
            try {
              const r = await request(`${base}/health`, { agent: hAgent, timeoutMs: 5000 });
              if (r.status === 200) ok++;
              else non200++;
              if (lat.length < 200_000) lat.push(performance.now() - q);
            } catch {
              errors++;
            }
          }
        }),
      );
      const durationMs = performance.now() - s;
      hAgent.destroy();
      out.health = { durationMs, connections, ok, non200, errors, perSecond: ok / (durationMs / 1000), medianLatencyMs: median(lat) };
      opts.log(`  /health: ${out.health.perSecond.toFixed(0)} req/s (${non200} non-200, ${errors} errors)`);
    } catch (e) {
      out.sectionErrors.health = (e as Error).message;
    }

    // 5. Idle again after all that work.
    await waitPoolFull(30_000);
    await sleep(2000);
    out.idleAfter = { ...idleSnapshot(), serviceHwmKb: hwmKb(child.pid!) };
    return out;
  } finally {
    agent.destroy();
    if (!exited && child.pid) {
      child.kill('SIGTERM');
      const end = performance.now() + 15_000;
      while (!exited && performance.now() < end) await sleep(50);
      if (!exited) killTree(child.pid);
    }
  }
}

/** The peer's throughput: N cold `jupyter nbconvert --execute` runs, `parallel` at a time. */
export async function peerThroughput(opts: {
  notebook: string;
  workDir: string;
  n: number;
  parallel: number;
  env: NodeJS.ProcessEnv;
  runOne: (i: number) => Promise<boolean>;
}): Promise<{ n: number; ok: number; parallel: number; elapsedMs: number; perSecond: number }> {
  let next = 0;
  let ok = 0;
  const s = performance.now();
  await Promise.all(
    Array.from({ length: opts.parallel }, async () => {
      while (next < opts.n) {
        const i = next++;
        if (await opts.runOne(i)) ok++;
      }
    }),
  );
  const elapsedMs = performance.now() - s;
  return { n: opts.n, ok, parallel: opts.parallel, elapsedMs, perSecond: ok / (elapsedMs / 1000) };
}
