/**
 * The API and UI half of bench/million.ts: a `hubmill serve` on the seeded
 * store (`--role api` on PostgreSQL, so it claims nothing), `GET /api/v1/jobs` timed through real HTTP, and the UI's jobs page in
 * Debian Chromium.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import { request } from './lib/http.js';
import { waitForServeUrl } from './lib/serve-banner.js';
import { median, percentile } from './lib/stats.js';

export interface Latency {
  n: number;
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

export interface ListingCase {
  name: string;
  /** The query string after /api/v1/jobs? */
  query: string;
  targetMs: number;
  latency: Latency;
  /** Jobs on the page (the last timed response). */
  rows: number;
}

export interface UiTiming {
  /** Navigation to `#/jobs?all=1` until the 25 rows of the newest page are in the table. */
  firstPageMs: number[];
  /** Click on "Older" until the next page's rows replaced them. */
  olderMs: number[];
}

export const TOKEN = 'bench-million-token';

export function summarize(xs: number[]): Latency {
  return { n: xs.length, medianMs: median(xs), p99Ms: percentile(xs, 99), maxMs: xs.length ? Math.max(...xs) : NaN };
}

export interface Serving {
  base: string;
  agent: http.Agent;
  get(path: string): Promise<{ status: number; json: unknown; body: string }>;
  stop(): Promise<void>;
}

export async function startServe(root: string, work: string, env: Record<string, string>): Promise<Serving> {
  // An api node claims nothing (the seeded queued jobs stay queued); SQLite has only single-node serving, whose runner fails them at once (their homes do not exist).
  const role = env.HUBMILL_DATABASE_URL ? ['--role', 'api'] : [];
  const child = spawn(process.execPath, [join(root, 'dist', 'cli', 'index.js'), 'serve', '--host', '127.0.0.1', '--port', '0', ...role], {
    cwd: work,
    env: {
      ...process.env,
      HUBMILL_API_TOKEN: TOKEN,
      HUBMILL_HOME_TEMPLATE: join(work, 'homes', '{username}'),
      HUBMILL_POOL: 'python3:0',
      HUBMILL_LOG_LEVEL: 'warn',
      // The seeded history is older than the default 30 days: keep it.
      HUBMILL_RETENTION_DAYS: '0',
      HUBMILL_RATE_LIMIT_PER_MIN: '0',
      HUBMILL_RATE_LIMIT_IP_PER_MIN: '0',
      JUPYTERHUB_API_URL: '',
      JUPYTERHUB_API_TOKEN: '',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  };
  try {
    const base = await waitForServeUrl(child, 120_000);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    return {
      base,
      agent,
      get: (path) => request(`${base}${path}`, { agent, headers: { authorization: `token ${TOKEN}` }, timeoutMs: 60_000 }),
      stop: async () => {
        agent.destroy();
        await stop();
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

type Page = { jobs: { id: string }[]; next_cursor: string | null };

/** Times one listing until `maxN` requests or `budgetMs`, after one untimed warm-up; at least `minN`. */
export async function timeListing(s: Serving, query: string, o: { maxN: number; minN: number; budgetMs: number }): Promise<{ latency: Latency; rows: number }> {
  const path = `/api/v1/jobs?${query}`;
  const check = (r: { status: number; body: string }) => {
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body.slice(0, 200)}`);
  };
  check(await s.get(path));
  const xs: number[] = [];
  let rows = 0;
  const end = performance.now() + o.budgetMs;
  while (xs.length < o.maxN && (xs.length < o.minN || performance.now() < end)) {
    const t = performance.now();
    const r = await s.get(path);
    xs.push(performance.now() - t);
    check(r);
    rows = (r.json as Page).jobs.length;
  }
  return { latency: summarize(xs), rows };
}

/** Follows next_cursor from the newest page to page `page`; returns that page's cursor and how long the walk took. */
export async function walkToPage(s: Serving, page: number, limit: number): Promise<{ cursor: string; walkMs: number }> {
  let cursor = '';
  const t = performance.now();
  for (let p = 1; p < page; p++) {
    const r = await s.get(`/api/v1/jobs?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    const next = (r.json as Page | null)?.next_cursor;
    if (r.status !== 200 || !next) throw new Error(`page ${p}: ${r.status} ${r.body.slice(0, 200)}`);
    cursor = next;
  }
  return { cursor, walkMs: performance.now() - t };
}

/** The jobs page in headless Chromium, signed in with the service token: `rounds` timed loads after one warm-up. */
export async function timeUi(s: Serving, rounds: number): Promise<UiTiming> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 30_000,
  });
  const out: UiTiming = { firstPageMs: [], olderMs: [] };
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    await page.goto(`${s.base}/ui/signin?token=${TOKEN}`);
    await page.waitForURL(`${s.base}/ui/`);
    const rows = () => page.locator('table.jobs tbody tr');
    for (let round = 0; round <= rounds; round++) {
      await page.goto('about:blank');
      const t0 = performance.now();
      await page.goto(`${s.base}/ui/#/jobs?all=1`);
      await page.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr').length === 25);
      const first = performance.now() - t0;
      const newest = await rows().first().getAttribute('data-job-id');
      const t1 = performance.now();
      await page.getByRole('button', { name: 'Older' }).click();
      await page.waitForFunction(
        (id) => {
          const r = document.querySelectorAll('table.jobs tbody tr');
          return r.length === 25 && r[0]!.getAttribute('data-job-id') !== id;
        },
        newest,
      );
      const older = performance.now() - t1;
      if (round > 0) {
        out.firstPageMs.push(first);
        out.olderMs.push(older);
      }
    }
    await context.close();
  } finally {
    await browser.close();
  }
  return out;
}
