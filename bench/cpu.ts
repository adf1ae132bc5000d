/**
 * Per-job CPU (issue 19), on the built code in dist/, at a steady rate (default 5 jobs/s):
 *
 * 1. The service: `hubmill serve` with default settings, trivial notebooks through
 *    `POST /api/v1/jobs?wait=true`; CPU per job of the Node process, of the fork
 *    server itself and of the kernels (its children, live and reaped), read from
 *    /proc over the window (bench/lib/cpu.ts). hubmill's own share is the Node
 *    process's part of the total.
 * 2. The phases of one job, in this process with the service's parts (fork servers,
 *    the warm pool, the engine with the service's kernel source): at each step the
 *    Node process's CPU (process.cpuUsage) and the job's kernel's (/proc/PID/stat),
 *    the kernel's exit from the fork server's reaped-children time, and the fork
 *    server's own time. Refill = what the pool does between jobs to replace the kernel.
 *
 * Run: `node --import tsx bench/cpu.ts`; the last stdout line is the JSON result.
 * Environment: BENCH_CPU_RATE (5), BENCH_CPU_N (50), BENCH_CPU_ZYGOTE=0 (the fork server without the zygote, to compare),
 * BENCH_CPU_PROF=DIR (a CPU profile of the service's Node process, written there when it stops).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { cpuMs, treeCpu } from './lib/cpu.js';
import { cpuModelName } from './lib/machine.js';
import { request } from './lib/http.js';
import { writeNotebooks } from './lib/notebooks.js';
import { paced, startBenchServe } from './lib/serve-child.js';
import { sleep } from './lib/stats.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const envNum = (name: string, dflt: number) => (process.env[name] && Number.isFinite(Number(process.env[name])) ? Number(process.env[name]) : dflt);
const RATE = envNum('BENCH_CPU_RATE', 5);
const N = envNum('BENCH_CPU_N', 50);
const ZYGOTE = process.env.BENCH_CPU_ZYGOTE !== '0';
const log = (s: string) => process.stderr.write(`${s}\n`);

async function service() {
  const work = mkdtempSync(join(tmpdir(), 'hubmill-cpu-'));
  // BENCH_CPU_PROF=DIR: the service writes a V8 CPU profile there when it stops (node --cpu-prof).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const svc = await startBenchServe(join(root, 'dist'), work, { readyMs: 120_000, env: ZYGOTE ? {} : { HUBMILL_FORKSERVER_ZYGOTE: '0' }, nodeFlags: prof });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const submit = async () => {
    const r = await request(`${svc.base}/api/v1/jobs?wait=true`, { method: 'POST', agent, headers: svc.auth, body: { notebook: 'trivial.ipynb', username: 'bench' }, timeoutMs: 60_000 });
    return r.status === 200 && (r.json as { status?: string } | null)?.status === 'succeeded';
  };
  try {
    for (let i = 0; i < 5; i++) await submit(); // warm-up: route compile, JIT
    await sleep(1000);
    const load = loadavg()[0]!;
    const c0 = treeCpu(svc.child.pid!);
    const t0 = performance.now();
    const ok = (await paced(N, RATE, submit)).filter(Boolean).length;
    const elapsedMs = performance.now() - t0;
    // Let the last kernels exit and the pool refill, so each job's whole cost is in the window.
    await sleep(2000);
    const c1 = treeCpu(svc.child.pid!);
    const per = (k: 'service' | 'kernels' | 'forkServer' | 'other') => (c1[k] - c0[k]) / N;
    const r = { load, n: N, ok, rate: RATE, elapsedMs, nodeMs: per('service'), forkServerMs: per('forkServer'), kernelsMs: per('kernels'), otherMs: per('other') };
    log(`  service: ${ok}/${N} ok at ${RATE}/s, CPU per job: Node ${r.nodeMs.toFixed(1)} ms, fork server ${r.forkServerMs.toFixed(1)}, kernels ${r.kernelsMs.toFixed(1)}, other ${r.otherMs.toFixed(1)} (load ${load.toFixed(2)})`);
    return r;
  } finally {
    agent.destroy();
    await svc.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

async function phases() {
  const dist = (p: string): Promise<unknown> => import(new URL(`../dist/${p}`, import.meta.url).href);
  const { ForkServers } = (await dist('kernel/fork-servers.js')) as typeof import('../src/kernel/fork-servers.js');
  const { KernelPool } = (await dist('kernel/pool.js')) as typeof import('../src/kernel/pool.js');
  const { getKernelSpec } = (await dist('kernel/kernelspec-discovery.js')) as typeof import('../src/kernel/kernelspec-discovery.js');
  const { executeNotebook } = (await dist('engine/execute.js')) as typeof import('../src/engine/execute.js');
  const { givenKernel, inRequestedFolder, freshKernels } = (await dist('engine/kernel-source.js')) as typeof import('../src/engine/kernel-source.js');
  const { readNotebookFile } = (await dist('notebook/read.js')) as typeof import('../src/notebook/read.js');
  const { loadConfig } = (await dist('config.js')) as typeof import('../src/config.js');
  type Kernel = import('../src/kernel/kernel-client.js').KernelClient;

  const config = loadConfig({}, process.env);
  const work = mkdtempSync(join(tmpdir(), 'hubmill-cpu-phases-'));
  const nbPath = writeNotebooks(work).trivial;
  const nb = await readNotebookFile(nbPath);
  const forkServers = new ForkServers({ zygote: ZYGOTE });
  const pool = new KernelPool({ sizes: { ...config.poolSizes }, max: config.poolMax, forkServers });
  const spec = await getKernelSpec('python3');
  const node = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const acc = { acquire: 0, chdir: 0, startSave: 0, cell: 0, finalSave: 0 };
  const kern = { init: 0, chdir: 0, cell: 0, exit: 0 };
  try {
    const server = await forkServers.server(spec);
    if (!server?.pid) throw new Error('no fork server');
    pool.start();
    await pool.waitFull(60_000);
    const fsPid = server.pid;
    const kcpu = (pid: number) => cpuMs(pid).self;
    const runJob = async (i: number) => {
      const cwd = join(work, `job-${i}`);
      (await import('node:fs')).mkdirSync(cwd);
      let n0 = node();
      const k = (await pool.acquire('python3')) as Kernel;
      const pid = k.pid!;
      let k0 = kcpu(pid);
      kern.init += k0; // fork to ready in the pool, warm-up included
      let n1 = node();
      acc.acquire += n1 - n0;
      await inRequestedFolder(givenKernel(k, { keep: true }), freshKernels()).acquire({ kernelName: 'python3', cwd });
      let k1 = kcpu(pid);
      n0 = node();
      acc.chdir += n0 - n1;
      kern.chdir += k1 - k0;
      let cellStart = 0;
      let cellEnd = 0;
      let kStart = 0;
      let kEnd = 0;
      const res = await executeNotebook({
        notebook: nb,
        inputPath: nbPath,
        outputPath: join(cwd, 'out.ipynb'),
        parameters: {},
        kernelName: 'python3',
        kernels: givenKernel(k, { keep: true }),
        cwd,
        onEvent: (e) => {
          if (e.type === 'cell_started' && e.index === 0) {
            cellStart = node();
            kStart = kcpu(pid);
          }
          if (e.type === 'cell_finished') {
            cellEnd = node();
            kEnd = kcpu(pid);
          }
        },
      });
      n1 = node();
      if (res.status !== 'succeeded') throw new Error(`job ${i}: ${res.status}`);
      acc.startSave += cellStart - n0;
      acc.cell += cellEnd - cellStart;
      acc.finalSave += n1 - cellEnd;
      kern.chdir += kStart - k1; // nothing of the kernel's runs between the chdir and the first cell
      kern.cell += kEnd - kStart;
      // As the service does: the kernel is shut down after the result, not awaited by the job. Its exit's CPU is
      // the fork server's reaped-children time over the window minus what the kernels had used before it.
      kern.exit -= kcpu(pid);
      exits.push(k.shutdown());
    };
    const exits: Promise<void>[] = [];
    for (let i = 0; i < 3; i++) await runJob(-1 - i).catch(() => undefined); // warm-up
    await Promise.all(exits.splice(0));
    await sleep(1000);
    Object.keys(acc).forEach((x) => (acc[x as keyof typeof acc] = 0));
    Object.keys(kern).forEach((x) => (kern[x as keyof typeof kern] = 0));
    const load = loadavg()[0]!;
    const n0 = node();
    const fs0 = cpuMs(fsPid);
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const wait = t0 + (i * 1000) / RATE - performance.now();
      if (wait > 0) await sleep(wait);
      await runJob(i);
    }
    await Promise.all(exits);
    await sleep(1500); // the last exits reaped, the last refill done
    kern.exit += cpuMs(fsPid).children - fs0.children;
    const elapsedMs = performance.now() - t0;
    const nodeTotal = node() - n0;
    const per = (x: number) => x / N;
    const nodePhases = Object.fromEntries(Object.entries(acc).map(([k, v]) => [k, per(v)])) as typeof acc;
    const nodeSum = Object.values(acc).reduce((a, b) => a + b, 0);
    return {
      load,
      n: N,
      rate: RATE,
      elapsedMs,
      node: { ...nodePhases, exitRefillAndIdle: per(nodeTotal - nodeSum), total: per(nodeTotal) },
      kernel: Object.fromEntries(Object.entries(kern).map(([k, v]) => [k, per(v)])) as typeof kern,
      forkServerMs: per(cpuMs(fsPid).self - fs0.self),
      zygote: server.hello?.zygote ?? null,
    };
  } finally {
    await pool.close();
    await forkServers.close();
    rmSync(work, { recursive: true, force: true });
  }
}

const loadStart = loadavg();
log(`cpu: per-job CPU at ${RATE}/s, ${N} jobs (load ${loadStart.map((x) => x.toFixed(2)).join(' ')})`);
const svc = await service().catch((e: Error) => ({ error: e.message }));
const ph = await phases().catch((e: Error) => ({ error: e.message }));
if ('error' in ph) log(`  phases: ${ph.error}`);
else log(`  phases: ${JSON.stringify(ph)}`);
process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), processor: cpuModelName(), cores: availableParallelism(), loadAvgStart: loadStart, loadAvgEnd: loadavg(), service: svc, phases: ph })}\n`);
process.exit(0);
