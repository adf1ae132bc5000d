/**
 * Roles in one test process: an `api` node (ApiRunner + HTTP on a real port)
 * and a `worker` node (the Runner with real python3 kernels, and its HTTP that
 * serves only /health and /metrics) share one SQLite file through two store
 * handles, like two processes, and a PostgreSQL event bus each (two pools, two
 * LISTEN connections) in a fresh schema. The api node never runs a kernel: every
 * job ends because the worker ran it, and the api node's waits, seed /execute,
 * cancel and SSE (with Last-Event-ID) work from the store and the bus.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { findKernelSpecs } from '../../src/kernel/kernelspec-discovery.js';
import { ApiRunner } from '../../src/runner/api-runner.js';
import { createRoleRunner } from '../../src/server-roles.js';
import { Runner } from '../../src/runner/runner.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { PgEventBus } from '../../src/store/pg/pg-event-bus.js';
import { homePathFor } from '../../src/users/home-path.js';
import { call } from '../helpers/http.js';
import { code, notebookJson } from '../helpers/notebooks.js';
import { freshSchema, type TestSchema } from '../helpers/pg-test-schema.js';
import { eventually } from '../helpers/wait.js';
import { sseSplitter } from '../helpers/sse.js';

const TOKEN = 'roles-token-5f0e';
const silent = pino({ level: 'silent' });

interface SseEvent {
  id: number;
  event: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Reads an SSE stream to its end (the server ends it after the terminal state); bounded. */
async function readSse(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; events: SseEvent[] }> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `token ${TOKEN}`, ...headers }, signal: AbortSignal.timeout(60_000) });
  const events: SseEvent[] = [];
  if (!res.body) return { status: res.status, events };
  const split = sseSplitter(({ event, data, id }) => {
    if (event && data) events.push({ id: Number(id), event, data: JSON.parse(data) });
  });
  const decoder = new TextDecoder();
  for await (const chunk of res.body) split(decoder.decode(chunk as Uint8Array, { stream: true }));
  return { status: res.status, events };
}

function nodeConfig(root: string, db: TestSchema, role: Config['role']): Config {
  return loadConfig(
    { port: 0, homeTemplate: join(root, 'home', '{username}'), dataDir: join(root, 'data'), apiToken: TOKEN, poolSizes: 'python3:0', role, databaseUrl: db.url, waitMaxS: 60 } as never,
    {},
  );
}

describe('api and worker nodes sharing a store and a PostgreSQL event bus', { timeout: 240_000 }, () => {
  let root: string;
  let db: TestSchema;
  const closers: Array<() => Promise<unknown>> = [];
  let apiBase: string;
  let workerBase: string;
  let apiRunner: ApiRunner;
  let worker: Runner;
  let apiStore: SqliteJobStore;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-roles-'));
    db = await freshSchema('hubmill_roles');
    const home = join(root, 'home', 'ann');
    await mkdir(home, { recursive: true });
    await writeFile(
      join(home, 'steps.ipynb'),
      notebookJson([
        code('x = 2', ['parameters']),
        code('print("one", flush=True)'),
        code('import time\ntime.sleep(0.3)\nprint("two", x, flush=True)'),
        code('print("z" * 20000)'),
      ]),
    );
    await writeFile(join(home, 'slow.ipynb'), notebookJson([code('import time\ntime.sleep(120)')]));
    await mkdir(join(root, 'data'), { recursive: true });
    const dbPath = join(root, 'data', 'jobs.sqlite');

    // The worker node.
    const wConfig = nodeConfig(root, db, 'worker');
    const wStore = new SqliteJobStore({ path: dbPath });
    closers.unshift(() => wStore.close());
    const wBus = new PgEventBus({ connection: db.url, schema: db.schema, logger: silent, pollMs: 500 });
    closers.unshift(() => wBus.close());
    await wBus.start();
    const w = createRoleRunner('worker', {
      eventBus: wBus,
      store: wStore,
      homeFor: (u) => homePathFor(u, wConfig.homeTemplate),
      concurrency: 2,
      pollIntervalMs: 100,
      logger: silent,
    });
    assert.ok(w.runner instanceof Runner);
    worker = w.runner;
    closers.unshift(() => worker.stop(2000));
    await worker.start();
    const wApp = await buildApp({ config: wConfig, store: wStore, runner: worker, node: w.node, kernelspecs: () => findKernelSpecs(), logger: silent });
    closers.unshift(() => wApp.close());
    await wApp.listen({ host: '127.0.0.1', port: 0 });
    workerBase = `http://127.0.0.1:${portOf(wApp)}`;

    // The api node.
    const aConfig = nodeConfig(root, db, 'api');
    apiStore = new SqliteJobStore({ path: dbPath });
    closers.unshift(() => apiStore.close());
    const aBus = new PgEventBus({ connection: db.url, schema: db.schema, logger: silent, pollMs: 500 });
    closers.unshift(() => aBus.close());
    await aBus.start();
    const a = createRoleRunner('api', { eventBus: aBus, store: apiStore, homeFor: (u) => homePathFor(u, aConfig.homeTemplate), logger: silent, waitPollMs: 300 });
    assert.ok(a.runner instanceof ApiRunner);
    apiRunner = a.runner;
    const aApp = await buildApp({ config: aConfig, store: apiStore, runner: apiRunner, node: a.node, kernelspecs: () => findKernelSpecs(), logger: silent });
    closers.unshift(() => aApp.close());
    await aApp.listen({ host: '127.0.0.1', port: 0 });
    apiBase = `http://127.0.0.1:${portOf(aApp)}`;
  });

  after(async () => {
    for (const close of closers) await close().catch(() => undefined);
    await db?.drop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('/health reports each node’s role, and the worker id of the worker', async () => {
    const a = await call(apiBase, 'GET', '/health');
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.role, 'api');
    assert.equal(a.body.worker_id, null);
    assert.equal(a.body.concurrency, 0);
    const w = await call(workerBase, 'GET', '/health');
    assert.equal(w.body.role, 'worker');
    assert.equal(w.body.worker_id, worker.workerId);
  });

  it('the worker node refuses the API with 421 and says why; /metrics stays', async () => {
    for (const [method, path] of [['GET', '/api/v1/jobs'], ['POST', '/execute'], ['GET', '/ui/'], ['GET', '/no/such/route']] as const) {
      const r = await call(workerBase, method, path, TOKEN, method === 'POST' ? {} : undefined);
      assert.equal(r.status, 421, `${method} ${path}: ${r.status}`);
      assert.match(r.body.detail, /this node is a worker/);
    }
    const m = await call(workerBase, 'GET', '/metrics', TOKEN);
    assert.equal(m.status, 200);
    assert.match(String(m.body), /hubmill_/);
  });

  it('a submission with ?wait=true on the api node ends when the worker has run it', async () => {
    const r = await call(apiBase, 'POST', '/api/v1/jobs?wait=true', TOKEN, { username: 'ann', notebook: 'steps.ipynb', parameters: { x: 5 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'succeeded');
    const stored = await apiStore.get(r.body.id);
    assert.equal(stored?.worker_id, worker.workerId);
  });

  it('the seed /execute on the api node answers once the worker is done', async () => {
    const r = await call(apiBase, 'POST', '/execute', TOKEN, { username: 'ann', notebook_name: 'steps.ipynb', parameters: { x: 7 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'success');
  });

  it('SSE on the api node shows the cell events of a job run by the worker, and resumes with Last-Event-ID', async () => {
    const sub = await call(apiBase, 'POST', '/api/v1/jobs', TOKEN, { username: 'ann', notebook: 'steps.ipynb' });
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    const path = `/api/v1/jobs/${sub.body.id}/events`;
    const whole = await readSse(apiBase, path);
    assert.equal(whole.status, 200);
    const types = whole.events.map((e) => e.event);
    assert.equal(types[0], 'state');
    assert.ok(types.includes('cell_started') && types.includes('cell_finished'), types.join(','));
    const outputs = whole.events.filter((e) => e.event === 'output').map((e) => e.data.output.text as string);
    assert.ok(outputs.some((t) => t.includes('two 2')), 'the worker’s output reached the api node');
    assert.ok(outputs.some((t) => t.includes('z'.repeat(20000))), 'a big output (spilled) arrived whole');
    const last = whole.events[whole.events.length - 1]!;
    assert.equal(last.event, 'state');
    assert.equal(last.data.status, 'succeeded');
    // Ids only grow: the numbering is the bus's, not this node's.
    const ids = whole.events.map((e) => e.id);
    assert.deepEqual([...ids].sort((x, y) => x - y), ids);
    assert.equal(new Set(ids.slice(1)).size, ids.length - 1);

    // A client that saw up to the first cell_finished resumes with exactly the rest, no snapshot.
    const cut = whole.events.find((e) => e.event === 'cell_finished')!;
    const resumed = await readSse(apiBase, path, { 'last-event-id': String(cut.id) });
    assert.equal(resumed.status, 200);
    const rest = whole.events.filter((e) => e.id > cut.id);
    assert.deepEqual(resumed.events.map((e) => [e.id, e.event]), rest.map((e) => [e.id, e.event]));
    // After the end, a reconnect is told there is nothing more.
    const done = await fetch(`${apiBase}${path}`, { headers: { authorization: `token ${TOKEN}`, 'last-event-id': String(last.id) } });
    assert.equal(done.status, 204);
  });

  it('a cancel sent to the api node stops the job on the worker', async () => {
    const sub = await call(apiBase, 'POST', '/api/v1/jobs', TOKEN, { username: 'ann', notebook: 'slow.ipynb' });
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    const id = sub.body.id as string;
    await eventually(async () => (await apiStore.get(id))?.status === 'running', 60_000, 'the worker to start the job');
    const c = await call(apiBase, 'POST', `/api/v1/jobs/${id}/cancel`, TOKEN);
    assert.equal(c.status, 202, JSON.stringify(c.body));
    const ended = await apiRunner.waitFor(id, 60_000);
    assert.equal(ended?.status, 'cancelled');
    assert.equal(worker.stats().running, 0);
  });

  it('a queued job cancelled on the api node ends its SSE stream there', async () => {
    // The worker is busy with two slow jobs, so the third stays queued.
    const busy = await Promise.all(
      [0, 1].map(() => call(apiBase, 'POST', '/api/v1/jobs', TOKEN, { username: 'ann', notebook: 'slow.ipynb' })),
    );
    try {
      await eventually(() => worker.stats().running === 2, 60_000, 'two running jobs');
      const q = await call(apiBase, 'POST', '/api/v1/jobs', TOKEN, { username: 'ann', notebook: 'slow.ipynb' });
      const stream = readSse(apiBase, `/api/v1/jobs/${q.body.id}/events`);
      const c = await call(apiBase, 'POST', `/api/v1/jobs/${q.body.id}/cancel`, TOKEN);
      assert.equal(c.status, 200);
      const { events } = await stream;
      assert.equal(events[events.length - 1]!.data.status, 'cancelled');
    } finally {
      for (const b of busy) await call(apiBase, 'POST', `/api/v1/jobs/${b.body.id}/cancel`, TOKEN);
      await Promise.all(busy.map((b) => apiRunner.waitFor(b.body.id, 60_000)));
    }
  });
});

function portOf(app: FastifyInstance): number {
  const addr = app.server.address();
  if (typeof addr !== 'object' || !addr) throw new Error('not listening');
  return addr.port;
}
