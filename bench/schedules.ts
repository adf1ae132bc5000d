/**
 * Schedules under load (issue 8): API latency of `hubmill serve` with and
 * without 1,000 schedules firing every minute, in the same run.
 *
 * The service runs as its own process. A probe sends GET /api/v1/jobs?limit=10
 * every 50 ms for a window that spans a minute boundary, first with no
 * schedules, then with 1,000 `* * * * *` schedules. Their notebook is removed
 * after they are created, so every fire makes a real job that the runner fails
 * at once: the figure is the scheduler's and the job store's cost (1,000 fires,
 * jobs and job ends per minute), not kernels'. Latencies in the 3 s after each
 * minute boundary (when all 1,000 fire) are reported apart.
 *
 * Alone: node --import tsx bench/schedules.ts  (after npx tsc -p tsconfig.build.json)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { request } from './lib/http.js';
import { median, percentile, sleep } from './lib/stats.js';
import { waitForServeUrl } from './lib/serve-banner.js';

export interface LatencyWindow {
  n: number;
  errors: number;
  medianMs: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Requests sent in the 3 s after a minute boundary. */
  boundary: { n: number; medianMs: number; p90Ms: number; maxMs: number };
}

export interface ScheduleBenchResults {
  measured: boolean;
  reason?: string;
  schedules: number;
  windowS: number;
  createMs?: number;
  without?: LatencyWindow;
  with?: LatencyWindow;
  /** Jobs the schedules made during the "with" window. */
  jobsFired?: number;
}

const TOKEN = 'bench-schedules-token';
const NB = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, cells: [] });

function summarize(samples: { at: number; ms: number }[], errors: number): LatencyWindow {
  const all = samples.map((s) => s.ms);
  const b = samples.filter((s) => s.at % 60_000 < 3000).map((s) => s.ms);
  return {
    n: all.length,
    errors,
    medianMs: median(all),
    p90Ms: percentile(all, 90),
    p99Ms: percentile(all, 99),
    maxMs: Math.max(...all),
    boundary: { n: b.length, medianMs: median(b), p90Ms: percentile(b, 90), maxMs: b.length ? Math.max(...b) : NaN },
  };
}

async function probe(base: string, agent: http.Agent, seconds: number): Promise<LatencyWindow> {
  const samples: { at: number; ms: number }[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const at = Date.now();
    const t = performance.now();
    try {
      const r = await request(`${base}/api/v1/jobs?limit=10`, { agent, headers: { authorization: `token ${TOKEN}` }, timeoutMs: 10_000 });
      if (r.status === 200) samples.push({ at, ms: performance.now() - t });
      else errors++;
    } catch {
      errors++;
    }
    await sleep(Math.max(0, 50 - (Date.now() - at)));
  }
  return summarize(samples, errors);
}

export async function benchSchedules(opts: { root: string; workDir: string; count?: number; windowS?: number; log: (s: string) => void }): Promise<ScheduleBenchResults> {
  const count = opts.count ?? 1000;
  const windowS = opts.windowS ?? 65;
  const out: ScheduleBenchResults = { measured: false, schedules: count, windowS };
  const cli = join(opts.root, 'dist', 'cli', 'index.js');
  if (!existsSync(cli)) return { ...out, reason: 'dist/cli/index.js missing (build first)' };
  const home = join(opts.workDir, 'sched-homes', 'bench');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'gone.ipynb'), NB);
  const child = spawn(process.execPath, ['--max-semi-space-size=2', cli, 'serve', '--host', '127.0.0.1', '--port', '0'], {
    cwd: opts.workDir,
    env: {
      ...process.env,
      HUBMILL_API_TOKEN: TOKEN,
      HUBMILL_HOME_TEMPLATE: join(opts.workDir, 'sched-homes', '{username}'),
      HUBMILL_DATA_DIR: join(opts.workDir, 'sched-data'),
      HUBMILL_POOL: 'python3:0',
      HUBMILL_LOG_LEVEL: 'warn',
      HUBMILL_RATE_LIMIT_PER_MIN: '0',
      HUBMILL_RATE_LIMIT_IP_PER_MIN: '0',
      HUBMILL_MAX_QUEUED_PER_USER: '0',
      JUPYTERHUB_API_URL: '',
      JUPYTERHUB_API_TOKEN: '',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const base = await waitForServeUrl(child);
    opts.log(`  schedules: probing API latency without schedules for ${windowS} s`);
    out.without = await probe(base, agent, windowS);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const r = await request(`${base}/api/v1/schedules`, {
        method: 'POST',
        agent,
        headers: { authorization: `token ${TOKEN}` },
        body: { name: `s${i}`, username: 'bench', notebook: 'gone.ipynb', cron: '* * * * *' },
      });
      if (r.status !== 201) throw new Error(`creating schedule ${i}: ${r.status} ${r.body.slice(0, 200)}`);
    }
    out.createMs = performance.now() - t0;
    unlinkSync(join(home, 'gone.ipynb'));
    opts.log(`  schedules: ${count} created in ${out.createMs.toFixed(0)} ms; probing with them for ${windowS} s`);
    const before = Date.now();
    out.with = await probe(base, agent, windowS);
    let fired = 0;
    let cursor = '';
    for (;;) {
      const r = await request(`${base}/api/v1/jobs?limit=500${cursor ? `&cursor=${cursor}` : ''}`, { agent, headers: { authorization: `token ${TOKEN}` } });
      const page = r.json as { jobs: { created_at: string; schedule_id: string | null }[]; next_cursor: string | null };
      fired += page.jobs.filter((j) => j.schedule_id && Date.parse(j.created_at) >= before).length;
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    out.jobsFired = fired;
    out.measured = true;
    return out;
  } catch (e) {
    return { ...out, reason: (e as Error).message };
  } finally {
    agent.destroy();
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await once(child, 'exit');
      clearTimeout(t);
    }
  }
}

export function renderScheduleBench(r: ScheduleBenchResults): string {
  if (!r.measured) return `Schedules under load: not measured (${r.reason}).`;
  const f = (x: number) => `${x.toFixed(1)} ms`;
  const row = (name: string, w: LatencyWindow) =>
    `| ${name} | ${w.n} | ${f(w.medianMs)} | ${f(w.p90Ms)} | ${f(w.p99Ms)} | ${f(w.maxMs)} | ${w.boundary.n} | ${f(w.boundary.medianMs)} | ${f(w.boundary.p90Ms)} | ${f(w.boundary.maxMs)} | ${w.errors} |`;
  return [
    `API latency (GET /api/v1/jobs?limit=10 every 50 ms for ${r.windowS} s) without and with ${r.schedules} schedules firing every minute; ` +
      `${r.jobsFired} jobs fired during the second window; creating the schedules took ${(r.createMs! / 1000).toFixed(1)} s.`,
    '',
    '| | requests | median | p90 | p99 | max | in 3 s after :00 | median | p90 | max | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    row('without schedules', r.without!),
    row(`with ${r.schedules} schedules`, r.with!),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const workDir = mkdtempSync(join(os.tmpdir(), 'hubmill-bench-sched-'));
  const r = await benchSchedules({ root, workDir, log: (s) => console.error(s), count: Number(process.env.BENCH_SCHEDULES ?? 1000) });
  rmSync(workDir, { recursive: true, force: true });
  console.log(JSON.stringify(r, null, 2));
  console.log(renderScheduleBench(r));
}
