// Kernels on a Jupyter gateway: a real Jupyter Server (Debian's python3-jupyter-server) started by the
// test with a random token acts as the gateway; the runner (in-process, real engine, real SQLite) and
// `hubmill serve` (in-process) start their kernels there. The server alone has HUBMILL_GATEWAY_MARK in
// its environment, so a cell printing it (and its parent pid) proves where the kernel ran.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KernelGateway, KernelGatewayError } from '../../src/kernel/gateway.js';
import { KernelPool } from '../../src/kernel/pool.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import { limitsFromSettings } from '../../src/runner/time-limits.js';
import { Runner, type RunnerOptions } from '../../src/runner/runner.js';
import type { Job, NewJob } from '../../src/store/job-store.js';
import { hasJupyterServer, startJupyterServer, type JupyterServer } from '../helpers/jupyter-server.js';
import { makeEnv, nextEvent, notebookJson, writeNotebook, type Env } from '../runner/helpers.js';

const WHERE = `import os, json
from ipykernel import get_connection_file
print(json.dumps({"mark": os.environ.get("HUBMILL_GATEWAY_MARK"), "ppid": os.getppid(), "cwd": os.getcwd(),
                  "x": x, "kernel_id": os.path.basename(get_connection_file())[len("kernel-"):-len(".json")]}))`;

const job = (over: Partial<NewJob> = {}): NewJob => ({ username: 'alice', notebook: 'work/nb.ipynb', parameters: {}, submitted_by: 'alice', ...over });

/** The JSON line the WHERE cell printed, from the output notebook. */
function wherePrinted(env: Env, done: Job | null): { mark: string; ppid: number; cwd: string; x: number; kernel_id: string } {
  const out = JSON.parse(readFileSync(join(env.home, done!.output_path!), 'utf8'));
  const cell = out.cells.find((c: { source: string | string[] }) => [c.source].flat().join('').includes('HUBMILL_GATEWAY_MARK'));
  const text = [cell.outputs[0].text].flat().join('');
  return JSON.parse(text);
}

function makeRunner(env: Env, gateway: KernelGateway, over: Partial<RunnerOptions> = {}): Runner {
  return new Runner({ store: env.store, homeFor: env.homeFor, gateway, concurrency: 2, workerId: 'gw', pollIntervalMs: 100, ...over });
}

/** Polls the gateway until a kernel is busy (the job's cell runs); returns its id. */
async function busyKernel(server: JupyterServer, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await server.api('GET', '/api/kernels');
    const busy = Array.isArray(r.body) ? r.body.find((k: { execution_state: string }) => k.execution_state === 'busy') : undefined;
    if (busy) return busy.id as string;
    assert.ok(Date.now() < deadline, `no busy kernel on the gateway: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** The gateway has no kernels left (hubmill shuts each job's kernel down). */
async function kernelsGone(server: JupyterServer, keep: string[] = []): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last: unknown;
  while (Date.now() < deadline) {
    const r = await server.api('GET', '/api/kernels');
    last = r.body;
    if (Array.isArray(r.body) && r.body.every((k: { id: string }) => keep.includes(k.id))) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.fail(`kernels left on the gateway: ${JSON.stringify(last)}`);
}

describe('kernels on a Jupyter gateway (a real Jupyter Server)', { skip: !hasJupyterServer && 'no jupyter_server' }, () => {
  let server: JupyterServer;
  let gateway: KernelGateway;

  before(async () => {
    server = await startJupyterServer();
    gateway = new KernelGateway({ url: server.url, token: server.token, probeIntervalMs: 500 });
  });
  after(async () => {
    await server?.stop();
  });

  test("the gateway's kernelspecs are the ones jobs may name", async () => {
    const specs = await gateway.kernelspecs();
    assert.ok(specs.some((s) => s.name === 'python3' && s.language === 'python'), JSON.stringify(specs));
    assert.ok(specs.every((s) => s.resource_dir.startsWith(server.url)));
    await assert.rejects(gateway.kernelSpec('no-such-kernel'), /No such kernel named 'no-such-kernel' on the kernel gateway \(available kernels: .*python3/);
  });

  test('a parametrized notebook runs on the gateway, in the notebook folder, and its kernel is shut down', async (t) => {
    assert.equal(process.env.HUBMILL_GATEWAY_MARK, undefined, 'only the gateway has the mark');
    const env = makeEnv(t, 'gw');
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['x = 1', WHERE], { parametersCell: true }));
    const runner = makeRunner(env, gateway);
    const { job: j } = await runner.submit(job({ parameters: { x: 21 } }));
    await runner.start();
    t.after(() => runner.stop(5000));
    const done = await runner.waitFor(j.id, 60_000);
    assert.equal(done?.status, 'succeeded', JSON.stringify(done?.error));
    const where = wherePrinted(env, done);
    assert.equal(where.mark, server.mark, 'the kernel has the gateway process environment');
    assert.equal(where.ppid, server.pid, "the kernel is the gateway's child");
    assert.equal(where.x, 21, 'the parameter was injected');
    assert.equal(where.cwd, join(env.home, 'work'), 'moved to the notebook folder (it exists on the gateway: same machine)');
    await kernelsGone(server);
  });

  test('display data, an updated display and scraps keep 1.0 and 2**63 + 1 through the websocket', async (t) => {
    const env = makeEnv(t, 'gw');
    const cell =
      'from IPython.display import display\n' +
      "h = display({'application/json': {'x': 0}}, raw=True, display_id=True)\n" +
      "h.update({'application/json': {'x': 1.0, 'big': 2**63 + 1}}, raw=True)\n" +
      "display({'application/scrapbook.scrap.json+json': {'name': 'f', 'data': 1.0, 'encoder': 'json', 'version': 1}}, raw=True)";
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson([cell]));
    const runner = makeRunner(env, gateway);
    const { job: j } = await runner.submit(job());
    await runner.start();
    t.after(() => runner.stop(5000));
    const done = await runner.waitFor(j.id, 60_000);
    assert.equal(done?.status, 'succeeded', JSON.stringify(done?.error));
    const text = readFileSync(join(env.home, done!.output_path!), 'utf8');
    assert.match(text, /"application\/json": \{\n       "x": 1\.0,\n       "big": 9223372036854775809\n/, 'the updated display');
    assert.match(text, /"name": "f",\n       "data": 1\.0,/, 'the scrap');
    assert.ok(done!.result?.f instanceof PyFloat, `result.f: ${String(done!.result?.f)}`);
    await kernelsGone(server);
  });

  test('a cell timeout interrupts the cell on the gateway; cancel stops a running job', async (t) => {
    const env = makeEnv(t, 'gw');
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['print("before", flush=True)', 'import time\ntime.sleep(60)', 'print("after")']));
    const runner = makeRunner(env, gateway, { limits: limitsFromSettings({ maxCellTimeoutS: 2 }), saveIntervalMs: 50 });
    const timed = (await runner.submit(job())).job;
    const t0 = Date.now();
    await runner.start();
    t.after(() => runner.stop(5000));
    const a = await runner.waitFor(timed.id, 60_000);
    assert.equal(a?.status, 'timed_out', JSON.stringify(a?.error));
    assert.equal(a?.error?.ename, 'CellTimeoutError');
    assert.ok(Date.now() - t0 < 30_000, `the timeout took ${Date.now() - t0} ms`);
    // The sleeping cell's outputs: the kernel's KeyboardInterrupt shows it was interrupted, not killed.
    const interrupted = (p: string) =>
      JSON.stringify(JSON.parse(readFileSync(join(env.home, p), 'utf8')).cells.find((c: { source: string }) => [c.source].flat().join('').includes('sleep')).outputs);
    assert.match(interrupted(a!.output_path!), /KeyboardInterrupt/, 'the cell timeout interrupted the cell on the gateway');

    const cancelled = (await runner.submit(job())).job;
    await nextEvent(runner, cancelled.id, (e) => e.type === 'cell_started' && e.cell_index === 1, 30_000);
    await busyKernel(server);
    const t1 = Date.now();
    await runner.cancel(cancelled.id);
    const b = await runner.waitFor(cancelled.id, 30_000);
    assert.equal(b?.status, 'cancelled', JSON.stringify(b?.error));
    assert.ok(Date.now() - t1 < 10_000, `the cancel took ${Date.now() - t1} ms`);
    const out = JSON.stringify(JSON.parse(readFileSync(join(env.home, b!.output_path!), 'utf8')).cells);
    assert.match(out, /before/);
    assert.doesNotMatch(out, /"after\\n"/);
    assert.match(interrupted(b!.output_path!), /KeyboardInterrupt/, 'the cancel interrupted the cell on the gateway');
    await kernelsGone(server);
  });

  test('the gateway deleting the kernel mid-cell fails the job with DeadKernelError', async (t) => {
    const env = makeEnv(t, 'gw');
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['import time\ntime.sleep(60)']));
    const runner = makeRunner(env, gateway);
    const { job: j } = await runner.submit(job());
    const sleeping = nextEvent(runner, j.id, (e) => e.type === 'cell_started' && e.cell_index === 0, 30_000);
    await runner.start();
    t.after(() => runner.stop(5000));
    await sleeping;
    const id = await busyKernel(server);
    const t0 = Date.now();
    const del = await server.api('DELETE', `/api/kernels/${id}`);
    assert.equal(del.status, 204);
    const done = await runner.waitFor(j.id, 30_000);
    assert.equal(done?.status, 'failed');
    assert.equal(done?.error?.ename, 'DeadKernelError', JSON.stringify(done?.error));
    assert.match(done?.error?.evalue ?? '', /Kernel died .*shut the kernel down/);
    assert.ok(Date.now() - t0 < 15_000, `death noticed after ${Date.now() - t0} ms`);
  });

  test('the pool keeps a warm kernel on the gateway and the job gets that very kernel', async (t) => {
    const env = makeEnv(t, 'gw');
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['x = 1', WHERE], { parametersCell: true }));
    const pool = new KernelPool({ sizes: { python3: 1 }, preload: { python3: 'warm = True' }, launcher: gateway });
    pool.start();
    t.after(() => pool.close());
    assert.ok(await pool.waitFull(60_000), 'a warm kernel is ready on the gateway');
    const listed = await server.api('GET', '/api/kernels');
    assert.equal(listed.body.length, 1, JSON.stringify(listed.body));
    const warmId = listed.body[0].id as string;
    const runner = makeRunner(env, gateway, { pool });
    const { job: j } = await runner.submit(job({ parameters: { x: 2 } }));
    await runner.start();
    t.after(() => runner.stop(5000));
    const done = await runner.waitFor(j.id, 60_000);
    assert.equal(done?.status, 'succeeded', JSON.stringify(done?.error));
    const where = wherePrinted(env, done);
    assert.equal(where.kernel_id, warmId, 'the job ran on the pre-started kernel');
    assert.equal(where.mark, server.mark);
    assert.equal(where.cwd, join(env.home, 'work'));
    assert.ok(await pool.waitFull(60_000), 'the pool refilled on the gateway');
    const refill = (await server.api('GET', '/api/kernels')).body as { id: string }[];
    assert.ok(refill.some((k) => k.id !== warmId), JSON.stringify(refill));

    // A job with its own environment does not fit a warm kernel: a fresh one is started for it.
    await runner.stop(5000);
    const own = new Runner({ store: env.store, homeFor: env.homeFor, gateway, pool, workerId: 'gw-env', pollIntervalMs: 100, kernelEnv: () => ({ KERNEL_EXTRA: '1' }) });
    const second = (await own.submit(job({ parameters: { x: 3 } }))).job;
    await own.start();
    t.after(() => own.stop(5000));
    const done2 = await own.waitFor(second.id, 60_000);
    assert.equal(done2?.status, 'succeeded', JSON.stringify(done2?.error));
    assert.ok(!refill.some((k) => k.id === wherePrinted(env, done2).kernel_id), 'not a warm kernel');
  });

  test('a warm kernel deleted on the gateway (a culler) is replaced by a fresh one for the job', async (t) => {
    const env = makeEnv(t, 'gw');
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['x = 1', WHERE], { parametersCell: true }));
    const pool = new KernelPool({ sizes: { python3: 1 }, launcher: gateway });
    pool.start();
    t.after(() => pool.close());
    assert.ok(await pool.waitFull(60_000));
    const warm = (await server.api('GET', '/api/kernels')).body as { id: string }[];
    assert.equal(warm.length, 1);
    assert.equal((await server.api('DELETE', `/api/kernels/${warm[0]!.id}`)).status, 204);
    const runner = makeRunner(env, gateway, { pool });
    const { job: j } = await runner.submit(job({ parameters: { x: 5 } }));
    await runner.start();
    t.after(() => runner.stop(5000));
    const done = await runner.waitFor(j.id, 60_000);
    assert.equal(done?.status, 'succeeded', JSON.stringify(done?.error));
    const where = wherePrinted(env, done);
    assert.notEqual(where.kernel_id, warm[0]!.id);
    assert.equal(where.x, 5);
    assert.equal(where.mark, server.mark);
  });

  test("a wrong token gets a clear error (503), at submission and when listing kernelspecs", async (t) => {
    const env = makeEnv(t, 'gw');
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['1']));
    const wrong = new KernelGateway({ url: server.url, token: 'not-the-token' });
    await assert.rejects(wrong.kernelspecs(), (e: Error) => e instanceof KernelGatewayError && e.httpStatus === 503 && /refused hubmill's token \(403\)/.test(e.message));
    const runner = makeRunner(env, wrong);
    await assert.rejects(runner.submit(job()), (e: Error) => e instanceof KernelGatewayError && /refused hubmill's token/.test(e.message));
    assert.ok(!JSON.stringify(await wrong.kernelspecs().catch((e: Error) => e.message)).includes('not-the-token'), 'the token is not in the message');
  });

  test('a gateway that goes down between submission and run fails the job promptly', async (t) => {
    const env = makeEnv(t, 'gw');
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['1']));
    const doomed = await startJupyterServer();
    t.after(() => doomed.stop());
    const gw = new KernelGateway({ url: doomed.url, token: doomed.token, specsCacheMs: 0 });
    const runner = makeRunner(env, gw);
    const { job: j } = await runner.submit(job());
    await doomed.stop();
    const t0 = Date.now();
    await runner.start();
    t.after(() => runner.stop(5000));
    const done = await runner.waitFor(j.id, 30_000);
    assert.equal(done?.status, 'failed');
    assert.match(`${done?.error?.ename}: ${done?.error?.evalue}`, /KernelGatewayError: the kernel gateway at .* is unreachable/);
    assert.ok(Date.now() - t0 < 10_000, `failed after ${Date.now() - t0} ms`);
  });
});
