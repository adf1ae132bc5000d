/**
 * Pipelines against plain jobs in the same `hubmill serve` (issue 17), default
 * settings (fork server on):
 *   - edge latency: from an upstream job's end to its dependent job's start
 *     (the jobs' own finished_at / started_at), over chains of trivial tasks;
 *     the peer is a client chaining plain jobs (`?wait=true`, then the next);
 *   - fan-out throughput: one `for_each` task over N trivial items, from the
 *     run's creation to its last job's end, against N plain jobs submitted at
 *     once, from the first submission to the last job's end; rounds alternate;
 *   - checking a 1,000-task pipeline: the pure check and plan
 *     (bench/pipeline-check.ts), and a whole `POST /api/v1/pipelines` of it.
 *   - the run page of a live 1,000-task run, in Chromium (bench/pipeline-page.ts).
 *
 * Environment: BENCH_PIPELINE_ITEMS (200), BENCH_PIPELINE_ROUNDS (2),
 * BENCH_PIPELINE_CHAIN (8 tasks), BENCH_PIPELINE_CHAINS (4 runs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchPipelineCheck, type PipelineCheckBench } from './pipeline-check.js';
import { benchRunPage, type PageBench } from './pipeline-page.js';
import { request } from './lib/http.js';
import { startBenchServe, type BenchServe } from './lib/serve-child.js';
import { median, percentile, sleep } from './lib/stats.js';

export interface Spread {
  n: number;
  medianMs: number;
  p90Ms: number;
  maxMs: number;
}

export interface PipelineBench {
  measured: boolean;
  reason?: string;
  date?: string;
  loadAvg?: [number, number];
  edge?: { pipeline: Spread; plainChain: Spread; chainTasks: number; runs: number };
  fanout?: { items: number; rounds: Array<{ pipelinePerS: number; plainPerS: number }>; ratio: number };
  check?: PipelineCheckBench & { httpCreateMs: Spread };
  page?: PageBench;
  pageError?: string;
}

const TERMINAL = ['succeeded', 'failed', 'cancelled', 'timed_out'];
const spread = (xs: number[]): Spread => ({ n: xs.length, medianMs: median(xs), p90Ms: percentile(xs, 90), maxMs: Math.max(...xs) });
const ms = (iso: string | null | undefined): number => (iso ? Date.parse(iso) : NaN);

interface JobView {
  id: string;
  status: string;
  created_at?: string;
  started_at: string | null;
  finished_at: string | null;
}
interface RunView {
  id: string;
  status: string;
  created_at: string;
  tasks: Array<{ key: string; status: string; jobs: JobView[] }>;
}

class Api {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  constructor(private readonly svc: BenchServe) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await request(`${this.svc.base}/api/v1${path}`, { method, body, agent: this.agent, headers: this.svc.auth, timeoutMs: 300_000 });
    if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
    return r.json as T;
  }

  /** Polls until `get` answers something terminal (bounded). */
  async until<T extends { status: string }>(get: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const x = await get();
      if (TERMINAL.includes(x.status)) return x;
      if (performance.now() > end) throw new Error(`still ${x.status} after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

async function edges(api: Api, chainTasks: number, runs: number): Promise<NonNullable<PipelineBench['edge']>> {
  const tasks = Array.from({ length: chainTasks }, (_, i) => ({ key: `t${i}`, notebook: 'trivial.ipynb', depends_on: i ? [`t${i - 1}`] : [] }));
  const p = await api.call<{ id: string }>('POST', '/pipelines', { name: 'bench-chain', username: 'bench', tasks });
  const pipeline: number[] = [];
  const plainChain: number[] = [];
  for (let r = 0; r < runs; r++) {
    const run = await api.call<RunView>('POST', `/pipelines/${p.id}/runs`, {});
    const done = await api.until(() => api.call<RunView>('GET', `/pipelines/${p.id}/runs/${run.id}`));
    if (done.status !== 'succeeded') throw new Error(`chain run ${done.status}`);
    for (let i = 1; i < chainTasks; i++) {
      const up = done.tasks.find((t) => t.key === `t${i - 1}`)!.jobs.at(-1)!;
      const down = done.tasks.find((t) => t.key === `t${i}`)!.jobs.at(-1)!;
      pipeline.push(ms(down.started_at) - ms(up.finished_at));
    }
    // The peer: the client script a pipeline replaces, chaining plain jobs as fast as their answers come.
    let prev: JobView | null = null;
    for (let i = 0; i < chainTasks; i++) {
      let job = await api.call<JobView>('POST', '/jobs?wait=true', { notebook: 'trivial.ipynb', username: 'bench' });
      if (!TERMINAL.includes(job.status)) job = await api.until(() => api.call<JobView>('GET', `/jobs/${job.id}`));
      if (job.status !== 'succeeded') throw new Error(`plain job ${job.status}`);
      if (prev) plainChain.push(ms(job.started_at) - ms(prev.finished_at));
      prev = job;
    }
  }
  return { pipeline: spread(pipeline), plainChain: spread(plainChain), chainTasks, runs };
}

const lastEnd = (jobs: JobView[]): number => Math.max(...jobs.map((j) => ms(j.finished_at)));

async function fanout(api: Api, items: number, rounds: number): Promise<NonNullable<PipelineBench['fanout']>> {
  const p = await api.call<{ id: string }>('POST', '/pipelines', {
    name: 'bench-fanout',
    username: 'bench',
    tasks: [{ key: 'each', notebook: 'trivial.ipynb', for_each: { items: Array.from({ length: items }, (_, i) => i) } }],
  });
  const out: Array<{ pipelinePerS: number; plainPerS: number }> = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so neither always meets a freshly refilled pool.
    const order = r % 2 === 0 ? (['plain', 'pipeline'] as const) : (['pipeline', 'plain'] as const);
    const row = { pipelinePerS: NaN, plainPerS: NaN };
    for (const which of order) {
      if (which === 'plain') {
        const t0 = Date.now();
        const sent = await Promise.all(Array.from({ length: items }, () => api.call<JobView>('POST', '/jobs', { notebook: 'trivial.ipynb', username: 'bench' })));
        const done = await Promise.all(sent.map((j) => api.until(() => api.call<JobView>('GET', `/jobs/${j.id}`))));
        if (done.some((j) => j.status !== 'succeeded')) throw new Error('a plain job failed');
        row.plainPerS = items / ((lastEnd(done) - Math.min(t0, ...done.map((j) => ms(j.created_at)))) / 1000);
      } else {
        const run = await api.call<RunView>('POST', `/pipelines/${p.id}/runs`, {});
        const done = await api.until(() => api.call<RunView>('GET', `/pipelines/${p.id}/runs/${run.id}`));
        if (done.status !== 'succeeded') throw new Error(`fan-out run ${done.status}`);
        row.pipelinePerS = items / ((lastEnd(done.tasks[0]!.jobs) - ms(done.created_at)) / 1000);
      }
      await sleep(2000);
    }
    out.push(row);
  }
  return { items, rounds: out, ratio: median(out.map((x) => x.pipelinePerS / x.plainPerS)) };
}

async function httpCreate(api: Api, rounds: number): Promise<{ spread: Spread; id: string }> {
  // 1,000 tasks in 20 layers of 50, each after two of the layer before, all on the one notebook.
  const tasks = Array.from({ length: 1000 }, (_, i) => {
    const layer = Math.floor(i / 50);
    const k = i % 50;
    return { key: `t${i}`, notebook: 'trivial.ipynb', depends_on: layer ? [`t${(layer - 1) * 50 + k}`, `t${(layer - 1) * 50 + ((k + 7) % 50)}`] : [] };
  });
  const times: number[] = [];
  let id = '';
  for (let i = 0; i < rounds + 2; i++) {
    const t0 = performance.now();
    id = (await api.call<{ id: string }>('POST', '/pipelines', { name: `bench-big-${i}`, username: 'bench', tasks })).id;
    if (i >= 2) times.push(performance.now() - t0); // two warm-ups
  }
  return { spread: spread(times), id };
}

export async function benchPipelines(o: { root: string; log: (s: string) => void; items: number; rounds: number; chainTasks: number; chains: number }): Promise<PipelineBench> {
  const work = mkdtempSync(join(tmpdir(), 'hubmill-bench-pipelines-'));
  const load0 = Math.round(loadavg()[0]! * 100) / 100;
  let svc: BenchServe | null = null;
  let api: Api | null = null;
  try {
    const check = benchPipelineCheck(30);
    o.log(`  checking 1,000 tasks (check + plan): chain median ${check.chain.medianMs.toFixed(1)} ms (max ${check.chain.maxMs.toFixed(1)}), dag median ${check.dag.medianMs.toFixed(1)} ms (max ${check.dag.maxMs.toFixed(1)})`);
    svc = await startBenchServe(join(o.root, 'dist'), work, { stopGraceMs: 15_000 });
    api = new Api(svc);
    for (let i = 0; i < 5; i++) await api.call('POST', '/jobs?wait=true', { notebook: 'trivial.ipynb', username: 'bench' }); // warm-up
    const { spread: httpCreateMs, id: bigId } = await httpCreate(api, 5);
    o.log(`  POST of a 1,000-task pipeline: median ${httpCreateMs.medianMs.toFixed(0)} ms`);
    const edge = await edges(api, o.chainTasks, o.chains);
    o.log(`  edge latency: pipeline median ${edge.pipeline.medianMs.toFixed(1)} ms (p90 ${edge.pipeline.p90Ms.toFixed(1)}), client-chained plain jobs median ${edge.plainChain.medianMs.toFixed(1)} ms`);
    const fan = await fanout(api, o.items, o.rounds);
    o.log(`  fan-out of ${o.items}: ${fan.rounds.map((r) => `${r.pipelinePerS.toFixed(2)}/s vs plain ${r.plainPerS.toFixed(2)}/s`).join('; ')}; ratio ${fan.ratio.toFixed(2)}`);
    let page: PageBench | undefined;
    let pageError: string | undefined;
    try {
      page = await benchRunPage(svc, bigId);
      o.log(`  run page of 1,000 tasks drawn: median ${page.medianMs.toFixed(0)} ms (max ${page.maxMs.toFixed(0)})`);
    } catch (e) {
      pageError = (e as Error).message;
      o.log(`  run page not measured: ${pageError}`);
    }
    return { measured: true, date: new Date().toISOString(), loadAvg: [load0, Math.round(loadavg()[0]! * 100) / 100], edge, fanout: fan, check: { ...check, httpCreateMs }, page, pageError };
  } catch (e) {
    return { measured: false, reason: (e as Error).message };
  } finally {
    api?.close();
    await svc?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
