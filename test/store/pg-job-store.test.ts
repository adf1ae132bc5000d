/**
 * The PostgreSQL store: the JobStore contract, then what only a shared server
 * has to prove: concurrent claimers on separate pools, concurrent starts
 * migrating once, refusing a newer schema, LISTEN/NOTIFY wake-ups (also after
 * the connection is killed), a stale writer refused, lossless parameters.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidTransitionError, RunQuotaError, UsageError } from '../../src/errors.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import { pythonLiteral } from '../../src/notebook/translators/index.js';
import type { Parameters } from '../../src/notebook/notebook-types.js';
import { PG_MIGRATIONS } from '../../src/store/migrations/postgres.js';
import { SchemaTooNewError, StoreSchemaError } from '../../src/store/migrations/schema-error.js';
import { PgJobStore } from '../../src/store/pg/pg-job-store.js';
import { parseDatabaseUrl } from '../../src/store/pg/connect.js';
import { DbClock } from '../../src/store/pg/db-clock.js';
import type pg from 'pg';
import { storeConformance, newJob } from './conformance.js';
import { JobSql } from '../../src/store/core/job-sql.js';
import { POSTGRES } from '../../src/store/core/dialect.js';
import { adminQuery, freshSchema, pgStore, PG_TEST_URL } from '../helpers/pg.js';

storeConformance('PgJobStore', (t, opts) => pgStore(t, { now: opts?.now }));

/** Polls `cond` every 10 ms for at most `ms`. */
async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('PgJobStore: several nodes on one schema', () => {
  test('four claimers on two pools never claim the same job (200 jobs)', async (t) => {
    const schema = freshSchema(t);
    const a = await pgStore(t, { schema });
    const b = await pgStore(t, { schema });
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) ids.add((await (i % 2 ? a : b).enqueue(newJob({ notebook: `n${i}.ipynb` }))).job.id);
    const claimedBy = new Map<string, string>();
    const perWorker = new Map<string, number>();
    async function worker(store: PgJobStore, name: string): Promise<void> {
      for (;;) {
        const job = await store.claimNext(name);
        if (!job) return;
        assert.equal(claimedBy.has(job.id), false, `double claim of ${job.id}`);
        claimedBy.set(job.id, name);
        perWorker.set(name, (perWorker.get(name) ?? 0) + 1);
        assert.deepEqual(await store.heartbeat(name, [job.id]), []);
        await store.markFinished(job.id, 'succeeded', { worker_id: name, attempt: job.attempts });
      }
    }
    await Promise.all([worker(a, 'a1'), worker(b, 'b1'), worker(a, 'a2'), worker(b, 'b2')]);
    assert.equal(claimedBy.size, 200);
    assert.deepEqual(new Set(claimedBy.keys()), ids);
    assert.ok([...perWorker.values()].filter((n) => n > 0).length >= 2, `the claimers overlapped: ${JSON.stringify([...perWorker])}`);
    assert.deepEqual(await a.countByStatus(), { queued: 0, running: 0, succeeded: 200, failed: 0, cancelled: 0, timed_out: 0 });
  });

  test("submissions through two pools at once never exceed a user's run quota", async (t) => {
    const schema = freshSchema(t);
    const a = await pgStore(t, { schema });
    const b = await pgStore(t, { schema });
    const burst = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).enqueue(newJob({ notebook: `n${i}.ipynb`, max_active: 5 }))),
    );
    assert.equal(burst.filter((r) => r.status === 'fulfilled').length, 5);
    assert.ok(burst.every((r) => r.status === 'fulfilled' || r.reason instanceof RunQuotaError));
    // One idempotency key submitted through both pools at once: one job.
    const keyed = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).enqueue(newJob({ username: 'bob', submitted_by: 'bob', idempotency_key: 'k' }))));
    assert.equal(new Set(keyed.map((r) => r.job.id)).size, 1);
    assert.equal(keyed.filter((r) => r.created).length, 1);
  });

  test('claimers on two pools at once never run more of one user than maxRunningPerUser', async (t) => {
    const schema = freshSchema(t);
    const a = await pgStore(t, { schema });
    const b = await pgStore(t, { schema });
    for (let i = 0; i < 20; i++) await a.enqueue(newJob({ notebook: `n${i}.ipynb` }));
    for (let i = 0; i < 3; i++) await a.enqueue(newJob({ username: 'bob', submitted_by: 'bob', notebook: `b${i}.ipynb` }));
    const limit = { maxRunningPerUser: 2 };
    const claims = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).claimNext(`w${i}`, limit)));
    const taken = claims.filter((j) => j !== null);
    assert.equal(taken.filter((j) => j.username === 'alice').length, 2, JSON.stringify(taken.map((j) => j.username)));
    assert.equal(taken.filter((j) => j.username === 'bob').length, 2);
    const running = await a.list({ status: ['running'], limit: 100 });
    assert.equal(running.jobs.length, 4);
  });

  test('a stale writer is refused once its lease was reclaimed by another node', async (t) => {
    let now = 1_000_000;
    const schema = freshSchema(t);
    const a = await pgStore(t, { schema, now: () => now });
    const b = await pgStore(t, { schema, now: () => now });
    const { job } = await a.enqueue(newJob());
    const claimA = await a.claimNext('node-a');
    assert.equal(claimA?.id, job.id);
    now += 120_000; // node-a stops renewing for two minutes
    const reclaimed = await b.recoverInterrupted({ staleBeforeMs: now - 60_000, exceptWorkerId: 'node-b', requeue: true, reason: 'lease expired' });
    assert.deepEqual(reclaimed.map((j) => [j.id, j.status]), [[job.id, 'queued']]);
    const claimB = await b.claimNext('node-b');
    assert.equal(claimB?.attempts, 2);
    // node-a wakes up: its renewal reports the job lost and its record is refused; node-b's stands.
    assert.deepEqual(await a.heartbeat('node-a', [job.id]), [job.id]);
    await assert.rejects(a.markFinished(job.id, 'succeeded', { worker_id: 'node-a', attempt: 1, result: { by: 'a' } }), InvalidTransitionError);
    const done = await b.markFinished(job.id, 'failed', { worker_id: 'node-b', attempt: 2, result: { by: 'b' } });
    assert.deepEqual(done.result, { by: 'b' });
    await assert.rejects(a.markFinished(job.id, 'succeeded', { worker_id: 'node-a', attempt: 1 }), InvalidTransitionError);
    assert.equal((await a.get(job.id))?.status, 'failed');
    // A live lease is never reclaimed: node-b's fresh claim survives a recovery run by node-a.
    const second = (await b.enqueue(newJob())).job;
    await b.claimNext('node-b');
    assert.deepEqual(await a.recoverInterrupted({ staleBeforeMs: now - 60_000, exceptWorkerId: 'node-a', requeue: false, reason: 'x' }), []);
    assert.equal((await a.get(second.id))?.status, 'running');
  });
});

describe('PgJobStore: migrations', () => {
  test('three nodes starting at once on an empty schema migrate it once', async (t) => {
    const schema = freshSchema(t);
    const stores = await Promise.all([1, 2, 3].map(() => pgStore(t, { schema })));
    const expected = PG_MIGRATIONS.map((m) => m.version);
    for (const s of stores) assert.deepEqual(s.appliedMigrations(), expected);
    const rows = await adminQuery<{ version: number; n: string }>(`SELECT version, COUNT(*) AS n FROM ${schema}.schema_migrations GROUP BY version ORDER BY version`);
    assert.deepEqual(rows.map((r) => [r.version, Number(r.n)]), expected.map((v) => [v, 1]));
    // All three work on the same tables.
    const { job } = await stores[0]!.enqueue(newJob());
    assert.equal((await stores[2]!.claimNext('w'))?.id, job.id);
  });

  test('a node older than the schema refuses to start and says which versions', async (t) => {
    const schema = freshSchema(t);
    const newer = await PgJobStore.open({ url: PG_TEST_URL, schema, migrations: [...PG_MIGRATIONS, { version: 999, name: 'future', sql: 'CREATE TABLE future (x int)' }] });
    await newer.close();
    const err = await PgJobStore.open({ url: PG_TEST_URL, schema }).then(
      (s) => (void s.close(), assert.fail('an older node started on a newer schema')),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SchemaTooNewError && err instanceof StoreSchemaError, String(err));
    assert.match(err.message, /999/);
    assert.match(err.message, new RegExp(`this build knows ${PG_MIGRATIONS.map((m) => m.version).join(', ')}`));
    assert.match(err.message, new RegExp(schema));
    assert.deepEqual(err.unknown, [999]);
  });

  test('a migration that fails leaves nothing behind, and the next start applies it', async (t) => {
    const schema = freshSchema(t);
    const bad = [...PG_MIGRATIONS, { version: Math.max(...PG_MIGRATIONS.map((m) => m.version)) + 1, name: 'broken', sql: 'CREATE TABLE t2 (x int); SELECT no_such_function()' }];
    await assert.rejects(PgJobStore.open({ url: PG_TEST_URL, schema, migrations: bad }), /no_such_function/);
    const tables = await adminQuery(`SELECT 1 FROM pg_tables WHERE schemaname = $1`, [schema]);
    assert.equal(tables.length, 0, 'the whole start rolled back');
    const store = await pgStore(t, { schema });
    assert.deepEqual(store.appliedMigrations(), PG_MIGRATIONS.map((m) => m.version));
  });
});

describe('PgJobStore: waking workers with LISTEN/NOTIFY', () => {
  test('a job queued through another node wakes a waiting listener; so does one re-queued; after the LISTEN connection is killed too', async (t) => {
    const schema = freshSchema(t);
    const worker = await pgStore(t, { schema });
    const api = await pgStore(t, { schema });
    const other = await pgStore(t); // another schema on the same database: its jobs are not ours
    let wakes = 0;
    const off = worker.onJobQueued(() => wakes++);
    await worker.listening();
    await other.enqueue(newJob());
    await api.enqueue(newJob());
    await until(() => wakes >= 1, 5000, 'the wake-up');
    assert.equal((await worker.claimNext('w'))?.status, 'running');
    const seen = wakes;
    // Kill the LISTEN connection: the listener reconnects, wakes once (jobs may have been queued meanwhile), and listens again.
    const killed = await adminQuery<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1`,
      [`hubmill-listen:${schema}`],
    );
    assert.ok(killed.length >= 1, 'found the LISTEN connection');
    await until(() => wakes > seen, 10_000, 'the wake-up after reconnecting');
    await worker.listening();
    const before = wakes;
    await api.enqueue(newJob());
    await until(() => wakes > before, 5000, 'a wake-up on the new connection');
    off();
    const after = wakes;
    // A listener still subscribed hears the job: by then the one that left would have heard it too (one dispatch).
    let heard = 0;
    const offWitness = worker.onJobQueued(() => heard++);
    t.after(offWitness);
    await api.enqueue(newJob());
    await until(() => heard > 0, 5000, "the witness listener's wake-up");
    assert.equal(wakes, after, 'no wake-up after unsubscribing');
  });
});

describe('PgJobStore: active counts for /health', () => {
  test('are read through indexes (the partial indexes of queued and running jobs), never a sequential scan', async (t) => {
    const store = await pgStore(t);
    const q = new JobSql(POSTGRES).countActive();
    const c = await store.pool.connect();
    try {
      // Only a plan with an index can avoid the scan once scans cost "infinitely" much.
      await c.query('SET enable_seqscan = off');
      const plan = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.text}`, q.args)).rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.doesNotMatch(plan, /Seq Scan/, plan);
      assert.equal(plan.match(/Index (Only )?Scan using \w+ on jobs|Bitmap Index Scan on \w+/g)?.length, 2, plan);
    } finally {
      await c.query('RESET enable_seqscan');
      c.release();
    }
  });
});

describe('PgJobStore: values', () => {
  test('parameters round-trip losslessly (TEXT), where jsonb would not', async (t) => {
    const store = await pgStore(t);
    const params: Parameters = {
      z: new PyFloat(1.0),
      negzero: new PyFloat(-0),
      big: 2n ** 70n,
      a: 3,
      nan: new PyFloat(NaN),
      nested: { xs: [new PyFloat(2), -(2n ** 64n), 'é\u2028', null, true] },
    };
    const { job } = await store.enqueue(newJob({ parameters: params }));
    const back = (await store.get(job.id))!.parameters;
    assert.deepEqual(Object.keys(back), Object.keys(params), 'key order kept');
    for (const k of Object.keys(params)) assert.equal(pythonLiteral(back[k]!), pythonLiteral(params[k]!), k);
    assert.equal(pythonLiteral(back.negzero!), '-0.0');
    const [jsonb] = await adminQuery<{ v: string }>(`SELECT '{"z": 1.0, "negzero": -0.0}'::jsonb::text AS v`);
    assert.equal(jsonb!.v, '{"z": 1.0, "negzero": 0.0}', 'jsonb drops the sign of -0.0 (and sorts keys by length)');
  });

  test('hostile input gets a clear error', async (t) => {
    const store = await pgStore(t);
    await assert.rejects(store.enqueue(newJob({ notebook: 'a\u0000b.ipynb' })), UsageError);
    assert.throws(() => parseDatabaseUrl('postgresql://h/db?schema=x;DROP TABLE jobs'), UsageError);
    assert.throws(() => parseDatabaseUrl('postgresql://h/db', 'Upper'), UsageError);
    assert.throws(() => parseDatabaseUrl('mysql://h/db'), UsageError);
    assert.throws(() => parseDatabaseUrl('not a url'), UsageError);
    assert.deepEqual(parseDatabaseUrl('postgresql://u@h:5/db?schema=s1&sslmode=disable'), { connectionString: 'postgresql://u@h:5/db?sslmode=disable', schema: 's1' });
    assert.equal(parseDatabaseUrl('postgres://h/db').schema, 'public');
  });
});

describe('PgJobStore: one clock for every node', () => {
  test("job times are the database's clock, measured once at open", async (t) => {
    const store = await pgStore(t);
    const { job } = await store.enqueue(newJob());
    const [db] = await adminQuery<{ ms: string }>('SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms');
    assert.ok(Math.abs(Number(db!.ms) - job.created_at_ms) < 2000, `created_at ${job.created_at_ms} vs the database's ${db!.ms}`);
  });

  test('a machine whose clock is an hour behind stamps with the database time', async () => {
    const fakePool = { query: async () => ({ rows: [{ ms: Date.now() + 3_600_000 }] }) } as unknown as pg.Pool;
    const clock = new DbClock(fakePool);
    const offset = await clock.sync();
    assert.ok(Math.abs(offset - 3_600_000) < 1000, String(offset));
    assert.ok(Math.abs(clock.now() - (Date.now() + 3_600_000)) < 1000);
  });
});
