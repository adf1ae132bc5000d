/**
 * Fork-server kernels, in process (issue 11), on the built code in dist/:
 *   - kernel ready: from the request to a kernel that answered kernel_info on
 *     shell and iopub (KernelClient's readiness), forked vs cold launch,
 *     interleaved round by round (jupyter_client is measured by
 *     bench/jupyter_client_start.py in the same run); forked from a server with
 *     its spare child (the default) and from one without (spare: false), so the
 *     spare's part is shown;
 *   - memory per kernel: PSS and USS (private clean + dirty) from
 *     /proc/PID/smaps_rollup, with K forked and K launched kernels alive at once,
 *     each after one trivial cell;
 *   - preload gain: a first cell importing the preload's modules, in a kernel
 *     forked from a server that preloaded them vs a cold launched kernel (and
 *     the modules' own import time in a bare interpreter).
 * Run: `node --import tsx bench/fork-kernels.ts ROUNDS`; the last stdout line is the JSON result.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median, percentile } from './lib/stats.js';

const dist = (p: string): Promise<unknown> => import(new URL(`../dist/${p}`, import.meta.url).href);
const { KernelClient } = (await dist('kernel/kernel-client.js')) as typeof import('../src/kernel/kernel-client.js');
const { getKernelSpec } = (await dist('kernel/kernelspec-discovery.js')) as typeof import('../src/kernel/kernelspec-discovery.js');
const { ForkServers } = (await dist('kernel/fork-servers.js')) as typeof import('../src/kernel/fork-servers.js');
type Client = import('../src/kernel/kernel-client.js').KernelClient;

const rounds = Number(process.argv[2] ?? 10);
// The preload: pandas when Debian's python3-pandas is installed, else a set of standard modules.
const hasPandas = (() => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import pandas'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const PRELOAD = hasPandas ? 'import pandas' : 'import json, decimal, email, http.client';
const FIRST_CELL = hasPandas ? `${PRELOAD}\nx = pandas.DataFrame({"a": [1]})` : `${PRELOAD}\nx = decimal.Decimal(1)`;
setTimeout(() => {
  process.stderr.write('fork-kernels: gave up after 600 s\n');
  process.exit(3);
}, 600_000).unref();

const dir = mkdtempSync(join(tmpdir(), 'hubmill-forkbench-'));
const spec = await getKernelSpec('python3');
const plain = new ForkServers({});
const noSpare = new ForkServers({ spare: false });
const preloaded = new ForkServers({ preload: { python3: PRELOAD } });
const log = (s: string) => process.stderr.write(`${s}\n`);

async function forked(servers: InstanceType<typeof ForkServers>): Promise<Client> {
  let wasForked = false;
  const k = await KernelClient.launch(spec, {
    cwd: dir,
    startProcess: async (s, o) => {
      const r = await servers.startProcess(s, o);
      wasForked = r.forked;
      return r;
    },
  });
  if (!wasForked) throw new Error('fork server unavailable: the kernel was launched normally');
  return k;
}
const cold = (): Promise<Client> => KernelClient.launch(spec, { cwd: dir });

function memKb(pid: number): { pssKb: number; ussKb: number; rssKb: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? NaN);
  return { pssKb: field('Pss'), ussKb: field('Private_Clean') + field('Private_Dirty'), rssKb: field('Rss') };
}

const stat = (xs: number[]) => ({ median: median(xs), p90: percentile(xs, 90), min: Math.min(...xs), max: Math.max(...xs), n: xs.length, samples: xs });

try {
  // The servers start once (their own cost, reported apart), before any timing.
  const t0 = performance.now();
  await plain.server(spec);
  const serverStartMs = performance.now() - t0;
  await preloaded.server(spec);
  await noSpare.server(spec);
  await (await forked(plain)).shutdown();
  await (await forked(noSpare)).shutdown();

  // 1. Kernel ready, interleaved.
  // Each forked start follows a cold one (as the pool's refills follow jobs, not each other): the server
  // has had its quiet moment to fork a spare, which it would not have between back-to-back requests.
  const readyFork: number[] = [];
  const readyNoSpare: number[] = [];
  const readyCold: number[] = [];
  const series: Array<[number[], () => Promise<Client>]> = [
    [readyFork, () => forked(plain)],
    [readyNoSpare, () => forked(noSpare)],
  ];
  for (let i = 0; i < rounds; i++) {
    for (const [arr, start] of i % 2 ? [...series].reverse() : series) {
      for (const [a, st] of [[readyCold, cold], [arr, start]] as Array<[number[], () => Promise<Client>]>) {
        const s = performance.now();
        const k = await st();
        a.push(performance.now() - s);
        await k.shutdown();
      }
    }
    log(`  ready round ${i + 1}/${rounds}: fork ${readyFork.at(-1)!.toFixed(0)} ms (no spare ${readyNoSpare.at(-1)!.toFixed(0)}), cold ${readyCold.at(-2)!.toFixed(0)} / ${readyCold.at(-1)!.toFixed(0)} ms`);
  }

  // 2. Memory with K of each alive at once.
  const K = 4;
  const fks: Client[] = [];
  const cks: Client[] = [];
  for (let i = 0; i < K; i++) fks.push(await forked(plain));
  for (let i = 0; i < K; i++) cks.push(await cold());
  for (const k of [...fks, ...cks]) await k.execute('1+1');
  const memFork = fks.map((k) => memKb(k.pid!));
  const memCold = cks.map((k) => memKb(k.pid!));
  const serverPid = (await plain.server(spec))!.pid!;
  const memServer = memKb(serverPid);
  await Promise.all([...fks, ...cks].map((k) => k.shutdown()));

  // 3. Preload gain: request to first cell done, and the cell alone.
  const cell = FIRST_CELL;
  const pre = { totalMs: [] as number[], cellMs: [] as number[] };
  const coldRun = { totalMs: [] as number[], cellMs: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    for (const [acc, start] of [
      [pre, () => forked(preloaded)],
      [coldRun, cold],
    ] as Array<[typeof pre, () => Promise<Client>]>) {
      const s = performance.now();
      const k = await start();
      const c = performance.now();
      const r = await k.execute(cell);
      if (r.status === 'error') throw new Error(`preload cell failed: ${r.ename}`);
      if (r.status !== 'ok') throw new Error(`preload cell did not run: ${r.status}`);
      acc.cellMs.push(performance.now() - c);
      acc.totalMs.push(performance.now() - s);
      await k.shutdown();
    }
  }
  const importOut = execFileSync('/usr/bin/python3', ['-c', `import time\nt=time.perf_counter()\n${PRELOAD}\nprint((time.perf_counter()-t)*1000)`], { encoding: 'utf8' });

  const result = {
    rounds,
    serverStartMs,
    serverPreloadMs: (await preloaded.server(spec))?.hello?.preload_ms ?? null,
    zygote: (await plain.server(spec))?.hello?.zygote ?? false,
    zygoteWhy: (await plain.server(spec))?.hello?.zygote_why ?? null,
    spare: (await plain.server(spec))?.hello?.spare ?? false,
    ready: { fork: stat(readyFork), forkNoSpare: stat(readyNoSpare), cold: stat(readyCold) },
    memory: {
      kernelsEach: K,
      fork: { medianPssKb: median(memFork.map((m) => m.pssKb)), medianUssKb: median(memFork.map((m) => m.ussKb)), medianRssKb: median(memFork.map((m) => m.rssKb)) },
      cold: { medianPssKb: median(memCold.map((m) => m.pssKb)), medianUssKb: median(memCold.map((m) => m.ussKb)), medianRssKb: median(memCold.map((m) => m.rssKb)) },
      server: memServer,
    },
    preload: {
      code: PRELOAD,
      importInBareInterpreterMs: Number(importOut.trim()),
      forkPreloaded: { medianCellMs: median(pre.cellMs), medianTotalMs: median(pre.totalMs) },
      coldLaunch: { medianCellMs: median(coldRun.cellMs), medianTotalMs: median(coldRun.totalMs) },
    },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await plain.close();
  await noSpare.close();
  await preloaded.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
