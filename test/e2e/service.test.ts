/**
 * The service end to end: a real port, the real SQLite store, runner, kernel
 * pool and python3 kernels, homes in a temporary folder via the home template.
 * Covers every seed endpoint with the seed document's payloads (fetch, curl and
 * the seed's Python client), the jobs lifecycle, SSE, cancel, timeouts and the
 * error statuses the issue names.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startServer, type StartedServer } from '../../src/server.js';
import { code, notebookJson as notebook } from '../helpers/notebooks.js';
import { sseSplitter } from '../helpers/sse.js';
import { eventually } from '../helpers/wait.js';

const run = promisify(execFile);
const TOKEN = 'e2e-token-5f2c9a7b';
const AUTH = { authorization: `token ${TOKEN}` };

const glue = (name: string, expr: string) =>
  `from IPython.display import display\ndisplay({'application/scrapbook.scrap.json+json': {'name': '${name}', 'data': ${expr}, 'encoder': 'json', 'version': 1}}, raw=True)`;

interface Res {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

/** A raw HTTP request: the path goes on the wire as written (fetch would normalise `..` and `%2e`). */
function rawRequest(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...headers, ...(body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface SseEvent {
  event: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Reads an SSE stream until the server ends it; `onEvent` may act on events (e.g. cancel). */
function readEvents(port: number, path: string, onEvent: (e: SseEvent) => void = () => {}): Promise<{ events: SseEvent[]; comments: number; contentType: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: AUTH }, (res) => {
      const events: SseEvent[] = [];
      let comments = 0;
      res.setEncoding('utf8');
      res.on(
        'data',
        sseSplitter(({ event: ev, data, comment }) => {
          if (comment) comments++;
          if (ev && data) {
            const e = { event: ev, data: JSON.parse(data) };
            events.push(e);
            onEvent(e);
          }
        }),
      );
      res.on('end', () => resolve({ events, comments, contentType: String(res.headers['content-type']) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error('SSE stream did not end')));
    req.end();
  });
}

describe('hubmill service end to end (real port, real kernels)', { timeout: 180_000 }, () => {
  let root: string;
  let homes: string;
  let server: StartedServer;
  let base: string;

  async function api(method: string, path: string, body?: unknown, opts: { auth?: boolean; raw?: string } = {}): Promise<Res> {
    const headers: Record<string, string> = opts.auth === false ? {} : { ...AUTH };
    if (body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${base}${path}`, { method, headers, body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const text = await r.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: r.status, headers: r.headers, body: parsed, text };
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-e2e-'));
    homes = join(root, 'home');
    const tu = join(homes, 'testuser');
    await mkdir(join(tu, 'notebooks'), { recursive: true });
    await mkdir(join(homes, 'bob'), { recursive: true });
    await writeFile(
      join(tu, 'notebooks', 'Test_notebook.ipynb'),
      notebook([
        code('param1 = "default"\nthreshold = 0.5\n', ['parameters']),
        code('message = f"{param1}:{threshold}"\nprint(message)'),
        code(glue('message', 'message')),
        code(glue('threshold_x2', 'threshold * 2')),
      ]),
    );
    await writeFile(
      join(tu, 'train_model.ipynb'),
      notebook([
        code('dataset = "x.csv"\nmodel_type = "linear"\nn_estimators = 10\nlearning_rate = 0.1\nepochs = 1\nbatch_size = 1\n', ['parameters']),
        code('print(dataset, model_type, n_estimators)'),
        code(glue('n_estimators', 'n_estimators')),
      ]),
    );
    await writeFile(join(tu, 'daily_report.ipynb'), notebook([code('date = "1970-01-01"', ['parameters']), code('print("report for", date)')]));
    await writeFile(join(tu, 'fail.ipynb'), notebook([code('x = 1', ['parameters']), code('print("before")'), code('raise ValueError("boom " + str(x))'), code('print("after")')]));
    await writeFile(join(tu, 'slow.ipynb'), notebook([code('secs = 30', ['parameters']), code('print("started", flush=True)'), code('import time\ntime.sleep(secs)'), code('print("never")')]));
    await writeFile(join(tu, 'dies.ipynb'), notebook([code('print("alive", flush=True)'), code('import os\nos._exit(1)'), code('print("never")')]));
    await writeFile(join(tu, 'broken.ipynb'), '{"nbformat": 4, "cells": [ this is not json');
    await writeFile(join(tu, 'alien.ipynb'), notebook([code('print(1)')], 'no-such-kernel-xyz'));
    await writeFile(join(root, 'outside.ipynb'), notebook([code('print("outside")')]));

    const config = loadConfig(
      {
        port: 0,
        homeTemplate: join(homes, '{username}'),
        dataDir: join(root, 'data'),
        apiToken: TOKEN,
        poolSizes: 'python3:1',
        concurrency: 2,
        maxBodyBytes: 64 * 1024,
        waitMaxS: 60,
        executeWaitMaxS: 120,
        shutdownGraceS: 2,
      },
      {},
    );
    server = await startServer(config, { signals: false, logger: pino({ level: 'silent' }), print: () => {} });
    base = `http://127.0.0.1:${server.port}`;
    await server.pool.waitFull(20_000);
  });

  after(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  describe('seed endpoints with the seed document payloads', () => {
    it('GET / answers API information without a token', async () => {
      const r = await api('GET', '/', undefined, { auth: false });
      assert.equal(r.status, 200);
      assert.equal(r.body.service, 'hubmill');
    });

    it('GET /health answers the seed fields plus engine, kernelspecs, store and pool', async () => {
      const r = await api('GET', '/health', undefined, { auth: false });
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'healthy');
      assert.equal(r.body.papermill_available, true);
      assert.equal(typeof r.body.papermill_path, 'string');
      assert.match(r.body.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      assert.ok(r.body.kernelspecs.includes('python3'));
      assert.equal(r.body.store.ok, true);
      assert.equal(r.body.pool.python3.target, 1);
    });

    it('GET /list-notebooks/testuser lists the notebooks with the seed fields', async () => {
      const r = await api('GET', '/list-notebooks/testuser');
      assert.equal(r.status, 200);
      assert.equal(r.body.username, 'testuser');
      assert.equal(r.body.user_home, join(homes, 'testuser'));
      const entry = r.body.notebooks.find((n: { relative_path: string }) => n.relative_path === 'notebooks/Test_notebook.ipynb');
      assert.deepEqual(Object.keys(entry).sort(), ['modified', 'name', 'path', 'relative_path', 'size']);
      assert.equal(entry.name, 'Test_notebook.ipynb');
      assert.equal(entry.path, join(homes, 'testuser', 'notebooks', 'Test_notebook.ipynb'));
      assert.equal(r.body.notebook_count, r.body.notebooks.length);
    });

    it('POST /execute runs Test_notebook.ipynb found in a subfolder and writes <stem>_output_<ts>.ipynb in the home', async () => {
      const parameters = { param1: 'value1', threshold: 0.8 };
      const r = await api('POST', '/execute', { username: 'testuser', notebook_name: 'Test_notebook.ipynb', parameters });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(
        Object.keys(r.body).filter((k) => k !== 'job_id').sort(),
        ['input_notebook', 'output_notebook', 'parameters', 'status', 'timestamp', 'username'],
      );
      assert.equal(r.body.status, 'success');
      assert.equal(r.body.input_notebook, join(homes, 'testuser', 'notebooks', 'Test_notebook.ipynb'));
      assert.match(r.body.output_notebook, new RegExp(`^${join(homes, 'testuser')}/Test_notebook_output_\\d{8}_\\d{6}(_\\d+)?\\.ipynb$`));
      assert.deepEqual(r.body.parameters, parameters);
      const out = JSON.parse(await readFile(r.body.output_notebook, 'utf8'));
      assert.deepEqual(out.metadata.papermill.parameters, parameters);
      const printed = out.cells.flatMap((c: { outputs?: Array<{ text?: string | string[] }> }) => c.outputs ?? []).map((o: { text?: string | string[] }) => [o.text ?? ''].flat().join('')).join('');
      assert.match(printed, /value1:0\.8/);
      const job = await api('GET', `/api/v1/jobs/${r.body.job_id}`);
      assert.equal(job.body.source, 'seed-execute');
      assert.deepEqual(job.body.result, { message: 'value1:0.8', threshold_x2: 1.6 });
    });

    it('POST /execute never overwrites an existing output of the same second', async () => {
      const payload = { username: 'testuser', notebook_name: 'daily_report.ipynb', parameters: { date: '2024-11-19' } };
      const [a, b] = await Promise.all([api('POST', '/execute', payload), api('POST', '/execute', payload)]);
      assert.equal(a.status, 200, a.text);
      assert.equal(b.status, 200, b.text);
      assert.notEqual(a.body.output_notebook, b.body.output_notebook);
      assert.ok(existsSync(a.body.output_notebook) && existsSync(b.body.output_notebook));
    });

    it('POST /run-notebook runs absolute paths inside the home', async () => {
      const input_path = join(homes, 'testuser', 'notebooks', 'Test_notebook.ipynb');
      const output_path = join(homes, 'testuser', 'output.ipynb');
      const r = await api('POST', '/run-notebook', { params: { param1: 'value1' }, input_path, output_path });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.status, 'success');
      const out = JSON.parse(await readFile(output_path, 'utf8'));
      assert.equal(out.metadata.papermill.output_path, output_path);
    });

    it('POST /execute of a failing notebook answers 500 with detail, as the seed did, and keeps the output', async () => {
      const r = await api('POST', '/execute', { username: 'testuser', notebook_name: 'fail.ipynb', parameters: { x: 7 } });
      assert.equal(r.status, 500);
      assert.match(String(r.headers.get('content-type')), /application\/problem\+json/);
      assert.match(r.body.detail, /ValueError: boom 7/);
      assert.equal(r.body.code, 'NOTEBOOK_FAILED');
      // The failing cell is named by its index in the input notebook (injected and marker cells not counted) and its In [n].
      assert.equal(r.body.cell_index, 2);
      assert.equal(r.body.execution_count, 4);
      assert.match(r.body.detail, /^Notebook execution failed in cell 2 \(In \[4\]\): ValueError: boom 7/);
      const out = JSON.parse(await readFile(r.body.output_notebook, 'utf8'));
      const failed = out.cells.find((c: { execution_count?: number }) => c.execution_count === 4);
      assert.match([failed.source].flat().join(''), /raise ValueError/);
      const job = await api('GET', `/api/v1/jobs/${r.body.job_id}`);
      assert.equal(job.body.status, 'failed');
      assert.equal(job.body.error.ename, 'ValueError');
      assert.deepEqual([job.body.error.cell_index, job.body.error.execution_count], [2, 4]);
    });

    it('the seed curl examples work with a token header', async () => {
      const curl = async (...args: string[]) => {
        const { stdout } = await run('curl', ['-sS', '-H', `Authorization: token ${TOKEN}`, '-w', '\n%{http_code}', ...args], { timeout: 60_000 });
        const i = stdout.lastIndexOf('\n');
        return { status: Number(stdout.slice(i + 1)), body: JSON.parse(stdout.slice(0, i)) };
      };
      assert.equal((await curl(`${base}/`)).status, 200);
      assert.equal((await curl(`${base}/health`)).body.status, 'healthy');
      assert.equal((await curl(`${base}/list-notebooks/testuser`)).status, 200);
      const ex = await curl('-X', 'POST', `${base}/execute`, '-H', 'Content-Type: application/json', '-d', JSON.stringify({ username: 'testuser', notebook_name: 'Test_notebook.ipynb', parameters: { param1: 'value1', threshold: 0.8 } }));
      assert.equal(ex.status, 200);
      assert.equal(ex.body.status, 'success');
      const rn = await curl('-X', 'POST', `${base}/run-notebook`, '-H', 'Content-Type: application/json', '-d', JSON.stringify({ params: { param1: 'value1' }, input_path: join(homes, 'testuser', 'notebooks', 'Test_notebook.ipynb'), output_path: join(homes, 'testuser', 'output.ipynb') }));
      assert.equal(rn.status, 200);
    });

    it("the seed's Python client class runs unchanged (plus a token header) with /usr/bin/python3", async () => {
      const script = join(root, 'seed_client.py');
      await writeFile(script, SEED_CLIENT_PY);
      const { stdout } = await run('/usr/bin/python3', [script], { env: { ...process.env, HUBMILL_URL: base, HUBMILL_TOKEN: TOKEN }, timeout: 120_000 });
      const lines = stdout.trim().split('\n');
      assert.ok(lines.includes('✅ Success!'), stdout);
      assert.ok(lines.some((l) => l.startsWith('Notebook executed: ') && l.includes('train_model_output_')), stdout);
      assert.ok(lines.some((l) => l.startsWith('✅ Report generated: ')), stdout);
      assert.ok(lines.some((l) => l.startsWith('notebooks: ') && l.includes('train_model.ipynb')), stdout);
      assert.ok(lines.includes('missing notebook raised HTTPError 404'), stdout);
    });
  });

  describe('jobs API', () => {
    it('submit → 202 with Location, then the job succeeds with progress, timings and results', async () => {
      const r = await api('POST', '/api/v1/jobs', { username: 'testuser', notebook: 'notebooks/Test_notebook.ipynb', parameters: { param1: 'job', threshold: 2 } });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.headers.get('location'), `/api/v1/jobs/${r.body.id}`);
      const done = await api('POST', `/api/v1/jobs?wait=true`, { username: 'testuser', notebook: 'notebooks/Test_notebook.ipynb', parameters: { param1: 'job', threshold: 2 }, idempotency_key: `k-${r.body.id}` });
      assert.equal(done.status, 200);
      assert.equal(done.body.status, 'succeeded');
      assert.deepEqual(done.body.progress, { cells_total: 5, cells_done: 5 });
      assert.deepEqual(done.body.result, { message: 'job:2', threshold_x2: 4 });
      assert.ok(Date.parse(done.body.finished_at) >= Date.parse(done.body.started_at));
      const replay = await api('POST', '/api/v1/jobs', { username: 'testuser', notebook: 'notebooks/Test_notebook.ipynb', idempotency_key: `k-${r.body.id}` });
      assert.equal(replay.body.id, done.body.id);
      const out = await fetch(`${base}${done.body.links.output}`, { headers: AUTH });
      assert.equal(out.status, 200);
      assert.equal(out.headers.get('content-type'), 'application/x-ipynb+json');
      assert.equal((await out.json()).metadata.papermill.parameters.param1, 'job');
      const list = await api('GET', '/api/v1/jobs?username=testuser&status=succeeded&limit=1');
      assert.equal(list.body.jobs.length, 1);
      assert.ok(list.body.next_cursor);
      const next = await api('GET', list.body.links.next);
      assert.equal(next.status, 200);
      assert.notEqual(next.body.jobs[0].id, list.body.jobs[0].id);
    });

    it('SSE streams state and cell events; cancel stops a running job and keeps the partial output', async () => {
      const r = await api('POST', '/api/v1/jobs', { username: 'testuser', notebook: 'slow.ipynb' });
      assert.equal(r.status, 202);
      let cancelled = null as Promise<Res> | null;
      const stream = await readEvents(server.port, `/api/v1/jobs/${r.body.id}/events`, (e) => {
        // No parameters given, so no injected cell: index 2 is the sleep. Cancel once it runs.
        if (e.event === 'cell_started' && e.data.cell_index === 2 && !cancelled) cancelled = api('POST', `/api/v1/jobs/${r.body.id}/cancel`);
      });
      assert.match(stream.contentType, /text\/event-stream/);
      const names = stream.events.map((e) => e.event);
      assert.equal(names[0], 'state');
      assert.ok(names.includes('cell_started') && names.includes('cell_finished') && names.includes('output'), names.join(','));
      const last = stream.events.at(-1)!;
      assert.equal(last.event, 'state');
      assert.equal(last.data.status, 'cancelled');
      assert.ok(cancelled, 'cancel was sent');
      const c = await cancelled!;
      assert.ok([200, 202].includes(c.status));
      const job = await api('GET', `/api/v1/jobs/${r.body.id}`);
      assert.equal(job.body.status, 'cancelled');
      const out = await api('GET', `/api/v1/jobs/${r.body.id}/output`);
      assert.equal(out.status, 200);
      const printed = out.body.cells.flatMap((cell: { outputs?: Array<{ text?: string }> }) => cell.outputs ?? []).map((o: { text?: string }) => o.text ?? '').join('');
      assert.equal(printed, 'started\n');
    });

    it('a whole-run timeout ends the job as timed_out', async () => {
      const r = await api('POST', '/api/v1/jobs?wait=true', { username: 'testuser', notebook: 'slow.ipynb', timeout_s: 1.5 });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.status, 'timed_out');
    });

    it('a kernel that dies mid-run fails the job promptly with the partial output, and the service carries on', async () => {
      const t0 = Date.now();
      const r = await api('POST', '/api/v1/jobs?wait=true', { username: 'testuser', notebook: 'dies.ipynb' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.status, 'failed');
      assert.equal(r.body.error.ename, 'DeadKernelError');
      // Detection itself is bounded tightly in the engine and kernel tests; here the job's own run
      // (claimed → finished) must be prompt. Queueing and kernel start under a loaded CI are not timed.
      const ranMs = Date.parse(r.body.finished_at) - Date.parse(r.body.started_at);
      assert.ok(ranMs < 30_000, `job ran ${ranMs} ms (created ${r.body.created_at}, started ${r.body.started_at}, finished ${r.body.finished_at}, request took ${Date.now() - t0} ms)`);
      const out = JSON.parse(await readFile(join(homes, 'testuser', r.body.output_path), 'utf8'));
      assert.ok(out.cells.some((c: { outputs?: Array<{ text?: string }> }) => c.outputs?.[0]?.text === 'alive\n'), 'partial output kept');
      const next = await api('POST', '/api/v1/jobs?wait=true', { username: 'testuser', notebook: 'daily_report.ipynb' });
      assert.equal(next.body.status, 'succeeded');
    });

    it('cancelling a queued job cancels it at once', async () => {
      // Two slow jobs fill both slots; the third waits in the queue.
      const busy = await Promise.all([1, 2].map(() => api('POST', '/api/v1/jobs', { username: 'testuser', notebook: 'slow.ipynb' })));
      const queued = await api('POST', '/api/v1/jobs', { username: 'testuser', notebook: 'slow.ipynb' });
      const c = await api('POST', `/api/v1/jobs/${queued.body.id}/cancel`);
      assert.equal(c.status, 200);
      assert.equal(c.body.status, 'cancelled');
      // Let both busy runs get their kernels first (cancelling during kernel acquisition is a separate case).
      for (const b of busy) {
        await eventually(async () => (await api('GET', `/api/v1/jobs/${b.body.id}`)).body.progress.cells_total > 0, 30_000, `job ${b.body.id} to get its kernel`, 50);
      }
      // Scripts often send Content-Type: application/json with an empty body: that is not a 400.
      const stopped = await Promise.all(busy.map((b) => api('POST', `/api/v1/jobs/${b.body.id}/cancel`, undefined, { raw: '' })));
      assert.ok(stopped.every((s) => [200, 202].includes(s.status)));
      for (const b of busy) {
        const w = await server.runner.waitFor(b.body.id, 20_000);
        assert.equal(w?.status, 'cancelled');
      }
    });

    it('GET /api/v1/notebooks lists notebooks with their parameters and wraps broken ones', async () => {
      const r = await api('GET', '/api/v1/notebooks?username=testuser');
      assert.equal(r.status, 200);
      const tn = r.body.notebooks.find((n: { path: string }) => n.path === 'notebooks/Test_notebook.ipynb');
      assert.deepEqual(tn.parameters.map((p: { name: string }) => p.name), ['param1', 'threshold']);
      assert.equal(tn.kernel, 'python3');
      const broken = r.body.notebooks.find((n: { path: string }) => n.path === 'broken.ipynb');
      assert.equal(broken.error.code, 'NOTEBOOK_FORMAT');
    });

    it('GET /api/v1/kernelspecs and /metrics', async () => {
      const k = await api('GET', '/api/v1/kernelspecs');
      assert.ok(k.body.kernelspecs.some((s: { name: string }) => s.name === 'python3'));
      const m = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const text = await m.text();
      assert.match(text, /hubmill_jobs\{status="succeeded"\} [1-9]/);
      assert.match(text, /hubmill_job_run_duration_seconds_count\{status="succeeded"\} [1-9]/);
      assert.match(text, /hubmill_kernel_starts_total\{kernel="python3"\} [1-9]/);
      assert.match(text, /hubmill_queue_depth \d/);
    });
  });

  describe('bad input gets a clear 4xx', () => {
    it('missing or wrong token → 401', async () => {
      assert.equal((await api('GET', '/api/v1/jobs', undefined, { auth: false })).status, 401);
      assert.equal((await api('POST', '/execute', { username: 'testuser', notebook_name: 'Test_notebook.ipynb' }, { auth: false })).status, 401);
      const wrong = await fetch(`${base}/list-notebooks/testuser`, { headers: { authorization: 'Bearer not-the-token' } });
      assert.equal(wrong.status, 401);
    });

    it('unknown user or notebook → 404', async () => {
      assert.equal((await api('GET', '/list-notebooks/ghost')).status, 404);
      assert.equal((await api('POST', '/execute', { username: 'ghost', notebook_name: 'x.ipynb' })).status, 404);
      const nb = await api('POST', '/execute', { username: 'testuser', notebook_name: 'nope.ipynb' });
      assert.equal(nb.status, 404);
      assert.equal(typeof nb.body.detail, 'string');
      assert.equal((await api('GET', '/api/v1/jobs/does-not-exist')).status, 404);
      assert.equal((await api('GET', '/no/such/route')).status, 404);
    });

    it('malformed notebook → 422; unknown kernel → 422', async () => {
      const a = await api('POST', '/execute', { username: 'testuser', notebook_name: 'broken.ipynb' });
      assert.equal(a.status, 422, a.text);
      assert.equal(a.body.code, 'NOTEBOOK_FORMAT');
      const b = await api('POST', '/execute', { username: 'testuser', notebook_name: 'alien.ipynb' });
      assert.equal(b.status, 422, b.text);
      assert.equal(b.body.code, 'NO_SUCH_KERNEL');
      const c = await api('POST', '/api/v1/jobs', { username: 'testuser', notebook: 'daily_report.ipynb', kernel: 'no-such-kernel-xyz' });
      assert.equal(c.status, 422);
    });

    it('no placeholder output is left behind by refused /execute requests', async () => {
      const files = await readdir(join(homes, 'testuser'));
      assert.ok(!files.some((f) => /^(broken|alien|nope)_output_/.test(f)), files.join(', '));
    });

    it('hostile paths → 400 and nothing outside the home is read', async () => {
      const hostile = ['../bob/x.ipynb', '/etc/passwd', `../../${'outside.ipynb'}`, 'a\u0000.ipynb', '%2e%2e/outside.ipynb', '..\\..\\outside.ipynb', '~root/x.ipynb'];
      for (const notebook of hostile) {
        const r = await api('POST', '/api/v1/jobs', { username: 'testuser', notebook });
        assert.equal(r.status, 400, `${JSON.stringify(notebook)} -> ${r.status} ${r.text}`);
        const s = await api('POST', '/execute', { username: 'testuser', notebook_name: notebook });
        assert.equal(s.status, 400, `execute ${JSON.stringify(notebook)} -> ${s.status} ${s.text}`);
      }
      const outside = await api('POST', '/run-notebook', { params: {}, input_path: join(root, 'outside.ipynb'), output_path: join(homes, 'testuser', 'o.ipynb') });
      assert.equal(outside.status, 400);
      const climb = await api('POST', '/run-notebook', { params: {}, input_path: `${homes}/testuser/../../outside.ipynb`, output_path: join(homes, 'testuser', 'o.ipynb') });
      assert.equal(climb.status, 400);
      for (const path of ['/list-notebooks/..%2f..%2fetc', '/list-notebooks/%2e%2e', '/list-notebooks/a%00b', '/list-notebooks/-rf']) {
        const r = await rawRequest(server.port, 'GET', path, AUTH);
        assert.equal(r.status, 400, `${path} -> ${r.status} ${r.body}`);
      }
    });

    it('body too large → 413; body validation → 422; malformed JSON → 400', async () => {
      const big = await api('POST', '/execute', { username: 'testuser', notebook_name: 'Test_notebook.ipynb', parameters: { blob: 'x'.repeat(100 * 1024) } });
      assert.equal(big.status, 413);
      assert.equal(big.body.code, 'BODY_TOO_LARGE');
      const v = await api('POST', '/execute', { notebook_name: 'Test_notebook.ipynb' });
      assert.equal(v.status, 422);
      assert.deepEqual(v.body.errors[0].loc, ['body', 'username']);
      const j = await api('POST', '/api/v1/jobs', undefined, { raw: '{"notebook": ' });
      assert.equal(j.status, 400);
    });
  });
});

/** The seed document's client code, verbatim, with only a token header added to each request. */
const SEED_CLIENT_PY = String.raw`
import os
import requests
from typing import Dict, Any
from datetime import datetime

BASE_URL = os.environ["HUBMILL_URL"]
HEADERS = {"Authorization": "token " + os.environ["HUBMILL_TOKEN"]}

# --- "Python Client Example" ---
response = requests.post(
    BASE_URL + '/execute',
    json={
        'username': 'testuser',
        'notebook_name': 'Test_notebook.ipynb',
        'parameters': {
            'learning_rate': 0.01,
            'epochs': 100,
            'batch_size': 32
        }
    },
    headers=HEADERS,
    timeout=300  # 5 minute timeout
)

if response.status_code == 200:
    result = response.json()
    print(f"✅ Success!")
    print(f"Output: {result['output_notebook']}")
else:
    print(f"❌ Failed: {response.json()}")

# --- "MLOps Pipeline Integration" ---
class JupyterHubPapermillClient:
    def __init__(self, base_url="http://localhost:8002"):
        self.base_url = base_url
    
    def execute_notebook(
        self,
        username: str,
        notebook_name: str,
        parameters: Dict[str, Any],
        timeout: int = 300
    ) -> Dict[str, Any]:
        """Execute a notebook with parameters"""
        response = requests.post(
            f"{self.base_url}/execute",
            json={
                "username": username,
                "notebook_name": notebook_name,
                "parameters": parameters
            },
            headers=HEADERS,
            timeout=timeout
        )
        response.raise_for_status()
        return response.json()
    
    def list_notebooks(self, username: str) -> list:
        """List all notebooks for a user"""
        response = requests.get(
            f"{self.base_url}/list-notebooks/{username}",
            headers=HEADERS
        )
        response.raise_for_status()
        return response.json()["notebooks"]

# Usage
client = JupyterHubPapermillClient(BASE_URL)

# Run experiment
result = client.execute_notebook(
    username="testuser",
    notebook_name="train_model.ipynb",
    parameters={
        "dataset": "iris.csv",
        "model_type": "random_forest",
        "n_estimators": 100
    }
)

print(f"Notebook executed: {result['output_notebook']}")
print("notebooks: " + ", ".join(n["name"] for n in client.list_notebooks("testuser")))

try:
    client.execute_notebook("testuser", "no_such_notebook.ipynb", {})
except requests.HTTPError as e:
    print(f"missing notebook raised HTTPError {e.response.status_code}")

# --- "Scheduled Execution" (the job body, without the scheduler loop) ---
def run_daily_report():
    """Run daily report notebook"""
    response = requests.post(
        BASE_URL + '/execute',
        json={
            'username': 'testuser',
            'notebook_name': 'daily_report.ipynb',
            'parameters': {
                'date': datetime.now().strftime('%Y-%m-%d')
            }
        },
        headers=HEADERS
    )
    
    if response.status_code == 200:
        print(f"✅ Report generated: {response.json()['output_notebook']}")
    else:
        print(f"❌ Failed: {response.json()}")

run_daily_report()
`;
