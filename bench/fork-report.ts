/** The fork-server section of bench/RESULTS.md (issue 11). */

interface Dist {
  median: number;
  p90: number;
  min: number;
  max: number;
  n: number;
}
interface Mem {
  medianPssKb: number;
  medianUssKb: number;
  medianRssKb: number;
}
export interface ForkKernelsResult {
  rounds: number;
  /** Whether the fork server built the zygote, and why not (absent before issue 19). */
  zygote?: boolean;
  zygoteWhy?: string | null;
  serverStartMs: number;
  serverPreloadMs: number | null;
  /** Whether the server kept a spare child (absent before it had one), and the readiness without it. */
  spare?: boolean;
  ready: { fork: Dist; forkNoSpare?: Dist; cold: Dist };
  memory: { kernelsEach: number; fork: Mem; cold: Mem; server: { pssKb: number; ussKb: number; rssKb: number } };
  preload: {
    code: string;
    importInBareInterpreterMs: number;
    forkPreloaded: { medianCellMs: number; medianTotalMs: number };
    coldLaunch: { medianCellMs: number; medianTotalMs: number };
  };
}
interface ServiceRun {
  latency: { rate: number; n: number; ok: number; medianMs: number; p90Ms: number };
  /** The same job one at a time, 1 s apart (absent in results before issue 19). */
  sequential?: { n: number; ok: number; medianMs: number };
  throughput: { n: number; ok: number; elapsedMs: number; perSecond: number };
}
export interface ForkBenchResults {
  kernels: ForkKernelsResult | null;
  jupyterClient: { startToReadyMs: number[] } | null;
  service: { fork: ServiceRun; noFork: ServiceRun } | null;
  errors: Record<string, string>;
}

const f = (x: number | null | undefined, d = 0): string => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const mb = (kb: number | undefined): string => (kb !== undefined && Number.isFinite(kb) ? `${(kb / 1024).toFixed(1)} MB` : 'n/a');
const verdict = (ok: boolean | null): string => (ok === null ? 'n/a' : ok ? '**PASS**' : '**FAIL**');
const med = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export function renderForkSection(r: ForkBenchResults | null | undefined, peerPerSecond: number): string[] {
  const L: string[] = [];
  const p = (line = '') => L.push(line);
  p('## Fork server (issue 11)');
  p();
  if (!r) {
    p('not measured (BENCH_SKIP_FORK set).');
    p();
    return L;
  }
  const k = r.kernels;
  const jc = r.jupyterClient ? med(r.jupyterClient.startToReadyMs) : NaN;
  const svc = r.service;
  p('| target | measured | verdict |');
  p('| --- | --- | --- |');
  const readyRatio = k ? k.ready.fork.median / k.ready.cold.median : NaN;
  p(
    `| **Fresh kernels**: forked kernel ready ≤ 0.10 × a cold launch (median, from request to \`kernel_info\` answered) | ${k ? `fork **${f(k.ready.fork.median)} ms** (p90 ${f(k.ready.fork.p90)}) / cold launch ${f(k.ready.cold.median)} ms = **${f(readyRatio, 3)}×**; jupyter_client ${f(jc)} ms${k.ready.forkNoSpare ? `; forked by a server without a spare child ${f(k.ready.forkNoSpare.median)} ms (${f(k.ready.forkNoSpare.median / k.ready.cold.median, 2)}×)` : ''}${k.spare !== undefined ? `; spare ${k.spare ? 'on' : 'off'}` : ''}${k.zygote !== undefined ? `; zygote ${k.zygote ? 'on' : `off (${k.zygoteWhy ?? '?'})`}` : ''}` : `not measured: ${r.errors.kernels}`} | ${verdict(k ? readyRatio <= 0.1 : null)} |`,
  );
  if (svc) {
    const l = svc.fork.latency;
    const seq = svc.fork.sequential;
    const mRatio = seq ? l.medianMs / seq.medianMs : NaN;
    const pRatio = seq ? l.p90Ms / seq.medianMs : NaN;
    p(
      `| **No queueing at ${l.rate}/s**: trivial notebook via \`POST /api/v1/jobs?wait=true\`, default settings: median ≤ 1.5 × and p90 ≤ 2 × the same job one at a time (1 s apart) | median **${f(l.medianMs, 1)} ms**, p90 ${f(l.p90Ms, 1)} ms (${l.ok}/${l.n} ok)${seq ? ` = **${f(mRatio, 2)}×** and **${f(pRatio, 2)}×** the one-at-a-time median ${f(seq.medianMs, 1)} ms (${seq.ok}/${seq.n} ok)` : ' (one at a time: not measured in this run)'}; without the fork server ${f(svc.noFork.latency.medianMs, 1)} / ${f(svc.noFork.latency.p90Ms, 1)} ms (${svc.noFork.latency.n} jobs) | ${verdict(seq ? l.ok === l.n && mRatio <= 1.5 && pRatio <= 2 : null)} |`,
    );
    const t = svc.fork.throughput;
    const ratio = peerPerSecond > 0 ? t.perSecond / peerPerSecond : NaN;
    p(`| **Throughput**: ${t.n} trivial notebooks at once ≥ 20 × \`jupyter nbconvert --execute\` run 2 in parallel | **${f(t.perSecond, 2)}/s** (${t.ok}/${t.n} ok) = **${f(ratio, 1)}×** the peer's ${f(peerPerSecond, 2)}/s; without the fork server ${f(svc.noFork.throughput.perSecond, 2)}/s (${svc.noFork.throughput.n} at once) | ${verdict(t.ok === t.n && ratio >= 20)} |`);
  } else {
    p(`| no queueing at 5/s and throughput | not measured: ${r.errors.service} | n/a |`);
  }
  if (k) {
    const pre = k.preload;
    const cellGain = pre.coldLaunch.medianCellMs - pre.forkPreloaded.medianCellMs;
    const jobGain = pre.coldLaunch.medianTotalMs - pre.forkPreloaded.medianTotalMs;
    p(
      `| preload \`${pre.code}\`: a job whose first cell uses the modules gains at least their import time over a fresh launch | request to first cell done: **${f(pre.forkPreloaded.medianTotalMs, 1)} ms** forked from the preloaded server vs ${f(pre.coldLaunch.medianTotalMs, 1)} ms fresh launch, gain **${f(jobGain, 1)} ms**; ` +
        `the cell alone ${f(pre.forkPreloaded.medianCellMs, 1)} vs ${f(pre.coldLaunch.medianCellMs, 1)} ms (gain ${f(cellGain, 1)} ms); the imports in a bare interpreter take ${f(pre.importInBareInterpreterMs, 1)} ms (a fresh kernel has some of these modules loaded already) | ${verdict(jobGain >= pre.importInBareInterpreterMs)} |`,
    );
  }
  p('| cold CLI: `hubmill run` uses no fork server and must not get slower | `hubmill run` builds no ForkServers (only `hubmill serve` does): see the engine table above for its whole-process time | n/a |');
  p();
  if (k) {
    p(`Memory with ${k.memory.kernelsEach} kernels of each kind alive at once, each after one trivial cell (\`/proc/PID/smaps_rollup\`; USS = private clean + private dirty):`);
    p();
    p('| kernel | median PSS | median USS | median RSS |');
    p('| --- | ---: | ---: | ---: |');
    p(`| forked | ${mb(k.memory.fork.medianPssKb)} | ${mb(k.memory.fork.medianUssKb)} | ${mb(k.memory.fork.medianRssKb)} |`);
    p(`| launched (cold) | ${mb(k.memory.cold.medianPssKb)} | ${mb(k.memory.cold.medianUssKb)} | ${mb(k.memory.cold.medianRssKb)} |`);
    p(`| the fork server itself | ${mb(k.memory.server.pssKb)} | ${mb(k.memory.server.ussKb)} | ${mb(k.memory.server.rssKb)} |`);
    p();
    p(`The fork server started in ${f(k.serverStartMs)} ms (its imports: ${f(k.serverPreloadMs)} ms with the preload); ${k.rounds} rounds, each a cold launch then a kernel forked by the server with its spare child, and a cold launch then one forked by a server without (spare: false), the two pairs' order turning each round (so each forked start comes after a quiet moment, as a job's refill after a job, not straight after another fork). Kernel ready = from the call to a kernel that answered \`kernel_info\` on shell and iopub (hubmill's readiness); jupyter_client = \`KernelManager.start_kernel()\` + \`wait_for_ready()\` (\`bench/jupyter_client_start.py\`), timed inside its process.`);
    p();
  }
  for (const [what, err] of Object.entries(r.errors)) p(`- ${what}: ${err}`);
  p();
  return L;
}
