/**
 * The service with and without the fork server (issue 11), each as its own
 * `hubmill serve` process (dist/) with default settings except the switch:
 *   - warm latency: trivial notebooks through POST /api/v1/jobs?wait=true,
 *     sent at a fixed rate (default 5 per second) whatever the answers, each
 *     timed from send to answer;
 *   - the same job one at a time, 1 s apart (BENCH_FORK_SEQ_N, default 10): the
 *     peer of the paced figures (issue 19: no queueing at 5/s);
 *   - throughput: N trivial notebooks submitted at once (default 200).
 * Run: `node --import tsx bench/fork-service.ts`; the last stdout line is the
 * JSON result. Environment: BENCH_FORK_RATE (req/s, 5), BENCH_FORK_LATENCY_N
 * (50), BENCH_FORK_THROUGHPUT_N (200), BENCH_FORK_NOFORK_N (40: the paced and
 * simultaneous jobs of the run without the fork server, which only gives context).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { request } from './lib/http.js';
import { paced, startBenchServe, type BenchServe } from './lib/serve-child.js';
import { median, percentile, sleep } from './lib/stats.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const envNum = (name: string, dflt: number) => (Number.isFinite(Number(process.env[name])) && process.env[name] ? Number(process.env[name]) : dflt);
const RATE = envNum('BENCH_FORK_RATE', 5);
const LATENCY_N = envNum('BENCH_FORK_LATENCY_N', 50);
const THROUGHPUT_N = envNum('BENCH_FORK_THROUGHPUT_N', 200);
const SEQ_N = envNum('BENCH_FORK_SEQ_N', 10);
// Without the fork server every job launches a kernel (~0.5-2 s of CPU on a 2-core machine): the comparison runs fewer jobs.
const NOFORK_N = envNum('BENCH_FORK_NOFORK_N', 40);
const log = (s: string) => process.stderr.write(`${s}\n`);

async function submit(svc: BenchServe, agent: http.Agent): Promise<{ ms: number; ok: boolean; problem?: string }> {
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

async function measure(label: string, env: Record<string, string>, latencyN: number, throughputN: number, seqN: number) {
  const work = mkdtempSync(join(tmpdir(), 'hubmill-forksvc-'));
  const svc = await startBenchServe(join(root, 'dist'), work, { env, stopGraceMs: 15_000 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  try {
    // Warm-up: the first requests compile the routes and the job path (V8 optimizes after a few runs), a cost
    // a long-running service does not pay per job; a few of them, so the paced requests measure the steady state.
    for (let i = 0; i < 5; i++) await submit(svc, agent);
    await sleep(1000);
    // One at a time, 1 s apart: what a job costs when nothing else runs.
    const seq: Awaited<ReturnType<typeof submit>>[] = [];
    for (let i = 0; i < seqN; i++) {
      seq.push(await submit(svc, agent));
      await sleep(1000);
    }
    const okSeq = seq.filter((r) => r.ok).map((r) => r.ms);
    log(`  ${label}: one at a time, 1 s apart: median ${median(okSeq).toFixed(1)} ms (${okSeq.length}/${seqN} ok)`);
    // Paced: one request every 1/RATE s, whatever the answers.
    const lat = await paced(latencyN, RATE, () => submit(svc, agent));
    const okLat = lat.filter((r) => r.ok).map((r) => r.ms);
    log(`  ${label}: latency at ${RATE}/s median ${median(okLat).toFixed(1)} ms, p90 ${percentile(okLat, 90).toFixed(1)} ms (${okLat.length}/${latencyN} ok)`);
    await sleep(2000);
    const s = performance.now();
    const all = await Promise.all(Array.from({ length: throughputN }, () => submit(svc, agent)));
    const elapsedMs = performance.now() - s;
    const ok = all.filter((r) => r.ok).length;
    log(`  ${label}: throughput ${ok}/${throughputN} in ${elapsedMs.toFixed(0)} ms = ${(ok / (elapsedMs / 1000)).toFixed(2)}/s`);
    return {
      latency: { rate: RATE, n: latencyN, ok: okLat.length, medianMs: median(okLat), p90Ms: percentile(okLat, 90), samplesMs: okLat.map((x) => Math.round(x * 10) / 10), failures: problems(lat) },
      sequential: { n: seqN, ok: okSeq.length, medianMs: median(okSeq), samplesMs: okSeq.map((x) => Math.round(x * 10) / 10) },
      throughput: { n: throughputN, ok, elapsedMs, perSecond: ok / (elapsedMs / 1000), failures: problems(all) },
    };
  } finally {
    agent.destroy();
    await svc.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

const fork = await measure('fork server', {}, LATENCY_N, THROUGHPUT_N, SEQ_N);
const noFork = await measure('no fork server', { HUBMILL_FORK_SERVER: 'false' }, Math.min(LATENCY_N, NOFORK_N), Math.min(THROUGHPUT_N, NOFORK_N), Math.min(SEQ_N, 5));
process.stdout.write(`${JSON.stringify({ fork, noFork })}\n`);
process.exit(0);
