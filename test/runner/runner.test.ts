import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Runner, defaultOutputPath, type RunnerOptions } from '../../src/runner/runner.js';
import { checkRequestedLimits, limitsFromSettings, runLimitsMs, UNLIMITED } from '../../src/runner/time-limits.js';
import { newWorkerId } from '../../src/runner/lease.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import {
  InvalidUsernameError,
  LimitError,
  NoSuchKernelError,
  NotFoundError,
  NotebookFormatError,
  UnsafePathError,
} from '../../src/errors.js';
import type { NewJob } from '../../src/store/job-store.js';
import { FakeEngine } from './fake-engine.js';
import { waitFor } from '../helpers/notebooks.js';
import { eventually } from '../helpers/wait.js';
import { makeEnv, notebookJson, record, writeNotebook, type Env } from './helpers.js';

/** A job's status and last lease renewal, as the store row has them (the Job view has no updated_at_ms). */
function lease(store: SqliteJobStore, id: string): { status: string; updated_at_ms: number } {
  return store.connection().prepare('SELECT status, updated_at_ms FROM jobs WHERE id = ?').get(id) as { status: string; updated_at_ms: number };
}

function makeRunner(env: Env, engine: FakeEngine, over: Partial<RunnerOptions> = {}): Runner {
  return new Runner({
    store: env.store,
    homeFor: env.homeFor,
    concurrency: 2,
    workerId: 'test-worker',
    execute: engine.execute,
    getKernelSpec: async (name) => {
      if (name !== 'python3') throw new NoSuchKernelError(`No such kernel named ${name}`);
      return { name, language: 'python' };
    },
    runAsFor: async () => null,
    pollIntervalMs: 50,
    ...over,
  });
}

const job = (over: Partial<NewJob> = {}): NewJob => ({ username: 'alice', notebook: 'work/nb.ipynb', parameters: {}, submitted_by: 'alice', ...over });

describe('Runner.submit validation', () => {
  test('answers bad input synchronously and enqueues nothing', async (t) => {
    const env = makeEnv(t);
    const runner = makeRunner(env, new FakeEngine());
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['1']));
    writeNotebook(env.home, 'work/bad.ipynb', '{"not": "a notebook"');
    writeNotebook(env.home, 'work/nokernel.ipynb', notebookJson(['1'], { kernel: null }));
    writeNotebook(env.home, 'work/other.ipynb', notebookJson(['1'], { kernel: 'cobol' }));
    mkdirSync(join(env.root, 'outside'));
    writeNotebook(env.root, 'outside/x.ipynb', notebookJson(['1']));
    symlinkSync(join(env.root, 'outside'), join(env.home, 'escape'));

    await assert.rejects(runner.submit(job({ username: 'bob' })), NotFoundError);
    await assert.rejects(runner.submit(job({ username: '../alice' })), InvalidUsernameError);
    await assert.rejects(runner.submit(job({ notebook: 'work/missing.ipynb' })), NotFoundError);
    await assert.rejects(runner.submit(job({ notebook: 'work' })), NotFoundError);
    await assert.rejects(runner.submit(job({ notebook: '../bob/nb.ipynb' })), UnsafePathError);
    await assert.rejects(runner.submit(job({ notebook: '/etc/passwd' })), UnsafePathError);
    await assert.rejects(runner.submit(job({ notebook: 'escape/x.ipynb' })), UnsafePathError);
    await assert.rejects(runner.submit(job({ notebook: 'work/nb.ipynb\0' })), UnsafePathError);
    await assert.rejects(runner.submit(job({ notebook: 'work/bad.ipynb' })), NotebookFormatError);
    await assert.rejects(runner.submit(job({ notebook: 'work/nokernel.ipynb' })), NoSuchKernelError);
    await assert.rejects(runner.submit(job({ notebook: 'work/other.ipynb' })), NoSuchKernelError);
    await assert.rejects(runner.submit(job({ kernel: 'nope' })), NoSuchKernelError);
    await assert.rejects(runner.submit(job({ timeout_s: -1 })), LimitError);
    await assert.rejects(runner.submit(job({ cell_timeout_s: 0 })), LimitError);
    await assert.rejects(runner.submit(job({ output_path: '../../out.ipynb' })), UnsafePathError);
    assert.equal((await env.store.list({ limit: 10 })).jobs.length, 0);

    // The kernel override makes a kernel-less notebook acceptable; paths are stored normalized.
    const ok = await runner.submit(job({ notebook: './work/../work/nokernel.ipynb', kernel: 'python3' }));
    assert.equal(ok.job.notebook, 'work/nokernel.ipynb');
    assert.equal(ok.job.status, 'queued');
  });
});

describe('Runner: the kernel is resolved once, at submission', () => {
  test("a job runs on the kernel it was checked against, even when the notebook's kernelspec is edited before it runs", async (t) => {
    const env = makeEnv(t);
    const engine = new FakeEngine();
    const runner = makeRunner(env, engine);
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['a = 1']));
    const { job: queued } = await runner.submit(job({ parameters: { a: 2 } }));
    assert.equal(queued.kernel, 'python3', 'the resolved name is stored');
    assert.equal(queued.kernel_language, 'python', 'and its language');
    // Edited after submission: a kernel this server does not have.
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['a = 1'], { kernel: 'cobol' }));
    await runner.start();
    t.after(() => runner.stop(1000));
    const done = await runner.waitFor(queued.id, 5000);
    assert.equal(done?.status, 'succeeded', JSON.stringify(done?.error));
    assert.equal(engine.calls[0]!.opts.kernelName, 'python3');
    assert.equal(engine.calls[0]!.opts.language, 'python');
  });
});

describe('Runner lifecycle (fake engine)', () => {
  test('runs a job to success with events, progress, results and the default output path', async (t) => {
    const env = makeEnv(t);
    const engine = new FakeEngine();
    const runner = makeRunner(env, engine, { limits: limitsFromSettings({ maxTimeoutS: 60, maxCellTimeoutS: 5 }) });
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['a = 1', 'b = 2', 'c = 3']));
    const { job: queued } = await runner.submit(job({ parameters: { lr: 0.01 }, cell_timeout_s: 2 }));
    const rec = record(runner, queued.id);
    await runner.start();
    t.after(() => runner.stop(1000));
    const done = await runner.waitFor(queued.id, 5000);
    rec.stop();
    assert.equal(done?.status, 'succeeded');
    assert.deepEqual(done?.result, { answer: 42 });
    assert.deepEqual(done?.progress, { cells_total: 3, cells_done: 3 });
    assert.equal(done?.error, null);
    assert.equal(done?.output_path, `work/hubmill-outputs/nb-${queued.id}.ipynb`);
    assert.ok(existsSync(join(env.home, 'work', 'hubmill-outputs')), 'the output folder was created');
    assert.equal(done?.worker_id, 'test-worker');
    assert.ok(done!.started_at_ms! <= done!.finished_at_ms!);

    const call = engine.calls[0]!.opts;
    assert.equal(call.inputPath, join(env.home, 'work', 'nb.ipynb'));
    assert.equal(call.outputPath, join(env.home, 'work', 'hubmill-outputs', `nb-${queued.id}.ipynb`));
    assert.equal(call.cwd, join(env.home, 'work'));
    assert.deepEqual(call.parameters, { lr: 0.01 });
    assert.equal(call.kernelName, 'python3');
    assert.equal(call.runTimeoutMs, 60_000, 'no limit asked: the maximum');
    assert.equal(call.cellTimeoutMs, 2000);
    assert.deepEqual(call.hubmillMetadata, { job_id: queued.id, username: 'alice', submitted_by: 'alice', source: 'api' });

    const types = rec.events.map((e) => (e.type === 'state' ? `state:${e.status}` : e.type));
    assert.equal(types[0], 'state:running');
    assert.equal(types[types.length - 1], 'state:succeeded');
    assert.equal(types.filter((x) => x === 'cell_started').length, 3);
    assert.equal(types.filter((x) => x === 'cell_finished').length, 3);
    assert.equal(types.filter((x) => x === 'output').length, 3);
    const lastCell = rec.events.filter((e) => e.type === 'cell_finished').pop();
    assert.deepEqual(lastCell && { done: lastCell.cells_done, total: lastCell.cells_total }, { done: 3, total: 3 });
  });

  test('maps a failed run, an engine error and a vanished notebook to failed jobs, and keeps going', async (t) => {
    const env = makeEnv(t);
    const engine = new FakeEngine();
    const runner = makeRunner(env, engine, { concurrency: 1 });
    writeNotebook(env.home, 'work/fail.ipynb', notebookJson(['1', '2', '3'], { metadata: { fake: 'fail' } }));
    writeNotebook(env.home, 'work/throw.ipynb', notebookJson(['1'], { metadata: { fake: 'throw' } }));
    writeNotebook(env.home, 'work/gone.ipynb', notebookJson(['1']));
    writeNotebook(env.home, 'work/broken.ipynb', notebookJson(['1']));
    writeNotebook(env.home, 'work/ok.ipynb', notebookJson(['1']));
    const fail = (await runner.submit(job({ notebook: 'work/fail.ipynb' }))).job;
    const thrown = (await runner.submit(job({ notebook: 'work/throw.ipynb' }))).job;
    const gone = (await runner.submit(job({ notebook: 'work/gone.ipynb' }))).job;
    const broken = (await runner.submit(job({ notebook: 'work/broken.ipynb' }))).job;
    const ok = (await runner.submit(job({ notebook: 'work/ok.ipynb' }))).job;
    rmSync(join(env.home, 'work', 'gone.ipynb'));
    writeFileSync(join(env.home, 'work', 'broken.ipynb'), '{"nbformat": 3}');
    await runner.start();
    t.after(() => runner.stop(1000));

    const f = await runner.waitFor(fail.id, 5000);
    assert.equal(f?.status, 'failed');
    assert.deepEqual(f?.error, { ename: 'ValueError', evalue: 'boom', traceback: ['Traceback', 'ValueError: boom'], cell_index: 3 });
    assert.deepEqual(f?.progress, { cells_total: 3, cells_done: 2 });

    const th = await runner.waitFor(thrown.id, 5000);
    assert.equal(th?.status, 'failed');
    assert.equal(th?.error?.ename, 'KernelStartError');

    const g = await runner.waitFor(gone.id, 5000);
    assert.equal(g?.status, 'failed');
    assert.equal(g?.error?.ename, 'NotFoundError');
    assert.equal(g?.error?.cell_index, null);

    const b = await runner.waitFor(broken.id, 5000);
    assert.equal(b?.status, 'failed');
    assert.equal(b?.error?.ename, 'NotebookFormatError');

    assert.equal((await runner.waitFor(ok.id, 5000))?.status, 'succeeded');
  });

  test('respects the concurrency bound', async (t) => {
    const env = makeEnv(t);
    const engine = new FakeEngine();
    const runner = makeRunner(env, engine, { concurrency: 2 });
    writeNotebook(env.home, 'work/block.ipynb', notebookJson(['1'], { metadata: { fake: 'block' } }));
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await runner.submit(job({ notebook: 'work/block.ipynb' }))).job.id);
    await runner.start();
    t.after(() => runner.stop(1000));
    await engine.started(2);
    assert.equal(runner.stats().running, 2);
    assert.equal((await env.store.countByStatus()).queued, 3);
    // Release one at a time; never more than two at once.
    for (let i = 0; i < 5; i++) {
      await engine.started(i + 1);
      engine.calls[i]!.release();
    }
    for (const id of ids) assert.equal((await runner.waitFor(id, 5000))?.status, 'succeeded');
    assert.equal(engine.maxActive, 2);
    assert.deepEqual(runner.stats(), { running: 0, concurrency: 2, pool: {} });
  });

  test('cancels a queued job at once and a running job through its signal', async (t) => {
    const env = makeEnv(t);
    const engine = new FakeEngine();
    const runner = makeRunner(env, engine, { concurrency: 1 });
    writeNotebook(env.home, 'work/block.ipynb', notebookJson(['1'], { metadata: { fake: 'block' } }));
    await runner.start();
    t.after(() => runner.stop(1000));
    const first = (await runner.submit(job({ notebook: 'work/block.ipynb' }))).job;
    const second = (await runner.submit(job({ notebook: 'work/block.ipynb' }))).job;
    await engine.started(1);
    const c2 = await runner.cancel(second.id);
    assert.equal(c2?.status, 'cancelled');
    const c1 = await runner.cancel(first.id);
    assert.equal(c1?.cancel_requested, true);
    const done = await runner.waitFor(first.id, 5000);
    assert.equal(done?.status, 'cancelled');
    assert.equal(done?.error?.ename, 'Cancelled');
    assert.equal(engine.calls.length, 1, 'the cancelled queued job never ran');
    assert.equal(await runner.cancel('00000000000000000000000000'), null);
  });

  test('a cancel requested through another store handle reaches the running job', async (t) => {
    const env = makeEnv(t);
    const engine = new FakeEngine();
    const runner = makeRunner(env, engine);
    writeNotebook(env.home, 'work/block.ipynb', notebookJson(['1'], { metadata: { fake: 'block' } }));
    await runner.start();
    t.after(() => runner.stop(1000));
    const j = (await runner.submit(job({ notebook: 'work/block.ipynb' }))).job;
    await engine.started(1);
    const other = new SqliteJobStore({ path: env.dbPath });
    t.after(() => other.close());
    await other.requestCancel(j.id);
    assert.equal((await runner.waitFor(j.id, 5000))?.status, 'cancelled');
  });

  test('waitFor returns the current state after its timeout, null for unknown jobs, and follows jobs finished elsewhere', async (t) => {
    const env = makeEnv(t);
    const engine = new FakeEngine();
    const runner = makeRunner(env, engine);
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['1']));
    const j = (await runner.submit(job())).job;
    // Not started: stays queued.
    assert.equal((await runner.waitFor(j.id, 50))?.status, 'queued');
    assert.equal(await runner.waitFor('nope', 10), null);
    const ac = new AbortController();
    const aborted = runner.waitFor(j.id, 60_000, ac.signal);
    ac.abort();
    assert.equal((await aborted)?.status, 'queued');

    // Another process (store handle) runs it; this runner's poll notices.
    await runner.start();
    t.after(() => runner.stop(1000));
    const other = new SqliteJobStore({ path: env.dbPath });
    t.after(() => other.close());
    const k = (await other.enqueue(job())).job;
    await runner.stop(100); // nobody here runs jobs now, but waiting still works once polling resumes
    const r2 = makeRunner(env, engine, { concurrency: 1 });
    const waiting = r2.waitFor(k.id, 5000);
    const claimed = await other.claimNext('elsewhere');
    const claimedK = claimed?.id === k.id ? claimed : await other.claimNext('elsewhere');
    assert.ok(claimedK);
    await r2.start();
    t.after(() => r2.stop(1000));
    await other.markFinished(k.id, 'succeeded', {});
    assert.equal((await waiting)?.status, 'succeeded');
  });

  test('stop() lets running jobs finish within the grace, then cancels them', async (t) => {
    const env = makeEnv(t);
    const engine = new FakeEngine();
    const runner = makeRunner(env, engine);
    writeNotebook(env.home, 'work/block.ipynb', notebookJson(['1'], { metadata: { fake: 'block' } }));
    await runner.start();
    const a = (await runner.submit(job({ notebook: 'work/block.ipynb' }))).job;
    const b = (await runner.submit(job({ notebook: 'work/block.ipynb' }))).job;
    await engine.started(2);
    engine.calls[0]!.release();
    await runner.stop(200);
    const ja = await env.store.get(a.id);
    const jb = await env.store.get(b.id);
    const byId = new Map([[ja!.id, ja!], [jb!.id, jb!]]);
    const released = engine.calls[0]!.opts.hubmillMetadata!.job_id as string;
    const other = released === a.id ? b.id : a.id;
    assert.equal(byId.get(released)?.status, 'succeeded');
    assert.equal(byId.get(other)?.status, 'cancelled');
    assert.match(byId.get(other)?.error?.evalue ?? '', /shutting down/);
    // Nothing is claimed after stop.
    const c = (await runner.submit(job({ notebook: 'work/block.ipynb' }))).job;
    assert.equal((await runner.waitFor(c.id, 100))?.status, 'queued');
  });

  test("a restarted process leaves a live process's running jobs alone; a dead one's are reclaimed once its lease expires", async (t) => {
    const env = makeEnv(t);
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['1']));
    writeNotebook(env.home, 'work/block.ipynb', notebookJson(['1'], { metadata: { fake: 'block' } }));
    const leaseMs = 400;
    // Two processes on one store, each with its own identity.
    const engineA = new FakeEngine();
    const engineB = new FakeEngine();
    const a = makeRunner(env, engineA, { concurrency: 1, workerId: newWorkerId(), leaseMs, heartbeatIntervalMs: 50 });
    const storeB = new SqliteJobStore({ path: env.dbPath });
    t.after(() => storeB.close());
    const b = makeRunner(env, engineB, { store: storeB, concurrency: 1, workerId: newWorkerId(), leaseMs, heartbeatIntervalMs: 50 });
    assert.notEqual(a.workerId, b.workerId);
    const ja = (await a.submit(job({ notebook: 'work/block.ipynb' }))).job;
    await a.start();
    await engineA.started(1);
    assert.equal(await engineA.calls[0]!.opts.mayWrite?.(), true, 'a run that holds its job writes its output');
    const jb = (await b.submit(job({ notebook: 'work/block.ipynb' }))).job;
    await b.start();
    t.after(() => b.stop(1000));
    await engineB.started(1);

    // A dies (its process claims and renews nothing more); its successor starts at once on the same file.
    (a as unknown as { queue: { stopping: boolean } }).queue.stopping = true;
    (a as unknown as { lease: { stop(): void } }).lease.stop();
    const killedAt = Date.now();
    const storeA2 = new SqliteJobStore({ path: env.dbPath });
    t.after(() => storeA2.close());
    const a2 = makeRunner(env, new FakeEngine(), { store: storeA2, concurrency: 1, workerId: newWorkerId(), leaseMs, heartbeatIntervalMs: 50 });
    await a2.start();
    t.after(() => a2.stop(1000));
    assert.equal((await storeA2.get(jb.id))?.status, 'running', "the live process's job is not touched");
    assert.equal((await storeA2.get(ja.id))?.status, 'running', 'a lease that has not expired is not reclaimed');

    // Reclaimed by whichever live process looks first (A's successor or B).
    assert.ok(await waitFor(async () => (await storeA2.get(ja.id))?.status === 'failed', 10_000), 'the dead process\'s job was reclaimed');
    const reclaimed = await storeA2.get(ja.id);
    assert.equal(reclaimed?.error?.ename, 'JobInterrupted');
    assert.match(reclaimed?.error?.evalue ?? '', /lease/);
    assert.ok(reclaimed!.finished_at_ms! - killedAt >= leaseMs - 50, 'reclaimed only after the lease expired');
    // The dead process's run may no longer write its output file; the live one's still may.
    assert.equal(await engineA.calls[0]!.opts.mayWrite?.(), false, 'a run whose lease was reclaimed must not write its output');
    assert.equal(await engineB.calls[0]!.opts.mayWrite?.(), true);
    // Several leases later (its heartbeats show them pass), B's job (renewed all along) is still running, then finishes normally.
    const renewedFrom = lease(storeB, jb.id).updated_at_ms;
    const renewed = await eventually(() => {
      const j = lease(storeB, jb.id);
      return (j.status !== 'running' || j.updated_at_ms >= renewedFrom + 3 * leaseMs) && j;
    }, 20 * leaseMs, "three leases of B's job");
    assert.equal(renewed.status, 'running');
    engineB.calls[0]!.release();
    const doneB = await b.waitFor(jb.id, 5000);
    assert.equal(doneB?.status, 'succeeded');
    assert.equal(doneB?.attempts, 1);

    // The dead process finishing late cannot overwrite the reclaimed record.
    engineA.calls[0]!.release();
    await a.stop(1000);
    assert.equal((await env.store.get(ja.id))?.status, 'failed');
  });

  test('a process that lost its lease stops its run, and its late record does not overwrite the new one', async (t) => {
    const env = makeEnv(t);
    writeNotebook(env.home, 'work/block.ipynb', notebookJson(['1'], { metadata: { fake: 'block' } }));
    const engine = new FakeEngine();
    const runner = makeRunner(env, engine, { concurrency: 1, heartbeatIntervalMs: 50, leaseMs: 60_000 });
    const j = (await runner.submit(job({ notebook: 'work/block.ipynb' }))).job;
    await runner.start();
    t.after(() => runner.stop(1000));
    await engine.started(1);
    // Another process reclaims it, as if this one had been stopped for a whole lease.
    const other = new SqliteJobStore({ path: env.dbPath });
    t.after(() => other.close());
    const taken = await other.recoverInterrupted({ staleBeforeMs: Date.now() + 1, exceptWorkerId: 'elsewhere', requeue: false, reason: 'reclaimed elsewhere' });
    assert.deepEqual(taken.map((x) => x.id), [j.id]);
    // This process's next renewal reports the loss: its run is aborted, and the reclaiming record stands.
    const sig = engine.calls[0]!.opts.signal!;
    // Bounded, and a timer of its own: the runner's timers do not keep the process alive.
    assert.ok(await waitFor(() => sig.aborted, 10_000), 'the run was stopped');
    assert.match(String((sig.reason as Error).message), /reclaimed/);
    await runner.stop(1000);
    const now = await other.get(j.id);
    assert.equal(now?.status, 'failed');
    assert.equal(now?.error?.evalue, 'reclaimed elsewhere');
  });

  test('requeueInterruptedOnStart puts the jobs of an expired lease back in the queue', async (t) => {
    const env = makeEnv(t);
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['1']));
    const j = (await env.store.enqueue(job())).job;
    await env.store.claimNext('dead-worker');
    const engine = new FakeEngine();
    const runner = makeRunner(env, engine, { requeueInterruptedOnStart: true, leaseMs: 300 });
    await runner.start();
    t.after(() => runner.stop(1000));
    const done = await runner.waitFor(j.id, 5000);
    assert.equal(done?.status, 'succeeded');
    assert.equal(done?.attempts, 2);
    assert.equal(done?.worker_id, 'test-worker');
  });

  test('heartbeats keep a long job of a live runner from being taken as abandoned', async (t) => {
    const env = makeEnv(t);
    const engine = new FakeEngine();
    const runner = makeRunner(env, engine, { leaseMs: 300, heartbeatIntervalMs: 50 });
    writeNotebook(env.home, 'work/block.ipynb', notebookJson(['1'], { metadata: { fake: 'block' } }));
    const j = (await runner.submit(job({ notebook: 'work/block.ipynb' }))).job;
    await runner.start();
    t.after(() => runner.stop(1000));
    await engine.started(1);
    // Four leases pass, as its renewals show (a lost lease ends the run instead).
    const from = lease(env.store, j.id).updated_at_ms;
    const renewed = await eventually(() => {
      const now = lease(env.store, j.id);
      return (now.status !== 'running' || now.updated_at_ms >= from + 4 * 300) && now;
    }, 10_000, 'four leases of the job');
    assert.equal(renewed.status, 'running', 'still running, renewed all along');
    engine.calls[0]!.release();
    assert.equal((await runner.waitFor(j.id, 5000))?.status, 'succeeded');
  });

  test('retention deletes old finished jobs and only the outputs hubmill named', async (t) => {
    const env = makeEnv(t);
    const engine = new FakeEngine();
    const runner = makeRunner(env, engine, { retention: { days: 1 } });
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['1']));
    await runner.start();
    const a = (await runner.submit(job())).job;
    writeFileSync(join(env.home, 'mine.ipynb'), 'keep');
    const b = (await runner.submit(job({ output_path: 'mine.ipynb' }))).job;
    const q = (await runner.submit(job())).job;
    await runner.waitFor(a.id, 5000);
    await runner.waitFor(b.id, 5000);
    await runner.waitFor(q.id, 5000);
    await runner.stop(1000);
    const aDone = await env.store.get(a.id);
    const outA = join(env.home, aDone!.output_path!);
    writeFileSync(outA, '{}'); // the fake engine writes nothing
    const deleted = await runner.prune(Date.now() + 2 * 86_400_000);
    assert.equal(deleted, 3);
    assert.equal(existsSync(outA), false, 'hubmill-named output removed');
    assert.equal(existsSync(join(env.home, 'mine.ipynb')), true, 'caller-named output kept');
    assert.equal((await env.store.list({ limit: 10 })).jobs.length, 0);
  });
});

describe('runner helpers', () => {
  test('limits: above the maximum is refused naming the maximum; none asked gets the maximum; null is unlimited', () => {
    const limits = limitsFromSettings({ maxTimeoutS: 60, maxCellTimeoutS: 0 });
    assert.equal(limits.cell.maxS, null, '0 in the settings means unlimited');
    assert.throws(() => checkRequestedLimits(limits, { timeout_s: 61 }), (e: Error) => e instanceof LimitError && /maximum of 60 s \(HUBMILL_MAX_TIMEOUT_S\)/.test(e.message));
    assert.throws(() => checkRequestedLimits(limits, { timeout_s: 0 }), LimitError);
    assert.throws(() => checkRequestedLimits(limits, { cell_timeout_s: Number.NaN }), LimitError);
    checkRequestedLimits(limits, { timeout_s: 60, cell_timeout_s: 1e9 });
    checkRequestedLimits(limits, {});
    assert.deepEqual(runLimitsMs(limits, { timeout_s: 10 }), { runTimeoutMs: 10_000, cellTimeoutMs: undefined });
    assert.deepEqual(runLimitsMs(limits, {}), { runTimeoutMs: 60_000, cellTimeoutMs: undefined });
    assert.deepEqual(runLimitsMs(limits, { cell_timeout_s: 0.5 }), { runTimeoutMs: 60_000, cellTimeoutMs: 500 });
    // A job accepted under a higher maximum still runs within the current one.
    assert.deepEqual(runLimitsMs(limits, { timeout_s: 600 }), { runTimeoutMs: 60_000, cellTimeoutMs: undefined });
    assert.deepEqual(runLimitsMs(UNLIMITED, {}), { runTimeoutMs: undefined, cellTimeoutMs: undefined });
  });
  test('the runner refuses a job above the maximum at submission and stores nothing', async (t) => {
    const env = makeEnv(t);
    writeNotebook(env.home, 'work/nb.ipynb', notebookJson(['1']));
    const runner = makeRunner(env, new FakeEngine(), { limits: limitsFromSettings({ maxTimeoutS: 30, maxCellTimeoutS: 10 }) });
    await assert.rejects(runner.submit(job({ timeout_s: 31 })), (e: Error) => e instanceof LimitError && (e as LimitError).httpStatus === 422 && /30 s/.test(e.message));
    await assert.rejects(runner.submit(job({ cell_timeout_s: 11 })), /cell_timeout_s 11 exceeds the server maximum of 10 s \(HUBMILL_MAX_CELL_TIMEOUT_S\)/);
    assert.equal((await env.store.list({ limit: 10 })).jobs.length, 0);
    assert.equal((await runner.submit(job({ timeout_s: 30, cell_timeout_s: 10 }))).job.timeout_s, 30);
  });
  test('every process gets its own worker id: host, pid and a random part', () => {
    const a = newWorkerId();
    const b = newWorkerId();
    assert.notEqual(a, b);
    assert.match(a, new RegExp(`:${process.pid}:[0-9a-f]{8}$`));
  });
  test('default output path sits in hubmill-outputs next to the notebook', () => {
    const j = { id: '01JABCDEFGHJKMNPQRSTVWXYZ0' } as Parameters<typeof defaultOutputPath>[0];
    assert.equal(defaultOutputPath(j, 'nb.ipynb'), 'hubmill-outputs/nb-01JABCDEFGHJKMNPQRSTVWXYZ0.ipynb');
    assert.equal(defaultOutputPath(j, 'a/b/train.ipynb'), 'a/b/hubmill-outputs/train-01JABCDEFGHJKMNPQRSTVWXYZ0.ipynb');
  });
});
