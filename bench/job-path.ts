/**
 * The per-job service path, A/B: `hubmill serve` built into two folders (e.g.
 * `dist-base` and `dist`) is started in turn, with default settings (fork server,
 * pool python3:2), and each round sends N trivial notebooks through
 * `POST /api/v1/jobs?wait=true` at a fixed rate. Per round and variant it reports
 * the client latency (median, p90), the job's own record (created → started →
 * finished, from the store's millisecond times), and the CPU time per job of the
 * service process and of its whole tree (fork server and its reaped kernels
 * included), read from /proc: CPU time is far steadier than wall time on a
 * shared machine.
 *
 * Run: `node --import tsx bench/job-path.ts DIST_A [DIST_B ...]`; environment:
 * BENCH_PATH_ROUNDS (3), BENCH_PATH_N (40), BENCH_PATH_RATE (5 req/s; 0: one job at a time, 100 ms apart,
 * which keeps a loaded machine's backlog out of the CPU per job),
 * BENCH_PATH_NODE_FLAGS (extra node flags, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
 * The last stdout line is the JSON of every round.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from './lib/http.js';
import { paced, startBenchServe, type BenchServe } from './lib/serve-child.js';
import { treeCpu } from './lib/cpu.js';
import { median, percentile, sleep } from './lib/stats.js';

const envNum = (name: string, dflt: number) => (process.env[name] && Number.isFinite(Number(process.env[name])) ? Number(process.env[name]) : dflt);
const ROUNDS = envNum('BENCH_PATH_ROUNDS', 3);
const N = envNum('BENCH_PATH_N', 40);
const RATE = envNum('BENCH_PATH_RATE', 5);
const NODE_FLAGS = (process.env.BENCH_PATH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Sample {
  ms: number;
  ok: boolean;
  queueMs?: number;
  runMs?: number;
}

async function submit(svc: BenchServe, agent: http.Agent): Promise<Sample> {
  const s = performance.now();
  const r = await request(`${svc.base}/api/v1/jobs?wait=true`, { method: 'POST', agent, headers: svc.auth, body: { notebook: 'trivial.ipynb', username: 'bench' }, timeoutMs: 60_000 });
  const ms = performance.now() - s;
  const j = r.json as { status?: string; created_at?: string; started_at?: string; finished_at?: string } | null;
  if (r.status !== 200 || j?.status !== 'succeeded') return { ms, ok: false };
  const t = (x?: string) => (x ? Date.parse(x) : NaN);
  return { ms, ok: true, queueMs: t(j.started_at) - t(j.created_at), runMs: t(j.finished_at) - t(j.started_at) };
}

async function round(dist: string) {
  const work = mkdtempSync(join(tmpdir(), 'hubmill-path-'));
  const svc = await startBenchServe(dist, work, { nodeFlags: NODE_FLAGS, readyMs: 60_000 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  try {
    for (let i = 0; i < 3; i++) await submit(svc, agent); // warm-up (route compile, JIT)
    await sleep(500);
    const load = loadavg()[0]!;
    const c0 = treeCpu(svc.child.pid!);
    let samples: Sample[];
    if (RATE > 0) samples = await paced(N, RATE, () => submit(svc, agent));
    else {
      // Sequential: each job alone, so its CPU is its own (a backlog adds polling work per job).
      samples = [];
      for (let i = 0; i < N; i++) {
        samples.push(await submit(svc, agent));
        await sleep(100);
      }
    }
    // Let the last kernels shut down and the pool refill, so each job's whole cost is in the window.
    await sleep(1500);
    const c1 = treeCpu(svc.child.pid!);
    const ok = samples.filter((x) => x.ok);
    const lat = ok.map((x) => x.ms);
    return {
      dist,
      load,
      ok: ok.length,
      n: N,
      medianMs: median(lat),
      p90Ms: percentile(lat, 90),
      minMs: Math.min(...lat),
      queueMedianMs: median(ok.map((x) => x.queueMs!)),
      runMedianMs: median(ok.map((x) => x.runMs!)),
      serviceCpuMsPerJob: (c1.service - c0.service) / N,
      treeCpuMsPerJob: (c1.tree - c0.tree) / N,
      kernelsCpuMsPerJob: (c1.kernels - c0.kernels) / N,
      forkServerCpuMsPerJob: (c1.forkServer - c0.forkServer) / N,
      otherCpuMsPerJob: (c1.other - c0.other) / N,
    };
  } finally {
    agent.destroy();
    await svc.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

const dists = process.argv.slice(2).map((d) => resolve(d));
if (dists.length === 0) {
  log('usage: node --import tsx bench/job-path.ts DIST_A [DIST_B ...]');
  process.exit(2);
}
const all: Awaited<ReturnType<typeof round>>[] = [];
for (let r = 0; r < ROUNDS; r++) {
  // Rotate the order so no variant always goes first.
  const order = dists.map((_, i) => dists[(i + r) % dists.length]!);
  for (const d of order) {
    const x = await round(d);
    all.push(x);
    log(
      `round ${r + 1} ${d.split('/').pop()}: load ${x.load.toFixed(2)} | ${x.ok}/${x.n} ok | latency median ${x.medianMs.toFixed(1)} p90 ${x.p90Ms.toFixed(1)} min ${x.minMs.toFixed(1)} ms | ` +
        `queue ${x.queueMedianMs} run ${x.runMedianMs} ms | CPU/job service ${x.serviceCpuMsPerJob.toFixed(1)} tree ${x.treeCpuMsPerJob.toFixed(1)} ` +
        `(kernels ${x.kernelsCpuMsPerJob.toFixed(1)}, fork server ${x.forkServerCpuMsPerJob.toFixed(1)}, other ${x.otherCpuMsPerJob.toFixed(1)}) ms`,
    );
  }
}
for (const d of dists) {
  const xs = all.filter((x) => x.dist === d);
  log(
    `${d.split('/').pop()}: median of rounds: latency ${median(xs.map((x) => x.medianMs)).toFixed(1)} ms (p90 ${median(xs.map((x) => x.p90Ms)).toFixed(1)}), ` +
      `CPU/job service ${median(xs.map((x) => x.serviceCpuMsPerJob)).toFixed(1)} ms, tree ${median(xs.map((x) => x.treeCpuMsPerJob)).toFixed(1)} ms ` +
      `(kernels ${median(xs.map((x) => x.kernelsCpuMsPerJob)).toFixed(1)}, other ${median(xs.map((x) => x.otherCpuMsPerJob)).toFixed(1)})`,
  );
}
process.stdout.write(`${JSON.stringify(all)}\n`);
process.exit(0);
