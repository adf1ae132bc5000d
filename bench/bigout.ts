/**
 * Large outputs (issue 19): a notebook that writes BENCH_BIGOUT_MB MiB (default 100)
 * to stdout in lines of 1 KiB.
 *
 * - Service: `hubmill serve` (as npm start runs it, pools full, an SSE client following
 *   the job's events); its Node process's RSS just before the job is submitted, and its
 *   peak (VmHWM, read from /proc when the job has ended, plus /proc samples while it
 *   runs). Growth = peak − before; target: at most 2× the output's size.
 * - Command line: `hubmill run` and papermill (found by bench/lib/peer.ts, as the cold
 *   section finds it; else `jupyter nbconvert --execute`, named in the report) on the same notebook, alternating, each run's peak RSS summed over
 *   its process tree (kernel included, the same rule for both); target: hubmill below.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from './lib/http.js';
import { findPeer, type PeerTool } from './lib/peer.js';
import { hwmKb, rssKb, runMeasured } from './lib/proctree.js';
import { startBenchServe } from './lib/serve-child.js';
import { median, sleep } from './lib/stats.js';
import { NODE } from './engine.js';

export interface BigoutBenchResults {
  measured: boolean;
  reason?: string;
  outputMiB: number;
  loadAvgStart: number[];
  loadAvgEnd: number[];
  service: { beforeKb: number; peakKb: number; growthKb: number; jobStatus: string; outputBytes: number; sseEvents: number; wallMs: number } | null;
  serviceError?: string;
  peer: PeerTool;
  cli: Array<{ tool: 'hubmill' | 'peer'; run: number; peakTreeRssKb: number; wallMs: number; ok: boolean; problem?: string }>;
}

/** A notebook whose one cell writes `mib` MiB to stdout, 1 KiB a line. */
export function writeBigNotebook(path: string, mib: number): void {
  const code = `import sys\nline = 'x' * 1023 + '\\n'\nfor i in range(${mib * 1024}):\n    sys.stdout.write(line)\n`;
  const nb = {
    cells: [{ cell_type: 'code', execution_count: null, id: 'big', metadata: {}, outputs: [], source: code }],
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
  writeFileSync(path, JSON.stringify(nb));
}

/** Follows the job's SSE stream (as a browser would) and counts its events; returns a stop function. */
function followEvents(base: string, auth: Record<string, string>, jobId: string): { stop: () => number } {
  let events = 0;
  const req = http.get(`${base}/api/v1/jobs/${jobId}/events`, { headers: { ...auth, accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      events += c.split('\nevent: ').length - 1 + (c.startsWith('event: ') ? 1 : 0);
    });
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  return {
    stop: () => {
      req.destroy();
      return events;
    },
  };
}

export async function measureService(root: string, work: string, mib: number, log: (s: string) => void): Promise<BigoutBenchResults['service']> {
  const svc = await startBenchServe(join(root, 'dist'), join(work, 'serve'));
  try {
    writeBigNotebook(join(svc.home, 'big.ipynb'), mib);
    const pid = svc.child.pid!;
    await sleep(1000);
    const beforeKb = rssKb(pid);
    const t0 = performance.now();
    const sub = await request(`${svc.base}/api/v1/jobs`, { method: 'POST', headers: svc.auth, body: { notebook: 'big.ipynb', username: 'bench' } });
    const job = sub.json as { id?: string } | null;
    if (!job?.id) throw new Error(`submit: HTTP ${sub.status} ${sub.body.slice(0, 200)}`);
    const sse = followEvents(svc.base, svc.auth, job.id);
    let peakKb = beforeKb;
    let status = 'queued';
    let outputPath: string | null = null;
    const end = performance.now() + 600_000;
    while (performance.now() < end) {
      peakKb = Math.max(peakKb, rssKb(pid));
      const j = (await request(`${svc.base}/api/v1/jobs/${job.id}`, { headers: svc.auth })).json as { status?: string; output_path?: string | null } | null;
      status = j?.status ?? status;
      outputPath = j?.output_path ?? null;
      if (['succeeded', 'failed', 'cancelled', 'timed_out'].includes(status)) break;
      await sleep(100);
    }
    const wallMs = performance.now() - t0;
    peakKb = Math.max(peakKb, hwmKb(pid));
    const sseEvents = sse.stop();
    const abs = outputPath ? (outputPath.startsWith('/') ? outputPath : join(svc.home, outputPath)) : null;
    const outputBytes = abs && existsSync(abs) ? statSync(abs).size : 0;
    log(`  serve: RSS ${(beforeKb / 1024).toFixed(0)} MB before, peak ${(peakKb / 1024).toFixed(0)} MB; job ${status}, output ${(outputBytes / 1048576).toFixed(1)} MiB, ${sseEvents} SSE events`);
    return { beforeKb, peakKb, growthKb: peakKb - beforeKb, jobStatus: status, outputBytes, sseEvents, wallMs };
  } finally {
    await svc.stop();
  }
}

export async function benchBigout(o: { root: string; workDir: string; mib: number; runs: number; log: (s: string) => void }): Promise<BigoutBenchResults> {
  const { root, workDir, mib, runs, log } = o;
  const work = join(workDir, 'bigout');
  mkdirSync(work, { recursive: true });
  const { peer, env: peerEnv, argv: peerArgv } = findPeer(process.env);
  const r: BigoutBenchResults = { measured: true, outputMiB: mib, loadAvgStart: os.loadavg(), loadAvgEnd: [], service: null, peer, cli: [] };
  try {
    r.service = await measureService(root, work, mib, log);
  } catch (e) {
    r.serviceError = (e as Error).message;
    log(`  serve: not measured: ${r.serviceError}`);
  }
  const input = join(work, 'big.ipynb');
  writeBigNotebook(input, mib);
  const commands = {
    hubmill: (out: string) => ({ cmd: NODE, args: [join(root, 'dist/cli/index.js'), 'run', input, out, '--no-progress-bar'], env: process.env }),
    peer: (out: string) => ({ ...peerArgv(input, out), env: peerEnv }),
  };
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? (['hubmill', 'peer'] as const) : (['peer', 'hubmill'] as const);
    for (const tool of order) {
      const out = join(work, `cli-${tool}-${run}.ipynb`);
      const c = commands[tool](out);
      const m = await runMeasured(c.cmd, c.args, { cwd: work, env: c.env, timeoutMs: 600_000, sampleMs: 20 });
      const size = existsSync(out) ? statSync(out).size : 0;
      const ok = m.exitCode === 0 && size > mib * 1048576;
      r.cli.push({ tool, run, peakTreeRssKb: m.peakTreeRssKb, wallMs: m.wallMs, ok, ...(ok ? {} : { problem: `exit ${m.exitCode}, output ${size} bytes: ${m.stderrTail.slice(-200)}` }) });
      log(`  ${tool} run ${run}: peak tree RSS ${(m.peakTreeRssKb / 1024).toFixed(0)} MB, ${(m.wallMs / 1000).toFixed(1)} s${ok ? '' : ' (failed)'}`);
    }
  }
  r.loadAvgEnd = os.loadavg();
  return r;
}

const mb = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;

export function renderBigoutBench(r: BigoutBenchResults): string[] {
  const L: string[] = [];
  const out = r.outputMiB * 1024; // KiB
  if (!r.measured) return [`Not measured: ${r.reason ?? 'unknown'}.`];
  L.push(`One cell writes ${r.outputMiB} MiB to stdout in lines of 1 KiB (${r.outputMiB * 1024} lines). Load average ${r.loadAvgStart.map((x) => x.toFixed(2)).join(' ')} at the start of the section, ${r.loadAvgEnd.map((x) => x.toFixed(2)).join(' ')} at its end.`);
  L.push('');
  L.push('| target | measured | verdict |');
  L.push('| --- | --- | --- |');
  if (r.service) {
    const s = r.service;
    const ok = s.jobStatus === 'succeeded' && s.growthKb <= 2 * out;
    L.push(`| \`hubmill serve\`: RSS growth at most 2× the output (${mb(2 * out)}) | ${mb(s.beforeKb)} → peak ${mb(s.peakKb)}: **+${mb(s.growthKb)}** (${(s.growthKb / out).toFixed(2)}× the output); job ${s.jobStatus}, output ${(s.outputBytes / 1048576).toFixed(1)} MiB, ${s.sseEvents} SSE events followed | ${ok ? '**PASS**' : '**FAIL**'} |`);
  } else {
    L.push(`| \`hubmill serve\`: RSS growth at most 2× the output | not measured: ${r.serviceError ?? 'unknown'} | n/a |`);
  }
  const peaks = (tool: 'hubmill' | 'peer') => r.cli.filter((c) => c.tool === tool && c.ok).map((c) => c.peakTreeRssKb);
  const h = peaks('hubmill');
  const p = peaks('peer');
  if (h.length > 0 && p.length > 0) {
    const mh = median(h);
    const mp = median(p);
    L.push(`| \`hubmill run\` peaks below ${r.peer.id} (median of the runs, process tree) | hubmill **${mb(mh)}** (${h.map(mb).join(', ')}), ${r.peer.id} ${mb(mp)} (${p.map(mb).join(', ')}): ${(mh / mp).toFixed(2)}× | ${mh < mp ? '**PASS**' : '**FAIL**'} |`);
  } else {
    L.push(`| \`hubmill run\` peaks below the peer | not measured (${r.cli.filter((c) => !c.ok).map((c) => `${c.tool}: ${c.problem}`).join('; ') || 'no runs'}) | n/a |`);
  }
  L.push('');
  L.push(`Peer: ${r.peer.label}${r.peer.version ? ` (papermill ${r.peer.version})` : ''}${r.peer.source ? `, ${r.peer.source}` : ''}. Service: \`hubmill serve\` started as \`npm start\` starts it (\`--max-semi-space-size=2\`), pools full; RSS of its Node process (kernels excluded) 1 s before the job, and the peak: /proc samples every 100 ms while the job runs and VmHWM once it ended. An SSE client follows the job's events meanwhile. Command line: runs alternate between the tools; peak RSS is summed over each command's process tree (the kernel included) every 20 ms.`);
  return L;
}
