import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { NotebookFormatError, NoSuchKernelError } from '../../src/errors.js';
import { auth, makeApp, TOKEN, type FakeRunner, type FakeStore } from './fakes.js';
import { eventually } from '../helpers/wait.js';

const NB = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, cells: [] });

describe('HTTP app (fake runner and store)', () => {
  let root: string;
  let app: FastifyInstance;
  let runner: FakeRunner;
  let store: FakeStore;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-http-'));
    await mkdir(join(root, 'homes', 'alice', 'notebooks', 'deep'), { recursive: true });
    await mkdir(join(root, 'homes', 'alice', '.ipynb_checkpoints'), { recursive: true });
    await mkdir(join(root, 'homes', 'bob'), { recursive: true });
    await writeFile(join(root, 'homes', 'alice', 'notebooks', 'Test_notebook.ipynb'), NB);
    await writeFile(join(root, 'homes', 'alice', 'notebooks', 'deep', 'Test_notebook.ipynb'), NB);
    await writeFile(join(root, 'homes', 'alice', '.ipynb_checkpoints', 'Test_notebook-checkpoint.ipynb'), NB);
    await writeFile(join(root, 'homes', 'alice', 'top.ipynb'), NB);
    await writeFile(join(root, 'secret.ipynb'), NB);
    await symlink(join(root, 'secret.ipynb'), join(root, 'homes', 'alice', 'escape.ipynb'));
    ({ app, runner, store } = await makeApp({ homeTemplate: join(root, 'homes', '{username}'), maxBodyBytes: 4096, waitMaxS: 2, executeWaitMaxS: 2 }, { sseHeartbeatMs: 20 }));
  });
  after(async () => {
    await app.close();
    await rm(root, { recursive: true, force: true });
  });

  describe('auth', () => {
    it('answers 401 problem without a token and accepts token, Bearer and ?token=', async () => {
      const none = await app.inject({ url: '/api/v1/jobs' });
      assert.equal(none.statusCode, 401);
      assert.match(String(none.headers['content-type']), /application\/problem\+json/);
      assert.equal(none.json().code, 'UNAUTHORIZED');
      assert.equal((await app.inject({ url: '/api/v1/jobs', headers: { authorization: 'token wrong-token-xx' } })).statusCode, 401);
      assert.equal((await app.inject({ url: '/api/v1/jobs', headers: auth })).statusCode, 200);
      assert.equal((await app.inject({ url: '/api/v1/jobs', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 200);
      assert.equal((await app.inject({ url: `/api/v1/jobs?token=${TOKEN}` })).statusCode, 200);
    });
    it('leaves /, /health, /openapi.json and /docs public', async () => {
      for (const url of ['/', '/health', '/openapi.json', '/docs', '/docs/json']) {
        const r = await app.inject({ url });
        assert.ok(r.statusCode < 400 || r.statusCode === 503, `${url} -> ${r.statusCode}`);
      }
    });
    it('protects the seed execution endpoints and /metrics', async () => {
      assert.equal((await app.inject({ url: '/list-notebooks/alice' })).statusCode, 401);
      assert.equal((await app.inject({ method: 'POST', url: '/execute', payload: { username: 'alice', notebook_name: 'top.ipynb' } })).statusCode, 401);
      assert.equal((await app.inject({ url: '/metrics' })).statusCode, 401);
    });
  });

  describe('errors', () => {
    it('answers unknown routes with a 404 problem', async () => {
      const r = await app.inject({ url: '/nope' });
      assert.equal(r.statusCode, 404);
      assert.deepEqual(Object.keys(r.json()).sort(), ['code', 'detail', 'status', 'title', 'type']);
    });
    it('answers body validation errors 422 with FastAPI-style errors', async () => {
      const r = await app.inject({ method: 'POST', url: '/execute', headers: auth, payload: { username: 'alice' } });
      assert.equal(r.statusCode, 422);
      const body = r.json();
      assert.equal(body.code, 'VALIDATION');
      assert.ok(body.errors.some((e: { loc: string[] }) => e.loc.join('.') === 'body.notebook_name'), JSON.stringify(body.errors));
      assert.equal(typeof body.detail, 'string');
    });
    it('rejects unknown fields on job submissions with 422', async () => {
      const r = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { notebook: 'top.ipynb', username: 'alice', paramters: {} } });
      assert.equal(r.statusCode, 422);
    });
    it('answers query validation errors 400', async () => {
      const r = await app.inject({ url: '/api/v1/jobs?limit=0', headers: auth });
      assert.equal(r.statusCode, 400);
    });
    it('answers a body over the limit with 413', async () => {
      const r = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ notebook: 'x'.repeat(10_000) }) });
      assert.equal(r.statusCode, 413);
      assert.equal(r.json().code, 'BODY_TOO_LARGE');
    });
    it('answers malformed JSON with 400', async () => {
      const r = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"notebook":' });
      assert.equal(r.statusCode, 400);
      assert.match(String(r.headers['content-type']), /problem\+json/);
    });
    it('maps runner errors to their status (malformed notebook and unknown kernel 422)', async () => {
      runner.submitError = new NotebookFormatError('not a notebook: Unexpected token');
      const a = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { notebook: 'top.ipynb', username: 'alice' } });
      runner.submitError = new NoSuchKernelError('No such kernel named nope');
      const b = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { notebook: 'top.ipynb', username: 'alice', kernel: 'nope' } });
      runner.submitError = null;
      assert.deepEqual([a.statusCode, a.json().code, b.statusCode, b.json().code], [422, 'NOTEBOOK_FORMAT', 422, 'NO_SUCH_KERNEL']);
    });
  });

  describe('seed endpoints', () => {
    it('GET /health reports the seed fields and the engine', async () => {
      const r = await app.inject({ url: '/health' });
      assert.equal(r.statusCode, 200);
      const h = r.json();
      assert.equal(h.status, 'healthy');
      assert.equal(h.papermill_available, true);
      assert.equal(typeof h.papermill_path, 'string');
      assert.match(h.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      assert.deepEqual(h.kernelspecs, ['python3']);
      assert.equal(h.store.ok, true);
      assert.deepEqual(h.pool.python3, { idle: 1, starting: 0, target: 1 });
    });
    it('GET /health counts only the active jobs (never a walk of every job)', async () => {
      const walks = store.countByStatusCalls;
      const h = (await app.inject({ url: '/health' })).json();
      const all = [...store.jobs.values()];
      assert.deepEqual(h.store.jobs, { queued: all.filter((j) => j.status === 'queued').length, running: all.filter((j) => j.status === 'running').length });
      assert.equal(store.countByStatusCalls, walks, '/health called countByStatus');
    });
    it('GET /health answers 503 unhealthy when the store is down', async () => {
      store.down = true;
      const r = await app.inject({ url: '/health' });
      store.down = false;
      assert.equal(r.statusCode, 503);
      assert.equal(r.json().status, 'unhealthy');
    });
    it('GET /list-notebooks/{username} lists notebooks with the seed fields, skipping hidden folders and escaping links', async () => {
      const r = await app.inject({ url: '/list-notebooks/alice', headers: auth });
      assert.equal(r.statusCode, 200);
      const body = r.json();
      assert.equal(body.username, 'alice');
      assert.equal(body.user_home, join(root, 'homes', 'alice'));
      assert.deepEqual(body.notebooks.map((n: { relative_path: string }) => n.relative_path), ['notebooks/Test_notebook.ipynb', 'notebooks/deep/Test_notebook.ipynb', 'top.ipynb']);
      assert.equal(body.notebook_count, 3);
      assert.deepEqual(Object.keys(body.notebooks[0]).sort(), ['modified', 'name', 'path', 'relative_path', 'size']);
    });
    it('GET /list-notebooks answers 404 for an unknown user and 400 for a hostile name', async () => {
      assert.equal((await app.inject({ url: '/list-notebooks/nobody', headers: auth })).statusCode, 404);
      assert.equal((await app.inject({ url: '/list-notebooks/a%00b', headers: auth })).statusCode, 400);
      assert.equal((await app.inject({ url: '/list-notebooks/%2e%2e%2fetc', headers: auth })).statusCode, 400);
    });
    it('POST /execute finds the shallowest match, runs it and answers the seed response', async () => {
      const r = await app.inject({ method: 'POST', url: '/execute', headers: auth, payload: { username: 'alice', notebook_name: 'Test_notebook.ipynb', parameters: { param1: 'value1', threshold: 0.8 } } });
      assert.equal(r.statusCode, 200, r.body);
      const body = r.json();
      assert.equal(body.status, 'success');
      assert.equal(body.username, 'alice');
      assert.equal(body.input_notebook, join(root, 'homes', 'alice', 'notebooks', 'Test_notebook.ipynb'));
      assert.match(body.output_notebook, new RegExp(`^${join(root, 'homes', 'alice')}/Test_notebook_output_\\d{8}_\\d{6}(_\\d+)?\\.ipynb$`));
      assert.deepEqual(body.parameters, { param1: 'value1', threshold: 0.8 });
      assert.match(body.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      assert.equal(runner.submitted.at(-1)!.source, 'seed-execute');
    });
    it('POST /execute never overwrites: two runs in the same second get two files', async () => {
      const payload = { username: 'alice', notebook_name: 'top.ipynb', parameters: {} };
      const [a, b] = await Promise.all([1, 2].map(() => app.inject({ method: 'POST', url: '/execute', headers: auth, payload })));
      assert.equal(a!.statusCode, 200);
      assert.equal(b!.statusCode, 200);
      assert.notEqual(a!.json().output_notebook, b!.json().output_notebook);
    });
    it('POST /execute answers 500 with detail when the notebook fails, 504 on timeout', async () => {
      runner.outcome = () => ({ status: 'failed', error: { ename: 'ValueError', evalue: 'boom', traceback: [], cell_index: 3, execution_count: 4 } });
      const r = await app.inject({ method: 'POST', url: '/execute', headers: auth, payload: { username: 'alice', notebook_name: 'top.ipynb' } });
      runner.outcome = () => ({ status: 'timed_out' });
      const t = await app.inject({ method: 'POST', url: '/execute', headers: auth, payload: { username: 'alice', notebook_name: 'top.ipynb' } });
      runner.outcome = () => ({ status: 'succeeded' });
      assert.equal(r.statusCode, 500);
      assert.match(r.json().detail, /ValueError: boom/);
      assert.equal(r.json().code, 'NOTEBOOK_FAILED');
      assert.equal(r.json().cell_index, 3);
      assert.equal(r.json().execution_count, 4);
      assert.match(r.json().detail, /^Notebook execution failed in cell 3 \(In \[4\]\): ValueError: boom$/);
      assert.ok(r.json().job_id);
      const job = await app.inject({ method: 'GET', url: `/api/v1/jobs/${r.json().job_id}`, headers: auth });
      assert.deepEqual(job.json().error, { ename: 'ValueError', evalue: 'boom', traceback: [], cell_index: 3, execution_count: 4 });
      assert.equal(t.statusCode, 504);
    });
    it('POST /execute answers 404 for a missing notebook and 400 for hostile names, leaving no placeholder', async () => {
      const before = await readdir(join(root, 'homes', 'alice'));
      assert.equal((await app.inject({ method: 'POST', url: '/execute', headers: auth, payload: { username: 'alice', notebook_name: 'missing.ipynb' } })).statusCode, 404);
      assert.equal((await app.inject({ method: 'POST', url: '/execute', headers: auth, payload: { username: 'nobody', notebook_name: 'top.ipynb' } })).statusCode, 404);
      for (const notebook_name of ['../bob/x.ipynb', '/etc/passwd', 'a\u0000b.ipynb', '..%2fsecret.ipynb', 'escape.ipynb/../../../secret.ipynb']) {
        const r = await app.inject({ method: 'POST', url: '/execute', headers: auth, payload: { username: 'alice', notebook_name } });
        assert.ok([400, 404].includes(r.statusCode), `${notebook_name} -> ${r.statusCode}`);
      }
      assert.equal((await app.inject({ method: 'POST', url: '/execute', headers: auth, payload: { username: 'alice', notebook_name: 'escape.ipynb' } })).statusCode, 404);
      assert.deepEqual(await readdir(join(root, 'homes', 'alice')), before);
    });
    it('POST /run-notebook runs absolute paths inside a home', async () => {
      const input_path = join(root, 'homes', 'alice', 'top.ipynb');
      const output_path = join(root, 'homes', 'alice', 'output.ipynb');
      const r = await app.inject({ method: 'POST', url: '/run-notebook', headers: auth, payload: { params: { param1: 'value1' }, input_path, output_path } });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().status, 'success');
      assert.equal(r.json().output_path, output_path);
      assert.equal(runner.submitted.at(-1)!.output_path, 'output.ipynb');
      assert.equal(runner.submitted.at(-1)!.username, 'alice');
    });
    it('POST /run-notebook refuses paths outside homes or across homes with 400', async () => {
      const cases = [
        { input_path: join(root, 'secret.ipynb'), output_path: join(root, 'homes', 'alice', 'o.ipynb') },
        { input_path: join(root, 'homes', 'alice', 'top.ipynb'), output_path: '/tmp/o.ipynb' },
        { input_path: join(root, 'homes', 'alice', 'top.ipynb'), output_path: join(root, 'homes', 'bob', 'o.ipynb') },
        { input_path: join(root, 'homes', 'alice', '..', '..', 'secret.ipynb'), output_path: join(root, 'homes', 'alice', 'o.ipynb') },
        { input_path: 'top.ipynb', output_path: join(root, 'homes', 'alice', 'o.ipynb') },
        { input_path: join(root, 'homes', 'alice', 'escape.ipynb'), output_path: join(root, 'homes', 'alice', 'o.ipynb') },
      ];
      for (const c of cases) {
        const r = await app.inject({ method: 'POST', url: '/run-notebook', headers: auth, payload: { params: {}, ...c } });
        assert.equal(r.statusCode, 400, `${JSON.stringify(c)} -> ${r.statusCode} ${r.body}`);
      }
    });
  });

  describe('jobs API', () => {
    it('POST /api/v1/jobs answers 202 with the job and a Location', async () => {
      runner.outcome = () => ({ status: 'succeeded', delayMs: 200 });
      const r = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { notebook: 'top.ipynb', username: 'alice', parameters: { a: 1 } } });
      runner.outcome = () => ({ status: 'succeeded' });
      assert.equal(r.statusCode, 202);
      const job = r.json();
      assert.equal(r.headers.location, `/api/v1/jobs/${job.id}`);
      assert.equal(job.status, 'queued');
      assert.deepEqual(job.parameters, { a: 1 });
      assert.match(job.created_at, /Z$/);
      assert.equal(job.started_at, null);
      assert.deepEqual(job.progress, { cells_total: 0, cells_done: 0 });
      assert.equal(job.links.output, `/api/v1/jobs/${job.id}/output`);
    });
    it('?wait=true answers 200 with the finished job', async () => {
      const r = await app.inject({ method: 'POST', url: '/api/v1/jobs?wait=true', headers: auth, payload: { notebook: 'top.ipynb', username: 'alice' } });
      assert.equal(r.statusCode, 200);
      assert.equal(r.json().status, 'succeeded');
      assert.match(r.json().finished_at, /Z$/);
    });
    it('?wait=true answers 202 when the bound passes first', async () => {
      runner.outcome = () => ({ status: 'stay' });
      const r = await app.inject({ method: 'POST', url: '/api/v1/jobs?wait=true', headers: auth, payload: { notebook: 'top.ipynb', username: 'alice' } });
      runner.outcome = () => ({ status: 'succeeded' });
      assert.equal(r.statusCode, 202);
      assert.equal(r.json().status, 'running');
    });
    it('an idempotency_key returns the existing job', async () => {
      const payload = { notebook: 'top.ipynb', username: 'alice', idempotency_key: 'nightly-2024-11-19' };
      const a = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload });
      const b = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload });
      assert.equal(a.json().id, b.json().id);
      assert.equal(b.statusCode, 200);
      assert.equal(b.headers['idempotent-replayed'], 'true');
    });
    it('requires a username with the service token, refuses timeouts over the maximum, hostile paths 400, unknown users 404', async () => {
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { notebook: 'top.ipynb' } })).statusCode, 422);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { notebook: 'top.ipynb', username: 'alice', timeout_s: 1e9 } })).statusCode, 422);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { notebook: '../bob/x.ipynb', username: 'alice' } })).statusCode, 400);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { notebook: '/etc/passwd', username: 'alice' } })).statusCode, 400);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { notebook: 'top.ipynb', username: 'ghost' } })).statusCode, 404);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { notebook: 'nope.ipynb', username: 'alice' } })).statusCode, 404);
    });
    it('GET /api/v1/jobs filters by status and pages with a cursor', async () => {
      const page1 = await app.inject({ url: '/api/v1/jobs?limit=2&username=alice&status=succeeded', headers: auth });
      assert.equal(page1.statusCode, 200);
      const b1 = page1.json();
      assert.equal(b1.jobs.length, 2);
      assert.ok(b1.jobs.every((j: { status: string }) => j.status === 'succeeded'));
      assert.ok(b1.next_cursor);
      const page2 = await app.inject({ url: b1.links.next, headers: auth });
      assert.equal(page2.statusCode, 200);
      assert.ok(!page2.json().jobs.some((j: { id: string }) => b1.jobs.some((k: { id: string }) => k.id === j.id)));
      assert.equal((await app.inject({ url: '/api/v1/jobs?status=bogus', headers: auth })).statusCode, 422);
    });
    it('GET /api/v1/jobs filters by schedule_id, and its next link keeps the filter', async () => {
      const base = { username: 'alice', notebook: 'top.ipynb', parameters: {}, submitted_by: 'alice', attempt: 1 };
      const ids: string[] = [];
      for (const sid of ['sched-a', 'sched-b', 'sched-a', 'sched-a']) ids.push((await store.enqueue({ ...base, schedule_id: sid })).job.id);
      const page1 = await app.inject({ url: '/api/v1/jobs?schedule_id=sched-a&limit=2', headers: auth });
      assert.equal(page1.statusCode, 200);
      const b1 = page1.json();
      assert.deepEqual(b1.jobs.map((j: { schedule_id: string }) => j.schedule_id), ['sched-a', 'sched-a']);
      assert.match(b1.links.next, /schedule_id=sched-a/);
      const b2 = (await app.inject({ url: b1.links.next, headers: auth })).json();
      assert.deepEqual([...b1.jobs, ...b2.jobs].map((j: { id: string }) => j.id).sort(), [ids[0], ids[2], ids[3]].sort());
      assert.deepEqual((await app.inject({ url: '/api/v1/jobs?schedule_id=sched-b', headers: auth })).json().jobs.map((j: { id: string }) => j.id), [ids[1]]);
      assert.equal((await app.inject({ url: '/api/v1/jobs?schedule_id=', headers: auth })).statusCode, 400);
      for (const id of ids) await store.requestCancel(id);
    });
    it('GET /api/v1/jobs/{id}, /output, /cancel', async () => {
      const { id } = (await app.inject({ method: 'POST', url: '/api/v1/jobs?wait=true', headers: auth, payload: { notebook: 'top.ipynb', username: 'alice' } })).json();
      const g = await app.inject({ url: `/api/v1/jobs/${id}`, headers: auth });
      assert.equal(g.json().status, 'succeeded');
      const o = await app.inject({ url: `/api/v1/jobs/${id}/output`, headers: auth });
      assert.equal(o.statusCode, 200);
      assert.equal(o.headers['content-type'], 'application/x-ipynb+json');
      assert.equal(o.json().nbformat, 4);
      const c = await app.inject({ method: 'POST', url: `/api/v1/jobs/${id}/cancel`, headers: auth });
      assert.equal(c.statusCode, 200);
      assert.equal(c.json().status, 'succeeded');
      assert.equal((await app.inject({ url: '/api/v1/jobs/nope', headers: auth })).statusCode, 404);
      assert.equal((await app.inject({ url: '/api/v1/jobs/nope/output', headers: auth })).statusCode, 404);
    });
    it('GET /api/v1/jobs/{id}/events streams the state first, live events, and ends after a terminal state', async () => {
      runner.outcome = () => ({ status: 'succeeded', delayMs: 100 });
      const { id } = (await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { notebook: 'top.ipynb', username: 'alice' } })).json();
      runner.outcome = () => ({ status: 'succeeded' });
      const r = await app.inject({ url: `/api/v1/jobs/${id}/events?token=${TOKEN}` });
      assert.equal(r.statusCode, 200);
      assert.match(String(r.headers['content-type']), /text\/event-stream/);
      const events = r.body.split('\n').filter((l) => l.startsWith('event: ')).map((l) => l.slice(7));
      assert.deepEqual(events, ['state', 'state', 'cell_started', 'cell_finished', 'state']);
      const datas = r.body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
      assert.equal(datas[0].status, 'queued');
      assert.equal(datas.at(-1).status, 'succeeded');
      assert.equal(datas.at(-1).job.id, id);
    });
    it('events of a finished job: one state event, then the end', async () => {
      const { id } = (await app.inject({ method: 'POST', url: '/api/v1/jobs?wait=true', headers: auth, payload: { notebook: 'top.ipynb', username: 'alice' } })).json();
      const r = await app.inject({ url: `/api/v1/jobs/${id}/events`, headers: auth });
      assert.deepEqual(r.body.split('\n').filter((l) => l.startsWith('event: ')), ['event: state']);
    });
    it('cancel of a running job answers with the cancelled job', async () => {
      runner.outcome = () => ({ status: 'stay' });
      const { id } = (await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth, payload: { notebook: 'top.ipynb', username: 'alice' } })).json();
      runner.outcome = () => ({ status: 'succeeded' });
      await eventually(async () => (await store.get(id))?.status === 'running', 5000, 'the job to run');
      const c = await app.inject({ method: 'POST', url: `/api/v1/jobs/${id}/cancel`, headers: auth });
      assert.equal(c.json().status, 'cancelled');
    });
  });

  describe('other resources', () => {
    it('GET /api/v1/kernelspecs', async () => {
      const r = await app.inject({ url: '/api/v1/kernelspecs', headers: auth });
      assert.equal(r.json().default, 'python3');
      assert.equal(r.json().kernelspecs[0].display_name, 'Python 3');
    });
    it('GET /api/v1/notebooks wraps inspection errors per notebook', async () => {
      const r = await app.inject({ url: '/api/v1/notebooks?username=alice', headers: auth });
      assert.equal(r.statusCode, 200);
      const top = r.json().notebooks.find((n: { path: string }) => n.path === 'top.ipynb');
      assert.equal(top.error.code, 'UNAVAILABLE');
      assert.ok(!r.json().notebooks.some((n: { path: string }) => n.path.includes('checkpoint')));
    });
    it('GET /metrics exposes job and pool gauges', async () => {
      const r = await app.inject({ url: '/metrics', headers: auth });
      assert.equal(r.statusCode, 200);
      assert.match(r.body, /hubmill_jobs\{status="succeeded"\} \d+/);
      assert.match(r.body, /hubmill_queue_depth \d+/);
      // The counts of every status are kept a few seconds: a second scrape does not count again.
      const walks = store.countByStatusCalls;
      assert.equal((await app.inject({ url: '/metrics', headers: auth })).statusCode, 200);
      assert.equal(store.countByStatusCalls, walks);
      assert.match(r.body, /hubmill_pool_kernels\{kernel="python3",state="idle"\} 1/);
      assert.match(r.body, /hubmill_http_requests_total/);
    });
    it('GET /openapi.json documents every route with request and response schemas', async () => {
      const doc = (await app.inject({ url: '/openapi.json' })).json();
      assert.equal(doc.openapi, '3.0.3');
      for (const p of ['/', '/health', '/list-notebooks/{username}', '/execute', '/run-notebook', '/api/v1/jobs', '/api/v1/jobs/{id}', '/api/v1/jobs/{id}/output', '/api/v1/jobs/{id}/events', '/api/v1/jobs/{id}/cancel', '/api/v1/notebooks', '/api/v1/kernelspecs', '/metrics']) {
        assert.ok(doc.paths[p], `missing ${p}`);
        for (const op of Object.values(doc.paths[p]) as Array<{ responses: Record<string, unknown> }>) assert.ok(op.responses['200'] || op.responses['202'], `${p} has no success response`);
      }
      assert.ok(doc.paths['/execute'].post.requestBody);
      assert.ok(doc.paths['/api/v1/jobs'].post.requestBody);
      // The job error documents how the failing cell is named.
      const text = JSON.stringify(doc);
      assert.ok(text.includes("The failing cell's 0-based index in the input notebook"), 'cell_index is documented');
      assert.ok(text.includes("The failing cell's execution count"), 'execution_count is documented');
    });
  });
});

describe('HTTP app under a JupyterHub service prefix', () => {
  it('serves every route under the prefix', async () => {
    const root = await mkdtemp(join(tmpdir(), 'hubmill-http-prefix-'));
    const { app } = await makeApp({ homeTemplate: join(root, '{username}'), servicePrefix: '/services/hubmill/' });
    try {
      assert.equal((await app.inject({ url: '/services/hubmill/health' })).statusCode, 200);
      assert.equal((await app.inject({ url: '/services/hubmill/' })).statusCode, 200);
      assert.equal((await app.inject({ url: '/services/hubmill/api/v1/kernelspecs', headers: auth })).statusCode, 200);
      // Also at the root (issue 4: direct callers on :8002 as with the seed, the proxy with the full path).
      assert.equal((await app.inject({ url: '/health' })).statusCode, 200);
      assert.equal((await app.inject({ url: '/api/v1/kernelspecs', headers: auth })).statusCode, 200);
      const doc = (await app.inject({ url: '/services/hubmill/openapi.json' })).json();
      assert.ok(doc.paths['/api/v1/jobs']);
      assert.equal(doc.servers[0].url, '/services/hubmill');
    } finally {
      await app.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
