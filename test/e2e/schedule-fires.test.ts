/**
 * A schedule's fires in a real `startServer` (SQLite, real python3 kernels),
 * with the runner's poll for queued jobs lengthened to 60 s:
 *
 * - a fired job starts at once: the fire wakes the runner's queue, so the job
 *   is claimed within seconds, not at the next poll;
 * - a notebook deleted after the schedule was saved fails each fire's job with
 *   an error naming the missing notebook, the schedule keeps its fires (each a
 *   visible failed job), and each failure reaches the webhook as `failed`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startServer, type StartedServer } from '../../src/server.js';
import { code, notebookJson } from '../helpers/notebooks.js';

const TOKEN = 'e2e-schedule-fires-token-7a2b';
const HEADERS = { authorization: `token ${TOKEN}`, 'content-type': 'application/json' };
const POLL_MS = 60_000;

interface JobView {
  id: string;
  status: string;
  created_at: string;
  started_at: string | null;
  scheduled_for: string | null;
  error: { ename: string; evalue: string } | null;
}

/** Polls `check` every 50 ms until it returns a value (bounded). */
async function until<T>(what: string, check: () => Promise<T | null | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== null && v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** start_at/end_at around the next whole seconds at least 2 s away, so a per-second schedule fires exactly `fires` times. */
function window(fires: number): { start_at: string; end_at: string } {
  const first = Math.ceil((Date.now() + 2000) / 1000) * 1000;
  return { start_at: new Date(first - 500).toISOString(), end_at: new Date(first + (fires - 1) * 1000 + 500).toISOString() };
}

describe('schedule fires in a real server (runner poll 60 s)', { timeout: 180_000 }, () => {
  let root: string;
  let home: string;
  let server: StartedServer;
  let base: string;
  let hook: Server;
  let hookUrl: string;
  const deliveries: { event: string; job: { id: string; status: string; error: { evalue: string } | null } }[] = [];

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, { method, headers: HEADERS, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    const text = await r.text();
    return { status: r.status, text, json: (text ? JSON.parse(text) : null) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const runsOf = async (id: string): Promise<JobView[]> => {
    const r = await api('GET', `/api/v1/schedules/${id}/runs?limit=100`);
    assert.equal(r.status, 200, r.text);
    return (r.json.jobs as JobView[]).reverse();
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-e2e-sched-fires-'));
    home = join(root, 'home', 'alice');
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'quick.ipynb'), notebookJson([code('x = 1', ['parameters']), code('y = x + 1')]));
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        deliveries.push(JSON.parse(body));
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
    const config = loadConfig(
      {
        port: 0,
        homeTemplate: join(root, 'home', '{username}'),
        dataDir: join(root, 'data'),
        apiToken: TOKEN,
        poolSizes: 'python3:0',
        concurrency: 2,
        shutdownGraceS: 2,
        webhookAllow: ['127.0.0.1'],
        rateLimitPerMin: 0,
        rateLimitIpPerMin: 0,
      } as never,
      {},
    );
    server = await startServer(config, { signals: false, logger: pino({ level: 'silent' }), print: () => {}, pollIntervalMs: POLL_MS });
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    await server?.close();
    await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
    await rm(root, { recursive: true, force: true });
  });

  it('a fired job is claimed at once, not at the runner\'s next poll', async () => {
    const created = await api('POST', '/api/v1/schedules', { name: 'prompt', username: 'alice', notebook: 'quick.ipynb', cron: '* * * * * *', parameters: { x: 41 }, ...window(1) });
    assert.equal(created.status, 201, created.text);
    const id = created.json.id as string;
    const [job] = await until('the fire', async () => ((await runsOf(id)).length ? runsOf(id) : null), 20_000);
    assert.ok(job);
    // Bounded well below the 60 s poll: only the fire's wake can start it this soon.
    const started = await until(`job ${job.id} claimed`, async () => (await runsOf(id)).find((j) => j.id === job.id && j.started_at !== null), 15_000);
    const claimLagMs = Date.parse(started.started_at!) - Date.parse(started.created_at);
    console.log(`claimed ${claimLagMs} ms after the fire enqueued it (runner poll ${POLL_MS} ms)`);
    assert.ok(claimLagMs < 10_000, `claimed ${claimLagMs} ms after enqueue`);
    const done = await until('the run to end', async () => (await runsOf(id)).find((j) => j.id === job.id && !['queued', 'running'].includes(j.status)), 90_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  });

  it('a notebook deleted after saving: each fire is a failed job naming the missing notebook, each sent to the webhook as `failed`', async () => {
    await writeFile(join(home, 'gone.ipynb'), notebookJson([code('x = 1', ['parameters'])]));
    const created = await api('POST', '/api/v1/schedules', {
      name: 'deleted', username: 'alice', notebook: 'gone.ipynb', cron: '* * * * * *', overlap: 'allow', max_concurrent: 5, ...window(2),
      notify: { webhook_url: hookUrl, on: ['failed'] },
    });
    assert.equal(created.status, 201, created.text);
    const id = created.json.id as string;
    await rm(join(home, 'gone.ipynb'));
    const runs = await until('two failed runs', async () => {
      const r = await runsOf(id);
      return r.length === 2 && r.every((j) => j.status === 'failed') ? r : null;
    }, 30_000);
    for (const j of runs) {
      assert.equal(j.error?.ename, 'NotFoundError');
      assert.match(j.error?.evalue ?? '', /notebook not found in the home of alice: gone\.ipynb/);
    }
    const s = (await api('GET', `/api/v1/schedules/${id}`)).json;
    assert.equal(s.paused, false, 'the schedule is not paused: its next fires fail the same visible way');
    assert.equal(s.fires, 2);
    const sent = await until('two failed webhooks', async () => {
      const mine = deliveries.filter((d) => runs.some((j) => j.id === d.job.id));
      return mine.length === 2 ? mine : null;
    }, 30_000);
    for (const d of sent) {
      assert.equal(d.event, 'failed');
      assert.match(d.job.error?.evalue ?? '', /notebook not found in the home of alice: gone\.ipynb/);
    }
    // Saving a change of the job now refuses the missing notebook up front.
    const edit = await api('PATCH', `/api/v1/schedules/${id}`, { parameters: { x: 2 } });
    assert.equal(edit.status, 422, edit.text);
  });
});
