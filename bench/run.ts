/**
 * `npm run bench`: measures hubmill and its peers in the same run and writes
 * bench/RESULTS.md and bench/results.json; the method is written into RESULTS.md
 * (report.ts, section Method).
 *
 * Environment: BENCH_RUNS (runs per tool and notebook, default 5),
 * BENCH_OVERHEAD_ROUNDS (default 7), BENCH_LATENCY_N (default 20),
 * BENCH_THROUGHPUT_N (default 40), BENCH_HEALTH_SECONDS (default 3),
 * BENCH_SKIP_SERVICE=1, BENCH_KEEP_TMP=1, BENCH_SERVICE_LOG_LEVEL (default info),
 * BENCH_SKIP_FORK=1, BENCH_FORK_ROUNDS (default 10) and those of bench/fork-service.ts,
 * BENCH_SKIP_WORKERS=1, BENCH_WORKERS_N (default 60), BENCH_WORKERS_ROUNDS (default 1),
 * BENCH_WORKERS_CONCURRENCY (runs per worker node, default 1),
 * BENCH_SKIP_STORE=1, BENCH_STORE_N (default 500), BENCH_DATABASE_URL (default the local PostgreSQL, database test),
 * BENCH_BASELINE (a checkout of an earlier commit with dist/ built: its service section against this build's, bench/ab-service.ts)
 * with BENCH_BASELINE_ROUNDS (default 3),
 * BENCH_SKIP_MILLION=1 (keeps the section of the earlier bench/results.json, which names its own date), BENCH_MILLION_N (default 1,000,000: the store with a long history, bench/million.ts).
 * BENCH_SKIP_PIPELINES=1 (keeps the earlier section, as BENCH_SKIP_MILLION), BENCH_PIPELINE_ITEMS (200), BENCH_PIPELINE_ROUNDS (2), BENCH_PIPELINE_CHAIN (8), BENCH_PIPELINE_CHAINS (4): bench/pipelines.ts.
 * BENCH_SKIP_CPU=1, BENCH_CPU_RATE (5), BENCH_CPU_N (50): per-job CPU by process and phase (bench/cpu.ts).
 * BENCH_SKIP_COLD=1, BENCH_COLD_ROUNDS (default 12): the cold CLI against papermill (bench/cold.ts; BENCH_PAPERMILL_PATH
 * names a papermill package folder when papermill is not installed).
 * BENCH_SKIP_BIGOUT=1, BENCH_BIGOUT_MB (default 100), BENCH_BIGOUT_RUNS (default 2: large outputs, bench/bigout.ts).
 * BENCH_ONLY=million, pipelines, overhead, cpu, cold or bigout runs only that section and merges it into the existing
 * bench/results.json (the other sections keep their figures and dates) before rendering bench/RESULTS.md again.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { benchEngine, tools } from './engine.js';
import { machineInfo } from './lib/machine.js';
import { writeNotebooks } from './lib/notebooks.js';
import { runMeasured } from './lib/proctree.js';
import { benchAgainst, type AbResults } from './ab-service.js';
import { benchFork } from './fork.js';
import type { ForkBenchResults } from './fork-report.js';
import { runJsonChild } from './lib/child.js';
import { renderReport, type BenchResults } from './report.js';
import { benchService, peerThroughput } from './service.js';
import { benchSchedules } from './schedules.js';
import { benchWorkers } from './workers.js';
import { benchStore } from './store.js';
import { benchMillion } from './million.js';
import { benchPipelines } from './pipelines.js';
import { benchCold } from './cold.js';
import { benchBigout } from './bigout.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const envInt = (name: string, dflt: number, lo: number, hi: number): number => {
  const v = Number(process.env[name] ?? dflt);
  return Number.isInteger(v) && v >= lo && v <= hi ? v : dflt;
};
const RUNS = envInt('BENCH_RUNS', 5, 1, 50);
const OVERHEAD_ROUNDS = envInt('BENCH_OVERHEAD_ROUNDS', 7, 1, 50);
const LATENCY_N = envInt('BENCH_LATENCY_N', 20, 1, 500);
const THROUGHPUT_N = envInt('BENCH_THROUGHPUT_N', 40, 1, 500);
const HEALTH_S = envInt('BENCH_HEALTH_SECONDS', 3, 1, 60);
const FORK_ROUNDS = envInt('BENCH_FORK_ROUNDS', 10, 1, 100);
const STORE_N = envInt('BENCH_STORE_N', 500, 50, 10_000);
const MILLION_N = envInt('BENCH_MILLION_N', 1_000_000, 30_000, 10_000_000);
const COLD_ROUNDS = envInt('BENCH_COLD_ROUNDS', 12, 1, 100);
const BIGOUT_MB = envInt('BENCH_BIGOUT_MB', 100, 1, 2048);
const BIGOUT_RUNS = envInt('BENCH_BIGOUT_RUNS', 2, 1, 10);
const log = (s: string) => process.stderr.write(`${s}\n`);

async function million(): Promise<NonNullable<BenchResults['million']>> {
  log(`million: a store with ${MILLION_N} jobs, SQLite and PostgreSQL: listing, the UI, claims, retention`);
  const r = await benchMillion({ n: MILLION_N, url: process.env.BENCH_DATABASE_URL, log });
  if (!r.measured) log(`  not measured: ${r.reason}`);
  return r;
}

async function pipelines(): Promise<NonNullable<BenchResults['pipelines']>> {
  log('pipelines: edge latency, fan-out against plain jobs, checking and the run page of 1,000 tasks');
  const r = await benchPipelines({
    root,
    log,
    items: envInt('BENCH_PIPELINE_ITEMS', 200, 10, 1024),
    rounds: envInt('BENCH_PIPELINE_ROUNDS', 2, 1, 10),
    chainTasks: envInt('BENCH_PIPELINE_CHAIN', 8, 2, 100),
    chains: envInt('BENCH_PIPELINE_CHAINS', 4, 1, 50),
  });
  if (!r.measured) log(`  not measured: ${r.reason}`);
  return r;
}

async function cpu(): Promise<BenchResults['cpu']> {
  log('cpu: per-job CPU at 5 jobs/s, by process (the service) and by phase (bench/cpu.ts)');
  const r = await runJsonChild(process.execPath, ['--import', 'tsx', join(root, 'bench/cpu.ts')], 900_000);
  if (r.error) log(`  not measured: ${r.error}`);
  return (r.json as BenchResults['cpu']) ?? null;
}

async function cold(): Promise<NonNullable<BenchResults['cold']>> {
  log(`cold CLI: hubmill run against papermill and the bare kernel start, ${COLD_ROUNDS} rounds`);
  const dir = mkdtempSync(join(os.tmpdir(), 'hubmill-bench-'));
  try {
    const r = await benchCold({ root, trivialNotebook: writeNotebooks(dir).trivial, rounds: COLD_ROUNDS, log });
    if (!r.measured) log(`  not measured: ${r.reason}`);
    else log(`  median ratio ${r.medians.ratio.toFixed(3)}× ${r.peer.id}; ${r.medians.gapMs.toFixed(0)} ms above the bare kernel start`);
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bigout(): Promise<NonNullable<BenchResults['bigout']>> {
  log(`large outputs: ${BIGOUT_MB} MiB of stdout through hubmill serve, and hubmill run against the peer (${BIGOUT_RUNS} runs each)`);
  const dir = mkdtempSync(join(os.tmpdir(), 'hubmill-bench-'));
  try {
    return await benchBigout({ root, workDir: dir, mib: BIGOUT_MB, runs: BIGOUT_RUNS, log });
  } finally {
    if (!process.env.BENCH_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
  }
}

/** The sections that can run alone (BENCH_ONLY), each merged into the existing results. */
const ALONE: Record<string, () => Promise<Partial<BenchResults>>> = {
  cpu: async () => ({ cpu: await cpu() }),
  million: async () => ({ million: await million() }),
  pipelines: async () => ({ pipelines: await pipelines() }),
  cold: async () => ({ cold: await cold() }),
  bigout: async () => ({ bigout: await bigout() }),
  overhead: async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'hubmill-bench-'));
    try {
      log('engine: in-process overhead per cell (KernelClient vs executeNotebook, same warm kernel)');
      const nbDir = join(dir, 'notebooks');
      mkdirSync(nbDir);
      writeNotebooks(nbDir);
      const o = await runJsonChild(process.execPath, ['--import', 'tsx', join(root, 'bench/overhead.ts'), nbDir, String(OVERHEAD_ROUNDS)], 180_000);
      return { overhead: o.json as BenchResults['overhead'], overheadError: o.error };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

if (process.env.BENCH_ONLY) {
  const only = ALONE[process.env.BENCH_ONLY];
  if (!only) {
    log(`BENCH_ONLY=${process.env.BENCH_ONLY}: only ${Object.keys(ALONE).join(' or ')} can run alone`);
    process.exit(2);
  }
  if (!existsSync(join(root, 'dist/cli/index.js'))) {
    log('missing dist/cli/index.js; run npm run build first');
    process.exit(2);
  }
  const previous = JSON.parse(readFileSync(join(root, 'bench/results.json'), 'utf8')) as BenchResults;
  const results: BenchResults = { ...previous, ...(await only()) };
  writeFileSync(join(root, 'bench/RESULTS.md'), renderReport(results));
  writeFileSync(join(root, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote the ${process.env.BENCH_ONLY} section into bench/RESULTS.md and bench/results.json (the other sections unchanged)`);
  process.exit(0);
}

const t0 = performance.now();
const machine = machineInfo(root);
log(`hubmill bench: ${machine.nproc} cores, load ${machine.loadAvgStart.join(' ')}, ${RUNS} runs per tool and notebook`);
for (const [what, p] of [
  ['hubmill build', join(root, 'dist/cli/index.js')],
  ['jupyter-nbconvert', '/usr/bin/jupyter-nbconvert'],
  ['jupyter-execute', '/usr/bin/jupyter-execute'],
] as const) {
  if (!existsSync(p)) {
    log(`missing ${what} (${p}); run npm run setup / npm run build first`);
    process.exit(2);
  }
}
const workDir = mkdtempSync(join(os.tmpdir(), 'hubmill-bench-'));
const nbDir = join(workDir, 'notebooks');
mkdirSync(nbDir);
const notebooks = writeNotebooks(nbDir);
const env = { ...process.env };

try {
  log('engine: whole-process runs (interleaved)');
  const engine = await benchEngine({ root, notebooks, workDir, runs: RUNS, env, log });

  log('engine: in-process overhead per cell (KernelClient vs executeNotebook, same warm kernel)');
  const overhead = await runJsonChild(process.execPath, ['--import', 'tsx', join(root, 'bench/overhead.ts'), nbDir, String(OVERHEAD_ROUNDS)], 180_000);

  log("engine: the kernel's own per-cell time through jupyter_client's BlockingKernelClient");
  const pyKernel = await runJsonChild('/usr/bin/python3', [join(root, 'bench/kernel_roundtrip.py'), '3'], 120_000);

  let service: BenchResults['service'];
  if (process.env.BENCH_SKIP_SERVICE) {
    service = { measured: false, reason: 'skipped (BENCH_SKIP_SERVICE set)', poolSize: 2, concurrency: null, logLevel: '', sectionErrors: {} };
  } else {
    log('service: hubmill serve with a warm pool');
    try {
      service = await benchService({ root, workDir, trivialNotebook: notebooks.trivial, env, latencyN: LATENCY_N, throughputN: THROUGHPUT_N, healthSeconds: HEALTH_S, log });
    } catch (e) {
      service = { measured: false, reason: `bench harness error: ${(e as Error).message}`, poolSize: 2, concurrency: null, logLevel: '', sectionErrors: {} };
    }
    if (!service.measured) log(`  not measured: ${service.reason}`);
  }

  log('schedules: API latency without and with 1,000 schedules firing every minute');
  const schedules = process.env.BENCH_SKIP_SCHEDULES
    ? { measured: false, reason: 'skipped (BENCH_SKIP_SCHEDULES set)', schedules: 1000, windowS: 65 }
    : await benchSchedules({ root, workDir, log });
  if (!schedules.measured) log(`  not measured: ${schedules.reason}`);

  log('workers: throughput of one worker node against two (PostgreSQL)');
  const workers = process.env.BENCH_SKIP_WORKERS
    ? { measured: false, reason: 'skipped (BENCH_SKIP_WORKERS set)', backend: 'pg' as const, n: 0, rounds: 0, concurrencyPerWorker: 0, results: [] }
    : await benchWorkers({
        root,
        workDir,
        trivialNotebook: notebooks.trivial,
        log,
        n: envInt('BENCH_WORKERS_N', 60, 1, 1000),
        rounds: envInt('BENCH_WORKERS_ROUNDS', 1, 1, 20),
        concurrency: envInt('BENCH_WORKERS_CONCURRENCY', 1, 1, 64),
      });
  if (!workers.measured) log(`  not measured: ${workers.reason}`);

  log(`store: per-job claim and finish overhead, PostgreSQL vs SQLite (no kernel), ${STORE_N} jobs each`);
  const store = process.env.BENCH_SKIP_STORE
    ? { measured: false, reason: 'skipped (BENCH_SKIP_STORE set)', n: 0 }
    : await benchStore({ n: STORE_N, url: process.env.BENCH_DATABASE_URL, log });
  if (!store.measured) log(`  not measured: ${store.reason}`);

  // A skipped long section keeps the figures of an earlier run, which carry their own date.
  const earlier = (): Partial<BenchResults> => {
    try {
      return JSON.parse(readFileSync(join(root, 'bench/results.json'), 'utf8')) as BenchResults;
    } catch {
      return {};
    }
  };
  const millionResults = process.env.BENCH_SKIP_MILLION ? earlier().million : await million();
  const pipelineResults = process.env.BENCH_SKIP_PIPELINES ? earlier().pipelines : await pipelines();

  const coldResults = process.env.BENCH_SKIP_COLD ? undefined : await cold();

  const bigoutResults = process.env.BENCH_SKIP_BIGOUT ? undefined : await bigout();

  log(`peer throughput: ${THROUGHPUT_N} x jupyter nbconvert --execute, 2 in parallel`);
  const nbconvert = tools(root).find((t) => t.id === 'nbconvert')!;
  const peerFailures: string[] = [];
  const peer = await peerThroughput({
    notebook: notebooks.trivial,
    workDir,
    n: THROUGHPUT_N,
    parallel: 2,
    env,
    runOne: async (i) => {
      const dir = join(workDir, `peer-${i}`);
      mkdirSync(dir, { recursive: true });
      const c = nbconvert.command(notebooks.trivial, dir, 'out');
      const r = await runMeasured(c.cmd, c.args, { cwd: workDir, env, timeoutMs: 120_000, sampleMs: 200 });
      const ok = r.exitCode === 0 && !!c.output && existsSync(c.output) && statSync(c.output).size > 0;
      if (!ok) peerFailures.push(`exit ${r.exitCode}: ${r.stderrTail.slice(-200)}`);
      return ok;
    },
  });
  log(`  peer: ${peer.ok}/${peer.n} in ${peer.elapsedMs.toFixed(0)} ms = ${peer.perSecond.toFixed(2)} notebooks/s`);

  let fork: ForkBenchResults | null = null;
  if (!process.env.BENCH_SKIP_FORK) {
    log('fork server: kernel ready (fork vs cold launch), memory, preload; then jupyter_client; then the service with and without it');
    fork = await benchFork(root, FORK_ROUNDS);
  }
  const cpuResults = process.env.BENCH_SKIP_CPU ? undefined : await cpu();

  let baseline: AbResults | null = null;
  if (process.env.BENCH_BASELINE) {
    log(`service against the build in ${process.env.BENCH_BASELINE}: warm latency and throughput, alternating rounds`);
    baseline = await benchAgainst([process.env.BENCH_BASELINE, root, `${root}|HUBMILL_FORK_SERVER=false`], {
      rounds: envInt('BENCH_BASELINE_ROUNDS', 3, 1, 20),
      latencyN: LATENCY_N,
      throughputN: THROUGHPUT_N,
      log,
    });
  }

  const results: BenchResults = {
    machine,
    loadAvgEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
    benchDurationS: (performance.now() - t0) / 1000,
    config: { runs: RUNS, overheadRounds: OVERHEAD_ROUNDS, latencyN: LATENCY_N, throughputN: THROUGHPUT_N, healthSeconds: HEALTH_S, rssSampleMs: 20 },
    engine,
    overhead: overhead.json as BenchResults['overhead'],
    overheadError: overhead.error,
    pyKernel: pyKernel.json as BenchResults['pyKernel'],
    pyKernelError: pyKernel.error,
    service,
    schedules,
    workers,
    store,
    million: millionResults,
    pipelines: pipelineResults,
    cold: coldResults,
    bigout: bigoutResults,
    peerThroughput: { ...peer, failures: peerFailures.slice(0, 5) },
    fork,
    cpu: cpuResults,
    baseline,
  };
  const md = renderReport(results);
  writeFileSync(join(root, 'bench/RESULTS.md'), md);
  writeFileSync(join(root, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);
  log(`\n${md.split('\n## Method')[0]}`);
  log(`wrote bench/RESULTS.md and bench/results.json in ${results.benchDurationS.toFixed(0)} s`);
} finally {
  if (!process.env.BENCH_KEEP_TMP) rmSync(workDir, { recursive: true, force: true });
  else log(`kept ${workDir}`);
}
process.exit(0);
