/** The per-job CPU section of bench/RESULTS.md (issue 19; bench/cpu.ts measures it). */

export interface CpuServiceRun {
  load: number;
  n: number;
  ok: number;
  rate: number;
  elapsedMs: number;
  nodeMs: number;
  forkServerMs: number;
  kernelsMs: number;
  otherMs: number;
}
export interface CpuPhasesRun {
  load: number;
  n: number;
  rate: number;
  elapsedMs: number;
  node: { acquire: number; chdir: number; startSave: number; cell: number; finalSave: number; exitRefillAndIdle: number; total: number };
  kernel: { init: number; chdir: number; cell: number; exit: number };
  forkServerMs: number;
  zygote: boolean | null;
}
export interface CpuBenchResults {
  date: string;
  processor: string;
  cores: number;
  loadAvgStart: number[];
  loadAvgEnd: number[];
  service: CpuServiceRun | { error: string };
  phases: CpuPhasesRun | { error: string };
}

const f = (x: number | undefined, d = 1): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));

/** hubmill's own share of a job's CPU: the Node process's part of the whole tree's. */
export function nodeShare(s: CpuServiceRun): number {
  const total = s.nodeMs + s.forkServerMs + s.kernelsMs + s.otherMs;
  return total > 0 ? s.nodeMs / total : NaN;
}

export function renderCpuSection(r: CpuBenchResults | null | undefined): string[] {
  const L: string[] = [];
  const p = (line = '') => L.push(line);
  p('## Per-job CPU (issue 19)');
  p();
  if (!r) {
    p('not measured (run `BENCH_ONLY=cpu npm run bench`).');
    p();
    return L;
  }
  p(`Measured ${r.date} on **${r.processor}**, ${r.cores} cores; load average ${r.loadAvgStart.map((x) => x.toFixed(2)).join(' / ')} at the start, ${r.loadAvgEnd.map((x) => x.toFixed(2)).join(' / ')} at the end.`);
  p();
  const s = r.service;
  p('| target | measured | verdict |');
  p('| --- | --- | --- |');
  if ('error' in s) p(`| hubmill's own share (the Node process) < 15% of a job's CPU | not measured: ${s.error} | n/a |`);
  else {
    const share = nodeShare(s);
    const total = s.nodeMs + s.forkServerMs + s.kernelsMs + s.otherMs;
    p(
      `| hubmill's own share (the Node process) < 15% of a job's CPU, trivial notebook via \`POST /api/v1/jobs?wait=true\` at ${s.rate}/s, default settings | **${f(share * 100)}%**: Node ${f(s.nodeMs)} ms of ${f(total)} ms per job (${s.ok}/${s.n} ok, load ${f(s.load, 2)}) | ${Number.isFinite(share) ? (share < 0.15 ? '**PASS**' : '**FAIL**') : 'n/a'} |`,
    );
    p();
    p('| process | CPU per job |');
    p('| --- | ---: |');
    p(`| Node (\`hubmill serve\`: HTTP, store, runner, engine, kernel client) | ${f(s.nodeMs)} ms |`);
    p(`| fork server itself (fork, bookkeeping) | ${f(s.forkServerMs)} ms |`);
    p(`| kernels (the fork server's children, live and reaped: init, chdir, cell, exit) | ${f(s.kernelsMs)} ms |`);
    p(`| other (watchdog) | ${f(s.otherMs)} ms |`);
    p(`| **total** | **${f(total)} ms** |`);
  }
  p();
  const ph = r.phases;
  if ('error' in ph) {
    p(`Phases: not measured: ${ph.error}`);
    p();
    return L;
  }
  p(
    `The phases of a job, ${ph.n} trivial notebooks at ${ph.rate}/s in one process with the service's parts (fork server${ph.zygote ? ' with the zygote' : ''}, warm pool, the service's kernel source and engine; no HTTP or store), load ${f(ph.load, 2)}. ` +
      "Node = `process.cpuUsage()`, kernel = the job's kernel's `/proc/PID/stat` (10 ms ticks, averaged over the jobs), its exit from the fork server's reaped-children time:",
  );
  p();
  p('| phase | Node | kernel |');
  p('| --- | ---: | ---: |');
  p(`| kernel init (fork → ready in the pool, warm-up request included) | (in refill) | ${f(ph.kernel.init)} ms |`);
  p(`| acquire from the pool | ${f(ph.node.acquire)} ms | — |`);
  p(`| \`chdir\` request | ${f(ph.node.chdir)} ms | ${f(ph.kernel.chdir)} ms |`);
  p(`| start save | ${f(ph.node.startSave)} ms | — |`);
  p(`| cell (\`1+1\`) | ${f(ph.node.cell)} ms | ${f(ph.kernel.cell)} ms |`);
  p(`| final save | ${f(ph.node.finalSave)} ms | — |`);
  p(`| kernel exit (shutdown request → reaped by the fork server) | ↓ | ${f(ph.kernel.exit)} ms |`);
  p(`| between jobs: the kernel's shutdown, the refill (the pool's start of the next kernel: connect, \`kernel_info\`, warm-up), idle | ${f(ph.node.exitRefillAndIdle)} ms | — |`);
  p(`| fork server itself | — | ${f(ph.forkServerMs)} ms |`);
  const kTotal = ph.kernel.init + ph.kernel.chdir + ph.kernel.cell + ph.kernel.exit;
  p(`| **total** | **${f(ph.node.total)} ms** | **${f(kTotal)} ms** (+ ${f(ph.forkServerMs)} ms fork server) |`);
  p();
  return L;
}
