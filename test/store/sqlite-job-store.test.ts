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
import { RunQuotaError, UsageError } from '../../src/errors.js';
import { newJob, storeConformance } from './conformance.js';
import { JobSql } from '../../src/store/core/job-sql.js';
import { SQLITE } from '../../src/store/core/dialect.js';

const here = dirname(fileURLToPath(import.meta.url));
const execFileP = promisify(execFile);

function tempDb(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'hubmill-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'data', 'jobs.sqlite');
}

storeConformance('SqliteJobStore', async (t, opts) => {
  const store = new SqliteJobStore({ path: tempDb(t), now: opts?.now });
  t.after(() => store.close());
  return store;
});

describe('job ids', () => {
  test('are 26 base32 chars, sortable by time and ordered within one millisecond', () => {
    const ids = [newJobId(1000), newJobId(1000), newJobId(1000), newJobId(2000)];
    for (const id of ids) assert.ok(isJobId(id), id);
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, 4);
    assert.equal(jobIdTimeMs(ids[3]!), 2000);
  });
});

describe('SqliteJobStore: one file, migrations, several processes', () => {
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

  test('a cursor it did not make is refused', () => {
    assert.throws(() => decodeCursor(Buffer.from('{"a":1}').toString('base64url')), UsageError);
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

  test("four processes submitting at once on one file never exceed a user's run quota", async (t) => {
    const path = tempDb(t);
    const store = new SqliteJobStore({ path });
    t.after(() => store.close());
    // One job of the user is already running, one of another user is queued (not counted).
    await store.enqueue(newJob());
    await store.claimNext('w');
    await store.enqueue(newJob({ username: 'bob', submitted_by: 'bob' }));
    const worker = join(here, 'enqueue-worker.ts');
    const outs = await Promise.all(
      [1, 2, 3, 4].map(() => execFileP(process.execPath, ['--import', 'tsx', worker, path, 'alice', '5', '25'], { cwd: join(here, '..', '..') })),
    );
    const results = outs.map((o) => JSON.parse(o.stdout) as { accepted: number; refused: number });
    assert.equal(results.reduce((n, r) => n + r.accepted, 0), 4, JSON.stringify(results));
    assert.equal(results.reduce((n, r) => n + r.refused, 0), 96);
    const counts = await store.countByStatus();
    assert.equal(counts.queued + counts.running, 6, 'alice: 1 running + 4 queued; bob: 1 queued');
    await assert.rejects(store.enqueue(newJob({ max_active: 5 })), RunQuotaError);
  });
});

describe('SqliteJobStore: active counts for /health', () => {
  test('are read from the (status, created_at_ms, id) index, never by a scan of every job', async (t) => {
    const store = new SqliteJobStore({ path: tempDb(t) });
    t.after(() => store.close());
    const q = new JobSql(SQLITE).countActive();
    const plan = (store.connection().prepare(`EXPLAIN QUERY PLAN ${q.text}`).all(...q.args) as { detail: string }[]).map((r) => r.detail);
    const reads = plan.filter((d) => /\bjobs\b/.test(d));
    assert.equal(reads.length, 2, plan.join('\n'));
    for (const d of reads) assert.match(d, /^SEARCH jobs USING COVERING INDEX \w+ \(status=\?\)$/, plan.join('\n'));
  });
});
