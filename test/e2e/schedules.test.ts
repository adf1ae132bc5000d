/**
 * Schedules in real time with real `hubmill serve` processes (dist/cli, built by
 * `npm test`'s ensure step) and real kernels: a per-second schedule fires each
 * time exactly once across a restart (catch-up "all" runs the downtime's
 * times) and with two processes on one data dir; a run's end reaches a signed
 * webhook.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call } from '../helpers/http.js';
import { waitForServeUrl } from '../../bench/lib/serve-banner.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'index.js');
const TOKEN = 'e2e-schedules-token';
const NB = JSON.stringify({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  cells: [
    { cell_type: 'code', id: 'p', metadata: { tags: ['parameters'] }, execution_count: null, outputs: [], source: 'x = 0' },
    { cell_type: 'code', id: 'a', metadata: {}, execution_count: null, outputs: [], source: 'y = x + 1' },
  ],
});

interface Serve {
  child: ChildProcess;
  base: string;
  stop(): Promise<void>;
}

async function serve(env: Record<string, string>): Promise<Serve> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const base = await waitForServeUrl(child);
  return {
    child,
    base,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await once(child, 'exit');
      clearTimeout(t);
    },
  };
}

interface Run {
  id: string;
  status: string;
  scheduled_for: string | null;
  attempt: number;
  created_at: string;
}

async function runsOf(base: string, id: string): Promise<Run[]> {
  const out: Run[] = [];
  let cursor = '';
  for (;;) {
    const r = await call(base, 'GET', `/api/v1/schedules/${id}/runs?limit=500${cursor ? `&cursor=${cursor}` : ''}`, TOKEN);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    out.push(...(r.body.jobs as Run[]));
    if (!r.body.next_cursor) return out.reverse();
    cursor = r.body.next_cursor;
  }
}

/** Polls `check` every 200 ms until it returns true (bounded). */
async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The fire times are every `stepMs` from the first to the last, each once. */
function assertEveryFireOnce(runs: Run[], stepMs: number): void {
  const times = runs.filter((r) => r.scheduled_for !== null && r.attempt === 1).map((r) => Date.parse(r.scheduled_for!));
  assert.equal(new Set(times).size, times.length, `a fire time ran twice: ${runs.map((r) => r.scheduled_for).join(' ')}`);
  const sorted = [...times].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) {
    assert.equal(sorted[i]! - sorted[i - 1]!, stepMs, `gap between ${new Date(sorted[i - 1]!).toISOString()} and ${new Date(sorted[i]!).toISOString()}`);
  }
}

describe('schedules end to end (real serve processes, real kernels)', { timeout: 300_000 }, () => {
  let root: string;
  let env: Record<string, string>;
  let hook: Server;
  let hookPort = 0;
  const deliveries: { headers: IncomingHttpHeaders; body: string }[] = [];
  const running: Serve[] = [];

  before(async () => {
    assert.ok(existsSync(CLI), 'dist/cli/index.js is missing: build first (npx tsc -p tsconfig.build.json)');
    root = await mkdtemp(join(tmpdir(), 'hubmill-e2e-sched-'));
    await mkdir(join(root, 'homes', 'dora'), { recursive: true });
    await writeFile(join(root, 'homes', 'dora', 'tick.ipynb'), NB);
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        deliveries.push({ headers: req.headers, body });
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookPort = (hook.address() as { port: number }).port;
    env = {
      HUBMILL_HOME_TEMPLATE: join(root, 'homes', '{username}'),
      HUBMILL_POOL: 'python3:1',
      HUBMILL_CONCURRENCY: '2',
      HUBMILL_SHUTDOWN_GRACE_S: '2',
      HUBMILL_LOG_LEVEL: 'warn',
      HUBMILL_API_TOKEN: TOKEN,
      HUBMILL_RATE_LIMIT_PER_MIN: '0',
      HUBMILL_RATE_LIMIT_IP_PER_MIN: '0',
      HUBMILL_WEBHOOK_ALLOW: '127.0.0.1',
      JUPYTERHUB_API_URL: '',
      JUPYTERHUB_API_TOKEN: '',
    };
  });
  after(async () => {
    for (const s of running) await s.stop();
    await new Promise<void>((r) => hook.close(() => r()));
    await rm(root, { recursive: true, force: true });
  });

  async function start(dataDir: string): Promise<Serve> {
    const s = await serve({ ...env, HUBMILL_DATA_DIR: dataDir });
    running.push(s);
    return s;
  }

  it('a per-2-second schedule across a restart: every fire time once, downtime caught up, runs succeed, webhook signed', async () => {
    const data = join(root, 'data-restart');
    const a = await start(data);
    const created = await call(a.base, 'POST', '/api/v1/schedules', TOKEN, {
      name: 'tick', username: 'dora', notebook: 'tick.ipynb', cron: '*/2 * * * * *', parameters: { x: 41 },
      overlap: 'allow', max_concurrent: 50, catchup: 'all',
      notify: { webhook_url: `http://127.0.0.1:${hookPort}/hook`, on: ['succeeded'] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { id, webhook_secret: secret } = created.body as { id: string; webhook_secret: string };
    await until('3 fires before the restart', async () => (await runsOf(a.base, id)).length >= 3);
    await a.stop();
    const downAt = Date.now();
    await until('4 s of downtime', async () => Date.now() - downAt >= 4000, 10_000);
    const b = await start(data);
    const upAt = Date.now();
    await until('fires 4 s after the restart', async () => {
      const runs = await runsOf(b.base, id);
      return runs.some((r) => Date.parse(r.scheduled_for!) >= upAt + 4000);
    });
    assert.equal((await call(b.base, 'POST', `/api/v1/schedules/${id}/pause`, TOKEN)).status, 200);
    const runs = await runsOf(b.base, id);
    assertEveryFireOnce(runs, 2000);
    const during = runs.filter((r) => Date.parse(r.scheduled_for!) > downAt && Date.parse(r.scheduled_for!) < upAt);
    assert.ok(during.length >= 1, 'the downtime\'s fire times were caught up');
    // Fires while up: the job appears soon after its time (reported, bounded loosely: the machine is shared).
    const lags = runs.filter((r) => Date.parse(r.scheduled_for!) > upAt).map((r) => Date.parse(r.created_at) - Date.parse(r.scheduled_for!)).sort((x, y) => x - y);
    console.log(`fire lag after restart (ms): ${lags.join(', ')}`);
    assert.ok(lags[Math.floor(lags.length / 2)]! < 1000, `median fire lag ${lags[Math.floor(lags.length / 2)]} ms`);
    const sched = (await call(b.base, 'GET', `/api/v1/schedules/${id}`, TOKEN)).body as { fires: number; paused: boolean };
    assert.equal(sched.fires, runs.length);
    await until('every run ends', async () => (await runsOf(b.base, id)).every((r) => !['queued', 'running'].includes(r.status)), 120_000);
    const ended = await runsOf(b.base, id);
    const succeeded = ended.filter((r) => r.status === 'succeeded');
    assert.ok(succeeded.length >= runs.length - 3, `runs: ${ended.map((r) => r.status).join(', ')}`);
    await until('a webhook delivery', async () => deliveries.length > 0, 30_000);
    const d = deliveries[0]!;
    assert.equal(d.headers['x-hubmill-signature'], `sha256=${createHmac('sha256', secret).update(d.body).digest('hex')}`);
    const payload = JSON.parse(d.body) as { event: string; job: Run & { schedule_id: string }; schedule: { id: string } };
    assert.equal(payload.event, 'succeeded');
    assert.equal(payload.job.schedule_id, id);
    assert.equal(payload.schedule.id, id);
    const metrics = await call(b.base, 'GET', '/metrics', TOKEN);
    assert.match(metrics.body as string, /hubmill_schedule_events_total\{event="fired"\} [1-9]/);
    assert.match(metrics.body as string, /hubmill_schedule_events_total\{event="caught_up"\} [1-9]/);
    await b.stop();
  });

  it('two serve processes on one data dir: each per-second fire runs exactly once', async () => {
    const data = join(root, 'data-two');
    const a = await start(data);
    const b = await start(data);
    const created = await call(a.base, 'POST', '/api/v1/schedules', TOKEN, {
      name: 'both', username: 'dora', notebook: 'tick.ipynb', cron: '* * * * * *', overlap: 'allow', max_concurrent: 100,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    const t0 = Date.now();
    await until('8 fires', async () => (await runsOf(b.base, id)).length >= 8);
    assert.equal((await call(b.base, 'POST', `/api/v1/schedules/${id}/pause`, TOKEN)).status, 200);
    const runs = await runsOf(a.base, id);
    assertEveryFireOnce(runs, 1000);
    assert.ok(runs.length >= 8);
    console.log(`two processes: ${runs.length} fires in ${Date.now() - t0} ms`);
    await a.stop();
    await b.stop();
  });
});
