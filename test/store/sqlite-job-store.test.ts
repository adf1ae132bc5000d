import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { SqliteJobStore, StoreSchemaError, decodeCursor } from '../../src/store/sqlite-job-store.js';
import { isJobId, jobIdTimeMs, newJobId } from '../../src/store/job-id.js';
import { SQLITE_MIGRATIONS } from '../../src/store/migrations/sqlite.js';
import { InvalidTransitionError, UsageError } from '../../src/errors.js';
import type { NewJob } from '../../src/store/job-store.js';
import { PyFloat } from '../../src/notebook/py-float.js';

const here = dirname(fileURLToPath(import.meta.url));
const execFileP = promisify(execFile);

function tempDb(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'hubmill-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'data', 'jobs.sqlite');
}

function newJob(over: Partial<NewJob> = {}): NewJob {
  return { username: 'alice', notebook: 'nb.ipynb', parameters: {}, submitted_by: 'alice', ...over };
}

describe('job ids', () => {
  test('are 26 base32 chars, sortable by time and ordered within one millisecond', () => {
    const ids = [newJobId(1000), newJobId(1000), newJobId(1000), newJobId(2000)];
    for (const id of ids) assert.ok(isJobId(id), id);
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, 4);
    assert.equal(jobIdTimeMs(ids[3]!), 2000);
  });
});

describe('SqliteJobStore', () => {
  test('creates the folder, uses WAL and records its migrations', async (t) => {
    const path = tempDb(t);
    const store = new SqliteJobStore({ path });
    assert.deepEqual(store.appliedMigrations(), SQLITE_MIGRATIONS.map((m) => m.id));
    await store.close();
    const db = new Database(path);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
    // Re-opening applies nothing twice.
    const again = new SqliteJobStore({ path });
    assert.deepEqual(again.appliedMigrations(), SQLITE_MIGRATIONS.map((m) => m.id));
    await again.close();
  });

  test('refuses a database with migrations it does not know', async (t) => {
    const path = tempDb(t);
    const store = new SqliteJobStore({ path, migrations: [...SQLITE_MIGRATIONS, { id: 999, name: 'future', sql: 'CREATE TABLE future (x)' }] });
    await store.close();
    assert.throws(() => new SqliteJobStore({ path }), StoreSchemaError);
  });

  test('enqueues a queued job with every field and reads it back', async (t) => {
    const store = new SqliteJobStore({ path: tempDb(t) });
    t.after(() => store.close());
    const { job, created } = await store.enqueue(
      newJob({ parameters: { a: 1, s: 'x', l: [1, null], nan: NaN, inf: Infinity, ninf: -Infinity }, kernel: 'python3', timeout_s: 30, cell_timeout_s: 5, source: 'seed-execute', output_path: 'out.ipynb' }),
    );
    assert.equal(created, true);
    assert.ok(isJobId(job.id));
    assert.equal(job.status, 'queued');
    assert.deepEqual(job.progress, { cells_total: 0, cells_done: 0 });
    assert.equal(job.kernel, 'python3');
    assert.equal(job.timeout_s, 30);
    assert.equal(job.source, 'seed-execute');
    assert.equal(job.output_path, 'out.ipynb');
    assert.equal(job.cancel_requested, false);
    assert.equal(job.attempts, 0);
    const got = await store.get(job.id);
    assert.ok(got);
    assert.equal(got.parameters.a, 1);
    // Non-finite numbers are floats in Python terms: they come back as PyFloat (see notebook/parameters-json).
    const num = (v: unknown) => (v instanceof PyFloat ? v.value : v);
    assert.ok(Number.isNaN(num(got.parameters.nan)));
    assert.equal(num(got.parameters.inf), Infinity);
    assert.equal(num(got.parameters.ninf), -Infinity);
    assert.deepEqual(got.parameters.l, [1, null]);
    assert.equal(await store.get('nope'), null);
  });

  test('an idempotency key returns the existing job for the same user only', async (t) => {
    const store = new SqliteJobStore({ path: tempDb(t) });
    t.after(() => store.close());
    const a = await store.enqueue(newJob({ idempotency_key: 'k1' }));
    const b = await store.enqueue(newJob({ idempotency_key: 'k1', parameters: { other: true } }));
    const c = await store.enqueue(newJob({ idempotency_key: 'k1', username: 'bob', submitted_by: 'bob' }));
    const d = await store.enqueue(newJob());
    const e = await store.enqueue(newJob());
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(b.job.id, a.job.id);
    assert.deepEqual(b.job.parameters, {});
    assert.equal(c.created, true);
    assert.notEqual(c.job.id, a.job.id);
    assert.notEqual(d.job.id, e.job.id);
  });

  test('claimNext takes the oldest queued job first and marks it running', async (t) => {
    let now = 1_000;
    const store = new SqliteJobStore({ path: tempDb(t), now: () => now });
    t.after(() => store.close());
    const first = (await store.enqueue(newJob({ notebook: 'first.ipynb' }))).job;
    const second = (await store.enqueue(newJob({ notebook: 'second.ipynb' }))).job; // same millisecond: id order
    now = 2_000;
    const third = (await store.enqueue(newJob({ notebook: 'third.ipynb' }))).job;
    now = 3_000;
    const c1 = await store.claimNext('w1');
    assert.equal(c1?.id, first.id);
    assert.equal(c1?.status, 'running');
    assert.equal(c1?.worker_id, 'w1');
    assert.equal(c1?.started_at_ms, 3_000);
    assert.equal(c1?.attempts, 1);
    assert.equal((await store.claimNext('w1'))?.id, second.id);
    assert.equal((await store.claimNext('w2'))?.id, third.id);
    assert.equal(await store.claimNext('w1'), null);
  });

  test('progress and finishing follow the transition table', async (t) => {
    const store = new SqliteJobStore({ path: tempDb(t) });
    t.after(() => store.close());
    const { job } = await store.enqueue(newJob());
    // A queued job cannot finish as succeeded.
    await assert.rejects(store.markFinished(job.id, 'succeeded', {}), InvalidTransitionError);
    await store.claimNext('w');
    await store.updateProgress(job.id, { cells_total: 3, cells_done: 1 }, 'out/nb.ipynb');
    let got = await store.get(job.id);
    assert.deepEqual(got?.progress, { cells_total: 3, cells_done: 1 });
    assert.equal(got?.output_path, 'out/nb.ipynb');
    const err = { ename: 'ValueError', evalue: 'bad', traceback: ['tb'], cell_index: 2 };
    const done = await store.markFinished(job.id, 'failed', { error: err, result: { x: 1 }, progress: { cells_total: 3, cells_done: 2 } });
    assert.equal(done.status, 'failed');
    assert.deepEqual(done.error, err);
    assert.deepEqual(done.result, { x: 1 });
    assert.ok(done.finished_at_ms !== null);
    // Terminal states are final; late progress is ignored.
    await assert.rejects(store.markFinished(job.id, 'succeeded', {}), InvalidTransitionError);
    await store.updateProgress(job.id, { cells_total: 3, cells_done: 3 });
    got = await store.get(job.id);
    assert.deepEqual(got?.progress, { cells_total: 3, cells_done: 2 });
  });

  test('requestCancel cancels a queued job at once, flags a running one, leaves a finished one', async (t) => {
    const store = new SqliteJobStore({ path: tempDb(t) });
    t.after(() => store.close());
    const queued = (await store.enqueue(newJob())).job;
    const running = (await store.enqueue(newJob())).job;
    const c = await store.requestCancel(queued.id);
    assert.equal(c?.status, 'cancelled');
    assert.ok(c?.finished_at_ms);
    assert.equal((await store.claimNext('w'))?.id, running.id);
    const r = await store.requestCancel(running.id);
    assert.equal(r?.status, 'running');
    assert.equal(r?.cancel_requested, true);
    const fin = await store.markFinished(running.id, 'cancelled', {});
    assert.equal(fin.status, 'cancelled');
    assert.equal((await store.requestCancel(running.id))?.status, 'cancelled');
    assert.equal(await store.requestCancel('missing'), null);
  });

  test('recoverInterrupted fails or re-queues running jobs of this worker or with a stale heartbeat', async (t) => {
    let now = 10_000;
    const store = new SqliteJobStore({ path: tempDb(t), now: () => now });
    t.after(() => store.close());
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await store.enqueue(newJob({ notebook: `n${i}.ipynb` }))).job.id);
    await store.claimNext('dead'); // ids[0]
    await store.claimNext('alive'); // ids[1]
    await store.claimNext('me'); // ids[2]
    now = 50_000;
    await store.heartbeat([ids[1]!]);
    const recovered = await store.recoverInterrupted({ workerId: 'me', staleBeforeMs: 40_000, requeue: false, reason: 'hubmill restarted while the job was running' });
    assert.deepEqual(recovered.map((j) => j.id).sort(), [ids[0], ids[2]].sort());
    for (const j of recovered) {
      assert.equal(j.status, 'failed');
      assert.equal(j.error?.ename, 'JobInterrupted');
      assert.match(j.error?.evalue ?? '', /restarted/);
    }
    assert.equal((await store.get(ids[1]!))?.status, 'running');
    assert.equal((await store.get(ids[3]!))?.status, 'queued');
    // A live worker's own jobs are never stale to itself.
    now = 500_000;
    assert.deepEqual(await store.recoverInterrupted({ staleBeforeMs: 400_000, exceptWorkerId: 'alive', requeue: false, reason: 'x' }), []);
    now = 50_000;

    // Re-queue mode; a pending cancel wins over re-queueing.
    await store.requestCancel(ids[1]!);
    const again = await store.claimNext('x'); // ids[3]
    assert.equal(again?.id, ids[3]);
    const rq = await store.recoverInterrupted({ requeue: true, reason: 'restart' });
    const byId = new Map(rq.map((j) => [j.id, j]));
    assert.equal(byId.get(ids[1]!)?.status, 'cancelled');
    assert.equal(byId.get(ids[3]!)?.status, 'queued');
    assert.equal(byId.get(ids[3]!)?.worker_id, null);
    const reclaimed = await store.claimNext('y');
    assert.equal(reclaimed?.id, ids[3]);
    assert.equal(reclaimed?.attempts, 2);
  });

  test('lists newest first with filters and an opaque cursor', async (t) => {
    let now = 1;
    const store = new SqliteJobStore({ path: tempDb(t), now: () => now });
    t.after(() => store.close());
    const all: string[] = [];
    for (let i = 0; i < 25; i++) {
      now = 1000 + Math.floor(i / 3); // several jobs per millisecond
      const user = i % 2 === 0 ? 'alice' : 'bob';
      all.push((await store.enqueue(newJob({ username: user, submitted_by: user, notebook: `n${i % 5}.ipynb` }))).job.id);
    }
    const newestFirst = [...all].reverse();
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.list({ limit: 7, cursor });
      seen.push(...page.jobs.map((j) => j.id));
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor);
    assert.deepEqual(seen, newestFirst);
    assert.equal(pages, 4);

    const alice = await store.list({ limit: 100, username: 'alice' });
    assert.equal(alice.jobs.length, 13);
    assert.ok(alice.jobs.every((j) => j.username === 'alice'));
    assert.equal(alice.next_cursor, null);
    const n0 = await store.list({ limit: 100, notebook: 'n0.ipynb' });
    assert.equal(n0.jobs.length, 5);
    await store.claimNext('w');
    const running = await store.list({ limit: 10, status: ['running'] });
    assert.deepEqual(running.jobs.map((j) => j.id), [all[0]]);
    const queuedOrRunning = await store.list({ limit: 100, status: ['running', 'queued'] });
    assert.equal(queuedOrRunning.jobs.length, 25);
    await assert.rejects(store.list({ limit: 10, cursor: 'garbage!!' }), UsageError);
    assert.throws(() => decodeCursor(Buffer.from('{"a":1}').toString('base64url')), UsageError);
  });

  test('counts by status', async (t) => {
    const store = new SqliteJobStore({ path: tempDb(t) });
    t.after(() => store.close());
    for (let i = 0; i < 3; i++) await store.enqueue(newJob());
    await store.claimNext('w');
    assert.deepEqual(await store.countByStatus(), { queued: 2, running: 1, succeeded: 0, failed: 0, cancelled: 0, timed_out: 0 });
  });

  test('prunes finished jobs by age and by count, never queued or running ones', async (t) => {
    let now = 0;
    const store = new SqliteJobStore({ path: tempDb(t), now: () => now });
    t.after(() => store.close());
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      now = i * 100;
      const { job } = await store.enqueue(newJob());
      ids.push(job.id);
    }
    for (let i = 0; i < 5; i++) {
      now = 1000 + i * 100;
      const j = await store.claimNext('w');
      if (i < 4) await store.markFinished(j!.id, 'succeeded', {});
    }
    // ids[0..3] finished at 1000,1100,1200,1300; ids[4] running; ids[5] queued.
    const old = await store.pruneFinishedBefore(1150, 100);
    assert.deepEqual(old.map((j) => j.id), [ids[0], ids[1]]);
    const beyond = await store.pruneFinishedBeyond(1, 100);
    assert.deepEqual(beyond.map((j) => j.id), [ids[2]]);
    const left = (await store.list({ limit: 100 })).jobs.map((j) => j.id).sort();
    assert.deepEqual(left, [ids[3], ids[4], ids[5]].sort());
  });

  test('two stores on one file never claim the same job (200 jobs, interleaved)', async (t) => {
    const path = tempDb(t);
    const a = new SqliteJobStore({ path });
    const b = new SqliteJobStore({ path });
    t.after(async () => {
      await a.close();
      await b.close();
    });
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) ids.add((await (i % 2 ? a : b).enqueue(newJob({ notebook: `n${i}.ipynb` }))).job.id);
    const claimedBy = new Map<string, string>();
    async function worker(store: SqliteJobStore, name: string): Promise<void> {
      for (;;) {
        const job = await store.claimNext(name);
        if (!job) return;
        assert.equal(claimedBy.has(job.id), false, `double claim of ${job.id}`);
        claimedBy.set(job.id, name);
        await new Promise((r) => setImmediate(r));
        await store.markFinished(job.id, 'succeeded', {});
      }
    }
    await Promise.all([worker(a, 'a1'), worker(b, 'b1'), worker(a, 'a2'), worker(b, 'b2')]);
    assert.equal(claimedBy.size, 200);
    assert.deepEqual(new Set(claimedBy.keys()), ids);
    assert.equal((await a.countByStatus()).succeeded, 200);
  });

  test('three processes on one file never claim the same job (200 jobs)', async (t) => {
    const path = tempDb(t);
    const store = new SqliteJobStore({ path });
    t.after(() => store.close());
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push((await store.enqueue(newJob({ notebook: `n${i}.ipynb` }))).job.id);
    const worker = join(here, 'claim-worker.ts');
    const outs = await Promise.all(
      ['p1', 'p2', 'p3'].map((w) => execFileP(process.execPath, ['--import', 'tsx', worker, path, w], { cwd: join(here, '..', '..') })),
    );
    const perProcess = outs.map((o) => JSON.parse(o.stdout) as string[]);
    assert.ok(perProcess.filter((c) => c.length > 0).length >= 2, 'the processes overlapped');
    const claimed = perProcess.flat();
    assert.equal(claimed.length, 200, 'every job claimed exactly once');
    assert.deepEqual([...claimed].sort(), [...ids].sort());
    const counts = await store.countByStatus();
    assert.equal(counts.succeeded, 200);
    assert.equal(counts.queued, 0);
  });
});
