/** Renders bench results as markdown (bench/RESULTS.md). */
import type { CellStats, RunRecord } from './engine.js';
import { renderAbSection, type AbResults } from './ab-service.js';
import { renderForkSection, type ForkBenchResults } from './fork-report.js';
import { renderCpuSection, type CpuBenchResults } from './cpu-report.js';
import type { MachineInfo } from './lib/machine.js';
import type { ServiceResults } from './service.js';
import { renderScheduleBench, type ScheduleBenchResults } from './schedules.js';
import { renderWorkersBench, type WorkersBenchResults } from './workers.js';
import { renderStoreBench, type StoreBenchResults } from './store.js';
import type { MillionBenchResults } from './million.js';
import { renderBigoutBench, type BigoutBenchResults } from './bigout.js';
import { renderMillionBench } from './million-report.js';
import { renderPipelineSection } from './pipeline-report.js';
import type { PipelineBench } from './pipelines.js';
import type { ColdResults } from './cold.js';
import { renderColdBench } from './cold-report.js';

export interface OverheadResult {
  cells: number;
  rounds: number;
  kernelStartMs: { runs: number[]; median: number };
  oneTrivialCellRoundTripMs: number;
  rawTotalMs: number[];
  engineTotalMs: number[];
  engineCellLoopMs: number[];
  medianRawPerCellMs: number;
  medianEnginePerCellMs: number;
  overheadPerCellMs: number;
  overheadPerCellLoopOnlyMs: number;
  /** Decoding one display message with exact numbers vs plain JSON.parse, µs (absent in older results). */
  exactDisplayDecode?: { exactUs: number; plainUs: number; bytes: number };
}

export interface PyKernelResult {
  cells: number;
  rounds: number;
  kernelStartToReadyMs: number;
  oneTrivialCellRoundTripMs: number;
  totalsMs: number[];
  medianPerCellMs: number;
}

export interface BenchResults {
  machine: MachineInfo;
  loadAvgEnd: number[];
  benchDurationS: number;
  config: { runs: number; overheadRounds: number; latencyN: number; throughputN: number; healthSeconds: number; rssSampleMs: number };
  engine: { records: RunRecord[]; stats: CellStats[] };
  overhead: OverheadResult | null;
  overheadError: string | null;
  pyKernel: PyKernelResult | null;
  pyKernelError: string | null;
  service: ServiceResults;
  /** Absent in results written before schedules existed. */
  schedules?: ScheduleBenchResults;
  /** One worker node against two (issue 10); absent in results written before it existed. */
  workers?: WorkersBenchResults;
  /** Per-job store overhead, PostgreSQL vs SQLite (issue 10); absent in older results. */
  store?: StoreBenchResults;
  /** A store with a long history, 1,000,000 jobs (issue 16); absent in older results or when skipped. */
  million?: MillionBenchResults;
  pipelines?: PipelineBench;
  /** The cold CLI against papermill and the bare kernel start (issue 19); absent in older results or when skipped. */
  cold?: ColdResults;
  /** Large outputs, service RSS and `hubmill run` against the peer (issue 19); absent in older results or when skipped. */
  bigout?: BigoutBenchResults;
  peerThroughput: { n: number; ok: number; parallel: number; elapsedMs: number; perSecond: number; failures: string[] };
  /** Fork-server figures (issue 11); null when skipped. */
  fork?: ForkBenchResults | null;
  /** Per-job CPU at 5 jobs/s, by process and phase (issue 19, bench/cpu.ts); absent in older results. */
  cpu?: CpuBenchResults | null;
  /** This build against BENCH_BASELINE's, same run (bench/ab-service.ts); absent when not asked for. */
  baseline?: AbResults | null;
}

const f = (x: number | null | undefined, d = 0): string => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const mbs = (kb: number | undefined): string => (kb && Number.isFinite(kb) ? `${(kb / 1024).toFixed(0)} MB` : 'n/a');
const verdict = (ok: boolean | null): string => (ok === null ? 'n/a' : ok ? '**PASS**' : '**FAIL**');

const LABELS: Record<string, string> = {
  hubmill: '`hubmill run IN OUT --no-progress-bar`',
  nbconvert: '`jupyter nbconvert --to notebook --execute` (the peer)',
  nbclient: '`jupyter execute` (nbclient)',
};

export function renderReport(r: BenchResults): string {
  const m = r.machine;
  const st = (tool: string, nb: string) => r.engine.stats.find((s) => s.tool === tool && s.notebook === nb);
  const hT = st('hubmill', 'trivial');
  const hM = st('hubmill', 'cells200');
  const nT = st('nbconvert', 'trivial');
  const nM = st('nbconvert', 'cells200');
  const xT = st('nbclient', 'trivial');
  const xM = st('nbclient', 'cells200');
  const ratioTrivial = hT && nT ? hT.medianWallMs / nT.medianWallMs : NaN;
  const perCell = (a?: CellStats, b?: CellStats) => (a && b ? (b.medianWallMs - a.medianWallMs) / 199 : NaN);
  const hPerCell = perCell(hT, hM);
  const nPerCell = perCell(nT, nM);
  const xPerCell = perCell(xT, xM);
  const kernelOwn = r.pyKernel?.medianPerCellMs ?? NaN;
  const o = r.overhead;
  const s = r.service;
  const L: string[] = [];
  const p = (line = '') => L.push(line);

  p('# hubmill benchmarks');
  p();
  p(`Measured ${m.date} on \`${m.hostname}\`: **${m.nproc} cores** (${m.cpuModel}), ${m.memTotalMb} MB RAM, ${m.kernel}.`);
  p(`Load average at start: **${m.loadAvgStart.join(' / ')}** (1/5/15 min); at the end: ${r.loadAvgEnd.join(' / ')}. Whole bench: ${f(r.benchDurationS)} s.`);
  p();
  p(
    `Versions: hubmill ${m.versions.hubmill} (commit ${m.gitCommit ?? '?'}${m.gitDirty ? ', with uncommitted changes in the checkout' : ''}), Node ${m.versions.node}; ` +
      `Python ${m.versions.python}, nbconvert ${m.versions.nbconvert}, nbclient ${m.versions.nbclient}, jupyter_client ${m.versions.jupyter_client}, ipykernel ${m.versions.ipykernel}, pyzmq ${m.versions.pyzmq} (Debian packages).`,
  );
  p();
  const pmPeer = [r.cold?.peer, r.bigout?.peer].find((x) => x?.id === 'papermill');
  p(
    `${m.versions.papermill ? `papermill ${m.versions.papermill} is installed for /usr/bin/python3.` : '**papermill is not installed for /usr/bin/python3** (it is not packaged by Debian and PyPI is not reachable here).'} ` +
      `${pmPeer ? `The issue 19 sections that name papermill as their peer (the cold CLI${r.bigout?.peer.id === 'papermill' ? ', large outputs' : ''}) ran ${pmPeer.label}, found as each section says. ` : ''}` +
      'The peer of the other ratio targets is `jupyter nbconvert --to notebook --execute`, which, like papermill, starts a kernel with jupyter_client and runs the cells with nbclient; papermill adds its own work on top (parameter injection, per-cell output saving), so ratios against nbconvert are conservative for hubmill.',
  );
  p();
  p(`Runs: **${r.config.runs}** per tool and notebook (plus one untimed warm-up per tool), interleaved; medians reported. Absolute numbers are noisy: on a virtual machine they vary from run to run even with nothing else running (the load average above says what else ran), so the ratios compare numbers taken in the same run.`);
  p();

  p('## Targets');
  p();
  p('| target | measured | verdict |');
  p('| --- | --- | --- |');
  p(`| trivial notebook, whole process: hubmill ≤ 0.5 × peer | ${f(hT?.medianWallMs)} ms / ${f(nT?.medianWallMs)} ms = **${f(ratioTrivial, 2)}** | ${verdict(Number.isFinite(ratioTrivial) ? ratioTrivial <= 0.5 : null)} |`);
  p(
    `| orchestration overhead < 0.5 ms per cell beyond the kernel's own (in process, same warm kernel) | ${o ? `**${f(o.overheadPerCellMs, 3)} ms/cell** (engine ${f(o.medianEnginePerCellMs, 2)} vs raw KernelClient ${f(o.medianRawPerCellMs, 2)} ms/cell)` : `not measured: ${r.overheadError}`} | ${verdict(o ? o.overheadPerCellMs < 0.5 : null)} |`,
  );
  const lat = s.latency;
  p(
    `| service, warm pool: trivial notebook end to end < 50 ms | ${s.measured && lat && lat.ok > 0 ? `**${f(lat.medianMs, 1)} ms** median (p90 ${f(lat.p90Ms, 1)}); peer cold run ${f(nT?.medianWallMs)} ms = ${f(nT && lat ? nT.medianWallMs / lat.medianMs : NaN, 0)}× faster` : `not measured: ${s.reason ?? s.sectionErrors.latency ?? 'no successful request'}`} | ${verdict(s.measured && lat && lat.ok > 0 ? lat.medianMs < 50 : null)} |`,
  );
  const tp = s.throughput;
  const peer = r.peerThroughput;
  const tpRatio = tp && peer.perSecond > 0 ? tp.perSecond / peer.perSecond : NaN;
  p(
    `| sustained throughput ≥ 3 × peer run 2 in parallel | ${s.measured && tp ? `${f(tp.perSecond, 2)} vs ${f(peer.perSecond, 2)} notebooks/s = **${f(tpRatio, 1)}×**` : `not measured: ${s.reason ?? s.sectionErrors.throughput ?? '?'}`} | ${verdict(s.measured && tp && Number.isFinite(tpRatio) ? tpRatio >= 3 && tp.ok === tp.n : null)} |`,
  );
  p(
    `| service idles under 150 MB RSS (kernels excluded) | ${s.measured && s.idle ? `**${mbs(s.idle.serviceRssKb)}** after start with the pool warm; ${mbs(s.idleAfter?.serviceRssKb)} after the load below (kernels excluded)` : `not measured: ${s.reason}`} | ${verdict(s.measured && s.idle ? Math.max(s.idle.serviceRssKb, s.idleAfter?.serviceRssKb ?? 0) < 150 * 1024 : null)} |`,
  );
  p();

  const coldLines = r.cold ? renderColdBench(r.cold).split('\n') : [];
  const bigoutLines = r.bigout ? renderBigoutBench(r.bigout) : [];
  const forkLines = renderForkSection(r.fork, peer.perSecond);
  const cpuLines = r.cpu !== undefined ? renderCpuSection(r.cpu) : [];
  // Issue 19's targets at a glance: the target rows of the sections below, copied (each verdict is computed once, in its section).
  p('## Issue 19 targets at a glance');
  p();
  p(`The rows of the sections below that carry issue 19's targets, as measured on this machine (${m.cpuModel}, ${m.nproc} cores); each section says when it was measured and at what load.`);
  p();
  p('| section | target | measured | verdict |');
  p('| --- | --- | --- | --- |');
  const rows = (section: string, lines: string[], keep: (row: string) => boolean = () => true) => {
    const found = targetRows(lines).filter(keep);
    if (found.length === 0) p(`| ${section} | (not measured in these results) | | n/a |`);
    for (const row of found) p(`| ${section} ${row}`);
  };
  rows('fork server', forkLines, (row) => row.startsWith('| **'));
  rows('per-job CPU', cpuLines);
  rows('large outputs', bigoutLines);
  rows('cold CLI', coldLines);
  p();
  p('## Engine: whole process, wall time and peak memory');
  p();
  p('| tool | notebook | median wall | min – max | median peak RSS (process tree, kernel included) | ok runs |');
  p('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const cs of r.engine.stats) {
    p(`| ${LABELS[cs.tool] ?? cs.tool} | ${cs.notebook === 'trivial' ? 'trivial (1 cell)' : '200 cells'} | ${f(cs.medianWallMs)} ms | ${f(cs.minWallMs)} – ${f(cs.maxWallMs)} ms | ${mbs(cs.medianPeakRssKb)} | ${cs.ok}/${cs.runs} |`);
  }
  p();
  p('Ratios and per-cell costs from the table:');
  p();
  p(`- trivial: hubmill / nbconvert = **${f(ratioTrivial, 2)}** (target ≤ 0.5); hubmill / jupyter execute = ${f(hT && xT ? hT.medianWallMs / xT.medianWallMs : NaN, 2)}.`);
  p(`- 200 cells: hubmill / nbconvert = ${f(hM && nM ? hM.medianWallMs / nM.medianWallMs : NaN, 2)}; hubmill / jupyter execute = ${f(hM && xM ? hM.medianWallMs / xM.medianWallMs : NaN, 2)}.`);
  p(
    `- whole-process cost per extra cell, (200-cell − trivial) / 199: hubmill **${f(hPerCell, 2)} ms**, nbconvert ${f(nPerCell, 2)} ms, jupyter execute ${f(xPerCell, 2)} ms. ` +
      `The kernel's own per-cell time through jupyter_client's BlockingKernelClient (execute_request → reply + idle, same 200 cells, warm kernel): ${r.pyKernel ? `**${f(kernelOwn, 2)} ms**` : `not measured (${r.pyKernelError})`}, ` +
      `so hubmill's whole-process per-cell cost beyond it is ${f(hPerCell - kernelOwn, 2)} ms (this difference of medians of whole processes is noisy; the in-process figure below is the precise one).`,
  );
  p();
  p('## Engine: orchestration overhead per cell, in process');
  p();
  if (o) {
    p(`Same warm python3 kernel, ${o.cells} cells \`x_i = i * 2\`, ${o.rounds} alternating rounds (after one warm-up of each):`);
    p();
    p('| path | median total | per cell |');
    p('| --- | ---: | ---: |');
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    p(`| raw round trips: \`KernelClient.execute(code)\` (reply + idle) | ${f(med(o.rawTotalMs), 1)} ms | ${f(o.medianRawPerCellMs, 3)} ms |`);
    p(`| \`executeNotebook\` (kept kernel, output file saved, events) | ${f(med(o.engineTotalMs), 1)} ms | ${f(o.medianEnginePerCellMs, 3)} ms |`);
    p(`| **overhead** (median over rounds of (engine − raw) / ${o.cells}) | | **${f(o.overheadPerCellMs, 3)} ms** (cell loop only: ${f(o.overheadPerCellLoopOnlyMs, 3)} ms; rounds ranged ${f(Math.min(...o.engineTotalMs.map((e, i) => (e - o.rawTotalMs[i]!) / o.cells)), 3)} … ${f(Math.max(...o.engineTotalMs.map((e, i) => (e - o.rawTotalMs[i]!) / o.cells)), 3)} ms) |`);
    const minEst = (Math.min(...o.engineTotalMs) - Math.min(...o.rawTotalMs)) / o.cells;
    p(`| overhead, second estimator: (fastest engine round − fastest raw round) / ${o.cells} | | ${f(minEst, 3)} ms |`);
    const x = o.exactDisplayDecode;
    if (x)
      p(
        `| exact numbers (issue 16 §0): decoding one display message of ${x.bytes} bytes with floats and a big integer, exact vs \`JSON.parse\` (both sides above decode through the same codec, so the difference cannot show it) | | ${f(x.exactUs, 1)} µs vs ${f(x.plainUs, 1)} µs: **+${f((x.exactUs - x.plainUs) / 1000, 4)} ms** per display message |`,
      );
    p();
    p('A negative or widely spread overhead means the machine\'s noise between rounds exceeded the engine\'s cost; re-run on a quiet machine with more rounds (`BENCH_OVERHEAD_ROUNDS`) for a tighter figure.');
    p();
    p(
      `Context (product doc reference figures in parentheses): kernel start to ready with hubmill's KernelClient ${f(o.kernelStartMs.median)} ms (prototype 0.45 s), ` +
        `with jupyter_client ${r.pyKernel ? `${f(r.pyKernel.kernelStartToReadyMs)} ms` : 'n/a'} (0.69 s); one trivial cell round trip: hubmill ${f(o.oneTrivialCellRoundTripMs, 2)} ms (4.7 ms), ` +
        `jupyter_client ${r.pyKernel ? `${f(r.pyKernel.oneTrivialCellRoundTripMs, 2)} ms` : 'n/a'} (4.2 ms).`,
    );
  } else {
    p(`not measured: ${r.overheadError}`);
  }
  p();

  p('## Service (`hubmill serve`, warm pool)');
  p();
  if (!s.measured) {
    p(`not measured: ${s.reason}`);
    p();
    p(`Peer throughput (measured anyway): ${peer.ok}/${peer.n} trivial notebooks with \`jupyter nbconvert --execute\`, 2 in parallel, in ${f(peer.elapsedMs)} ms = ${f(peer.perSecond, 2)} notebooks/s.`);
  } else {
    p(`Started as \`node --max-semi-space-size=2 dist/cli/index.js serve --host 127.0.0.1 --port P\` with HUBMILL_POOL=python3:${s.poolSize}, concurrency ${s.concurrency ?? 'default'} (the default: number of cores), log level ${s.logLevel} (logs to a file), rate limits off. /health answered 200 after ${f(s.startToHealthyMs)} ms, the pool was full after ${f(s.startToPoolWarmMs)} ms.`);
    p();
    p('| measurement | result |');
    p('| --- | --- |');
    if (lat) {
      p(
        `| trivial notebook, \`POST /api/v1/jobs?wait=true\`, sequential, pool full before each (${lat.warmBeforeEach}/${lat.n}) | median **${f(lat.medianMs, 1)} ms**, p90 ${f(lat.p90Ms, 1)} ms, min ${f(lat.minMs, 1)}, max ${f(lat.maxMs, 1)} ms; ${lat.ok}/${lat.n} succeeded with an output file; job's own duration_s median ${f(lat.medianServerDurationMs, 1)} ms |`,
      );
      p(`| the same notebook, peer cold run (\`jupyter nbconvert --execute\`, table above) | ${f(nT?.medianWallMs)} ms (${f(nT && lat.ok ? nT.medianWallMs / lat.medianMs : NaN, 0)}× the service's latency) |`);
    } else p(`| latency | not measured: ${s.sectionErrors.latency} |`);
    if (tp) {
      p(`| throughput: ${tp.n} trivial notebooks submitted at once (\`wait=true\`), until all finished | ${tp.ok}/${tp.n} succeeded in ${f(tp.elapsedMs)} ms = **${f(tp.perSecond, 2)} notebooks/s** |`);
      p(`| peer: ${peer.n} × \`jupyter nbconvert --execute\`, 2 in parallel on the same cores | ${peer.ok}/${peer.n} in ${f(peer.elapsedMs)} ms = **${f(peer.perSecond, 2)} notebooks/s** → ratio **${f(tpRatio, 1)}×** (target ≥ 3×) |`);
    } else p(`| throughput | not measured: ${s.sectionErrors.throughput} |`);
    if (s.health) {
      p(`| \`GET /health\`, ${s.health.connections} keep-alive connections for ${f(s.health.durationMs / 1000, 1)} s | **${f(s.health.perSecond)} req/s**, median latency ${f(s.health.medianLatencyMs, 2)} ms (${s.health.non200} non-200, ${s.health.errors} errors) |`);
    } else p(`| /health | not measured: ${s.sectionErrors.health} |`);
    if (s.idle) {
      p(`| idle RSS after start, pool warm | service process **${mbs(s.idle.serviceRssKb)}** (kernels excluded); with its ${s.idle.descendants} descendant processes (pooled kernels and helpers): ${mbs(s.idle.treeRssKb)} |`);
    }
    if (s.idleAfter) {
      p(`| idle RSS after all of the above, pool refilled | service process ${mbs(s.idleAfter.serviceRssKb)} (peak during the run, VmHWM: ${mbs(s.idleAfter.serviceHwmKb)}); with ${s.idleAfter.descendants} descendants: ${mbs(s.idleAfter.treeRssKb)} |`);
    }
    p();
    const fails = [...(lat?.failures ?? []), ...(tp?.failures ?? [])];
    if (fails.length) p(`Failures seen: ${fails.map((x) => `\`${x.replace(/`/g, "'")}\``).join('; ')}`);
    if (peer.failures.length) p(`Peer failures: ${peer.failures.join('; ')}`);
  }
  p();

  if (r.schedules) {
    p('## Schedules: API latency with 1,000 schedules firing every minute');
    p();
    p(renderScheduleBench(r.schedules));
    p();
  }
  if (r.workers) {
    p('## Scale-out: one worker node against two');
    p();
    p(renderWorkersBench(r.workers));
    p();
  }
  if (r.store) {
    p('## Store: per-job claim and finish overhead, PostgreSQL vs SQLite');
    p();
    p(renderStoreBench(r.store));
    p();
  }
  if (r.million) {
    p(`## Store with a long history: ${r.million.n.toLocaleString('en')} jobs, SQLite and PostgreSQL`);
    p();
    p(renderMillionBench(r.million));
    p();
  }
  for (const line of renderPipelineSection(r.pipelines)) p(line);
  if (r.cold) {
    p('## The cold CLI: `hubmill run` against papermill and the bare kernel start');
    p();
    for (const line of coldLines) p(line);
    p();
  }
  if (r.bigout) {
    p(`## Large outputs: ${r.bigout.outputMiB} MiB of stdout`);
    p();
    for (const line of bigoutLines) p(line);
    p();
  }
  for (const line of forkLines) p(line);
  for (const line of cpuLines) p(line);
  if (r.baseline) for (const line of renderAbSection(r.baseline)) p(line);

  p('## Method');
  p();
  p('- Notebooks are generated into a temporary folder on every run: `trivial.ipynb` (one cell `1+1`) and `cells200.ipynb` (200 cells `x_i = i * 2`), nbformat 4.5 with the `python3` kernelspec in their metadata; every tool uses the same Debian `python3` kernel (`/usr/bin/python3 -m ipykernel_launcher`).');
  p('- Commands: `node dist/cli/index.js run IN OUT --no-progress-bar`; `/usr/bin/jupyter-nbconvert --to notebook --execute IN --output-dir DIR --output out` (the script `jupyter nbconvert` dispatches to, called directly so the peer does not pay for the dispatcher); `/usr/bin/jupyter-execute IN` (nbclient 0.7 writes no output file). Each run must exit 0, and, for the tools that write one, leave a non-empty output notebook; failed runs are excluded from the medians and counted in "ok runs".');
  p('- Order: one untimed warm-up per tool, then for each run and each notebook every tool once, the order rotated from run to run so no tool is always first.');
  p('- Wall time: from `spawn` to the process\'s exit, measured by the bench with `performance.now()`.');
  p(`- Peak memory: every ${r.config.rssSampleMs} ms the bench walks the process tree of the command through \`/proc/<pid>/task/<tid>/children\` (so the kernel counts even though Jupyter launchers put it in its own session) and sums each member\'s RSS from \`/proc/<pid>/statm\`; the maximum sum is reported. RSS counts shared pages in every process (not PSS), the same rule for every tool; processes that live less than one interval can be missed.`);
  p('- In-process overhead (`bench/overhead.ts`, run as its own Node process on the built `dist/`): one python3 kernel launched with `KernelClient.launch(await getKernelSpec(\'python3\'))`; alternately (a) the 200 cells as raw `k.execute(code)` round trips (each waits for execute_reply and the idle status) and (b) `executeNotebook({ kernels: givenKernel(k, { keep: true }), cwd })` on the same notebook, which adds output mapping, papermill metadata, events and the debounced output saving (first and final writes included). Overhead per cell = median over rounds of (b − a) / 200.');
  p("- Kernel's own per-cell time (`bench/kernel_roundtrip.py`, `/usr/bin/python3`): jupyter_client's `KernelManager` + `BlockingKernelClient`, the same 200 cells, each `execute` waited until its reply and its idle status; median of 3 rounds after a warm-up round.");
  p('- Service: a fresh data dir and a home template `<tmp>/homes/{username}` with user `bench` holding `trivial.ipynb`; token auth (`Authorization: token …`). Latency: one warm-up request, then sequential requests, each sent once `/health` reports the python3 pool full (idle = target, none starting), so every job gets a pre-started kernel; the time is the client\'s, from sending the request to the complete response, and each job must be `succeeded` with its `output_path` present on disk. Throughput: the pool is full, then N requests are sent at once and the time runs until the last response. The peer throughput runs N cold `jupyter nbconvert --execute` processes with at most 2 at a time on the same machine after the service has stopped. /health: several keep-alive loops on one `http.Agent` for a few seconds. Idle RSS: `/proc/<pid>/statm` of the service\'s Node process (kernels excluded) and of its process tree (kernels included), 2 s after the pool is full.');
  p('- All sockets are on 127.0.0.1; every loop is bounded in count and time.');
  p();
  p('Reference figures from the product doc (papermill 2.6, same kind of 2-core machine, not measured here): trivial notebook whole process 1.5 s; 50 small cells 2.1 s; kernel start to ready 0.69 s (jupyter_client) / 0.45 s (Node ZeroMQ prototype); one trivial cell round trip 4.2 ms / 4.7 ms.');
  p();
  p('Raw numbers of every run are in `bench/results.json`. Re-run with `npm run bench` (`BENCH_RUNS=N` for more runs).');
  p();
  return L.join('\n');
}

/** The rows of a section's `| target | measured | verdict |` tables, without their header. */
function targetRows(lines: string[]): string[] {
  const out: string[] = [];
  let inTable = false;
  for (const line of lines) {
    if (line === '| target | measured | verdict |') inTable = true;
    else if (!line.startsWith('|')) inTable = false;
    else if (inTable && !line.startsWith('| ---')) out.push(line);
  }
  return out;
}
