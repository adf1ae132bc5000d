// The runner with the real engine, real python3 kernels and a real SQLite file.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Runner, type RunnerOptions } from '../../src/runner/runner.js';
import { limitsFromSettings } from '../../src/runner/time-limits.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { KernelPool } from '../../src/kernel/pool.js';
import { ForkServers } from '../../src/kernel/fork-servers.js';
import type { NewJob } from '../../src/store/job-store.js';
import { makeEnv, nextEvent, notebookJson, record, writeNotebook, type Env } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const hasPython = existsSync('/usr/share/jupyter/kernels/python3/kernel.json');

function makeRunner(env: Env, over: Partial<RunnerOptions> = {}): Runner {
  return new Runner({ store: env.store, homeFor: env.homeFor, concurrency: 2, workerId: 'e2e', pollIntervalMs: 100, ...over });
}

const job = (over: Partial<NewJob> = {}): NewJob => ({ username: 'alice', notebook: 'work/nb.ipynb', parameters: {}, submitted_by: 'alice', ...over });

const SCRAP = `from IPython.display import display
display({'application/scrapbook.scrap.json+json': {'name': 'doubled', 'data': x * 2, 'encoder': 'json', 'version': 1}}, raw=True)`;

const isRoot = process.getuid?.() === 0;

describe('Runner with real kernels', { skip: !hasPython && 'no python3 kernelspec' }, () => {
  test('runs a parameterized notebook: output file, progress, events, glued results', async (t) => {
    const env = makeEnv(t, 'e2e');
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['x = 1', 'import os\nprint(x, os.getcwd())', SCRAP], { parametersCell: true }));
    const pool = new KernelPool({ sizes: { python3: 1 } });
    pool.start();
    t.after(() => pool.close());
    assert.ok(await pool.waitFull(30_000), 'a warm kernel is ready');
    const runner = makeRunner(env, { pool });
    const { job: j } = await runner.submit(job({ parameters: { x: 21 } }));
    const rec = record(runner, j.id);
    await runner.start();
    t.after(() => runner.stop(5000));
    const done = await runner.waitFor(j.id, 30_000);
    rec.stop();
    assert.equal(done?.status, 'succeeded', JSON.stringify(done?.error));
    assert.deepEqual(done?.result, { doubled: 42 });
    assert.equal(done?.progress.cells_done, done?.progress.cells_total);
    assert.equal(done?.progress.cells_total, 4, 'three cells plus the injected one');
    const out = JSON.parse(readFileSync(join(env.home, done!.output_path!), 'utf8'));
    assert.equal(out.metadata.papermill.parameters.x, 21);
    assert.equal(out.metadata.hubmill.job_id, j.id);
    const printed = out.cells[2].outputs[0].text.join?.('') ?? out.cells[2].outputs[0].text;
    assert.equal(printed.trim(), `21 ${join(env.home, 'work')}`, 'kernel works in the notebook folder');
    assert.ok(rec.events.some((e) => e.type === 'output'));
    assert.equal(rec.events.filter((e) => e.type === 'cell_finished').length, 4);
  });

  test("a warm kernel moved to the notebook's folder sees the modules a kernel started there would: not the pool's start folder", async (t) => {
    const env = makeEnv(t, 'e2e');
    // The pool starts its kernels here; a module in it must not be importable by jobs in other folders.
    const start = join(env.root, 'service');
    mkdirSync(start);
    writeFileSync(join(start, 'only_in_start.py'), 'X = 1\n');
    writeFileSync(join(env.home, 'work', 'only_in_work.py'), 'Y = 2\n');
    writeNotebook(
      env.home,
      'work/nb.ipynb',
      notebookJson([
        'import os, sys\nprint(os.getcwd() in sys.path, any(p.endswith("/service") for p in sys.path))',
        'import only_in_work\nprint(only_in_work.Y)',
        'try:\n    import only_in_start\n    print("imported")\nexcept ModuleNotFoundError:\n    print("not found")',
      ]),
    );
    const forkServers = new ForkServers();
    t.after(() => forkServers.close());
    for (const fork of [null, forkServers]) {
      const pool = new KernelPool({ sizes: { python3: 1 }, cwd: start, ...(fork ? { forkServers: fork } : {}) });
      pool.start();
      t.after(() => pool.close());
      assert.ok(await pool.waitFull(30_000), 'a warm kernel is ready');
      const runner = makeRunner(env, { pool });
      const { job: j } = await runner.submit(job());
      await runner.start();
      const done = await runner.waitFor(j.id, 30_000);
      await runner.stop(5000);
      await pool.close();
      assert.equal(done?.status, 'succeeded', JSON.stringify(done?.error));
      const out = JSON.parse(readFileSync(join(env.home, done!.output_path!), 'utf8'));
      const printed = (i: number) => [out.cells[i].outputs[0].text].flat().join('').trim();
      const how = fork ? 'forked' : 'launched';
      assert.equal(printed(0), 'True False', `${how}: the notebook's folder on sys.path, the start folder not`);
      assert.equal(printed(1), '2', how);
      assert.equal(printed(2), 'not found', how);
    }
  });

  test('cancels a running time.sleep(60) cell and keeps the partial output', async (t) => {
    const env = makeEnv(t, 'e2e');
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['print("before", flush=True)', 'import time\ntime.sleep(60)', 'print("after")']));
    const runner = makeRunner(env, { saveIntervalMs: 50 });
    const { job: j } = await runner.submit(job());
    const sleeping = nextEvent(runner, j.id, (e) => e.type === 'cell_started' && e.cell_index === 1, 30_000);
    await runner.start();
    t.after(() => runner.stop(5000));
    await sleeping;
    const t0 = Date.now();
    await runner.cancel(j.id);
    const done = await runner.waitFor(j.id, 30_000);
    assert.equal(done?.status, 'cancelled');
    assert.ok(Date.now() - t0 < 10_000, 'stopped promptly');
    const out = JSON.parse(readFileSync(join(env.home, done!.output_path!), 'utf8'));
    assert.match(JSON.stringify(out.cells), /before/);
    assert.doesNotMatch(JSON.stringify(out.cells), /"after\\n"/);
  });

  test('a whole-run timeout ends as timed_out, and a cell timeout too', async (t) => {
    const env = makeEnv(t, 'e2e');
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['import time\ntime.sleep(60)']));
    const runner = makeRunner(env, { limits: limitsFromSettings({ maxCellTimeoutS: 1.5 }) });
    const whole = (await runner.submit(job({ timeout_s: 1 }))).job;
    const cell = (await runner.submit(job())).job; // no limit asked: the maximum, 1.5 s
    await runner.start();
    t.after(() => runner.stop(5000));
    const a = await runner.waitFor(whole.id, 30_000);
    const b = await runner.waitFor(cell.id, 30_000);
    assert.equal(a?.status, 'timed_out');
    assert.equal(b?.status, 'timed_out');
    assert.equal(b?.error?.ename, 'CellTimeoutError');
  });

  // One kernel per job, forked from the fork server as `hubmill serve` does: a cold launch of Debian's
  // ipykernel costs ~1 s of CPU on this kind of machine (200 of them would take minutes on 2 cores).
  test('200 submissions at once all finish exactly once (concurrency 2)', { timeout: 240_000 }, async (t) => {
    const env = makeEnv(t, 'e2e');
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['1 + 1']));
    const finishedCount = new Map<string, number>();
    const forkServers = new ForkServers();
    const pool = new KernelPool({ sizes: { python3: 2 }, forkServers });
    pool.start();
    t.after(async () => {
      await pool.close();
      await forkServers.close();
    });
    const runner = makeRunner(env, {
      pool,
      metrics: { jobFinished: (_s, _d, j) => finishedCount.set(j.id, (finishedCount.get(j.id) ?? 0) + 1) },
    });
    const lag = monitorEventLoopDelay({ resolution: 20 });
    lag.enable();
    const t0 = Date.now();
    const submitted = await Promise.all(Array.from({ length: 200 }, (_, i) => runner.submit(job({ idempotency_key: `k${i}` }))));
    const ids = submitted.map((s) => s.job.id);
    assert.equal(new Set(ids).size, 200);
    await runner.start();
    t.after(() => runner.stop(5000));
    const finals = await Promise.all(ids.map((id) => runner.waitFor(id, 230_000)));
    const elapsed = Date.now() - t0;
    lag.disable();
    t.diagnostic(`200 trivial jobs in ${elapsed} ms; event loop delay max ${Math.round(lag.max / 1e6)} ms, p99 ${Math.round(lag.percentile(99) / 1e6)} ms`);
    assert.deepEqual(finals.filter((j) => j?.status !== 'succeeded').map((j) => [j?.status, j?.error?.ename, j?.error?.evalue]), []);
    assert.equal(finishedCount.size, 200);
    assert.ok([...finishedCount.values()].every((n) => n === 1), 'each finished exactly once');
    assert.ok(finals.every((j) => j?.attempts === 1));
    const counts = await env.store.countByStatus();
    assert.equal(counts.succeeded, 200);
  });

  test("restart mid-run: the dead process's running job fails once its lease expires, queued jobs still run", { timeout: 90_000 }, async (t) => {
    const env = makeEnv(t, 'e2e');
    writeNotebook(env.home, 'work/slow.ipynb', notebookJson(['import time\ntime.sleep(60)']));
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['1 + 1']));
    const leaseMs = 1500;
    const submitter = makeRunner(env);
    const slow = (await submitter.submit(job({ notebook: 'work/slow.ipynb' }))).job;
    const queued = [];
    for (let i = 0; i < 3; i++) queued.push((await submitter.submit(job())).job);

    // A separate service process picks up the slow job, then dies hard.
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'runner-process.ts'), env.dbPath, env.homes, String(leaseMs)], {
      cwd: join(here, '..', '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => child.kill('SIGKILL'));
    const lines = createInterface({ input: child.stdout! });
    for await (const line of lines) if (line === `started ${slow.id}`) break;
    const other = new SqliteJobStore({ path: env.dbPath });
    t.after(() => other.close());
    assert.equal((await other.get(slow.id))?.status, 'running');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;

    // The service restarts on the same file: a new identity, the same lease.
    const restarted = new Runner({ store: other, homeFor: env.homeFor, concurrency: 2, pollIntervalMs: 100, leaseMs });
    const failed = nextEvent(restarted, slow.id, (e) => e.type === 'state' && e.status === 'failed', 30_000);
    await restarted.start();
    t.after(() => restarted.stop(5000));
    await failed;
    const s = await other.get(slow.id);
    assert.equal(s?.status, 'failed');
    assert.equal(s?.error?.ename, 'JobInterrupted');
    assert.match(s?.error?.evalue ?? '', /restarted/);
    for (const q of queued) assert.equal((await restarted.waitFor(q.id, 60_000))?.status, 'succeeded');
    const counts = await other.countByStatus();
    assert.equal(counts.running + counts.queued, 0, 'nothing stuck');
  });

  test('as root, a job of an existing system user runs as that user and the output is theirs', { skip: !isRoot && 'needs root' }, async (t) => {
    const env = makeEnv(t, 'e2e');
    // 'nobody' exists on every Linux; give it a home inside the temp root.
    chmodSync(env.root, 0o755);
    chmodSync(env.homes, 0o755);
    const home = join(env.homes, 'nobody');
    mkdirSync(join(home, 'work'), { recursive: true });
    writeNotebook(home, 'work/nb.ipynb', notebookJson(['import os\nprint(os.getuid(), os.getgid(), flush=True)', 'open("/root/hubmill-should-not-exist", "w")']));
    chownSync(home, 65534, 65534);
    chownSync(join(home, 'work'), 65534, 65534);
    chownSync(join(home, 'work', 'nb.ipynb'), 65534, 65534);
    const runner = makeRunner(env);
    const { job: j } = await runner.submit(job({ username: 'nobody', submitted_by: 'nobody' }));
    await runner.start();
    t.after(() => runner.stop(5000));
    const done = await runner.waitFor(j.id, 30_000);
    assert.equal(done?.status, 'failed', 'writing into /root is refused to the user');
    assert.equal(done?.error?.ename, 'PermissionError');
    const outPath = join(home, done!.output_path!);
    const out = JSON.parse(readFileSync(outPath, 'utf8'));
    assert.match(JSON.stringify(out.cells), /65534 65534/);
    assert.equal(statSync(outPath).uid, 65534, 'the output belongs to the user');
    assert.equal(statSync(dirname(outPath)).uid, 65534, 'so does the folder hubmill created');
    assert.equal(existsSync('/root/hubmill-should-not-exist'), false);
  });
});

