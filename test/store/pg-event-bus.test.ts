/**
 * The PostgreSQL event bus against the local PostgreSQL, in a fresh schema:
 * two bus instances with their own pools stand for two nodes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { PgEventBus } from '../../src/store/pg/pg-event-bus.js';
import type { JobEvent } from '../../src/runner/runner-api.js';
import type { Job } from '../../src/store/job-store.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import { freshSchema, type TestSchema } from '../helpers/pg-test-schema.js';
import { eventually } from '../helpers/wait.js';
import * as h from '../helpers/pg.js';
import { PG_MIGRATIONS } from '../../src/store/migrations/postgres.js';

const jobId = () => `J${randomBytes(8).toString('hex').toUpperCase()}`;

function job(id: string, status: Job['status']): Job {
  return {
    id,
    status,
    username: 'alice',
    notebook: 'a.ipynb',
    parameters: { big: 12345678901234567890n, f: new PyFloat(1) },
    kernel: 'python3',
    kernel_language: 'python',
    timeout_s: null,
    cell_timeout_s: null,
    idempotency_key: null,
    submitted_by: 'alice',
    created_at_ms: 1,
    started_at_ms: null,
    finished_at_ms: null,
    output_path: null,
    progress: { cells_total: 2, cells_done: 0 },
    error: null,
    result: null,
    cancel_requested: false,
    source: 'api',
    worker_id: null,
    attempts: 0,
    target: 'local',
    server_name: null,
    schedule_id: null,
    scheduled_for_ms: null,
    attempt: 1,
    pipeline_id: null,
    pipeline_run_id: null,
    task_key: null,
    item_index: null,
    item: null,
    not_before_ms: null,
  };
}

const cell = (id: string, i: number): JobEvent => ({ type: 'cell_started', job_id: id, cell_index: i, cells_total: 100 });
const state = (id: string, status: Job['status']): JobEvent => ({ type: 'state', job_id: id, status, job: job(id, status) });

function collect(bus: PgEventBus, id: string, after?: number): { got: Array<[number, JobEvent]>; stop: () => void } {
  const got: Array<[number, JobEvent]> = [];
  const stop = bus.subscribe(id, (ev, n) => got.push([n, ev]), after === undefined ? {} : { after });
  return { got, stop };
}

describe('PgEventBus', () => {
  let db: TestSchema;
  let a: PgEventBus;
  let b: PgEventBus;
  const appB = `hubmill-test-listener-${randomBytes(4).toString('hex')}`;

  before(async () => {
    db = await freshSchema('hubmill_bus');
    a = new PgEventBus({ connection: db.url, schema: db.schema, pollMs: 200 });
    b = new PgEventBus({ connection: db.url, schema: db.schema, pollMs: 200, applicationName: appB });
    await a.start();
    await b.start();
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('delivers one node’s events to another, in order, with the same ids, lossless', async () => {
    const id = jobId();
    const onB = collect(b, id, 0);
    const onA = collect(a, id, 0);
    a.publish(state(id, 'running'));
    for (let i = 0; i < 20; i++) a.publish(cell(id, i));
    a.publish(state(id, 'succeeded'));
    await eventually(() => onB.got.length === 22 && onA.got.length === 22, 10_000, '22 events on both nodes');
    onB.stop();
    onA.stop();
    assert.deepEqual(onB.got.map(([n]) => n), Array.from({ length: 22 }, (_, i) => i + 1));
    assert.deepEqual(onB.got, onA.got);
    assert.deepEqual(onB.got.slice(1, 21).map(([, e]) => (e as { cell_index: number }).cell_index), Array.from({ length: 20 }, (_, i) => i));
    const last = onB.got[21]![1];
    assert.equal(last.type, 'state');
    const params = (last as { job: Job }).job.parameters;
    assert.equal(params.big, 12345678901234567890n);
    assert.ok(params.f instanceof PyFloat && (params.f as PyFloat).repr() === '1.0');
    assert.deepEqual(await b.cursor(id), { first: 1, last: 22, ended: true });
  });

  it('numbers the events of two publishing nodes once, the same for every reader', async () => {
    const id = jobId();
    const onA = collect(a, id, 0);
    const onB = collect(b, id, 0);
    for (let i = 0; i < 10; i++) {
      a.publish(cell(id, i));
      b.publish(cell(id, 100 + i));
    }
    await eventually(() => onA.got.length === 20 && onB.got.length === 20, 10_000, '20 events on both nodes');
    onA.stop();
    onB.stop();
    assert.deepEqual(onA.got, onB.got);
    assert.deepEqual(onA.got.map(([n]) => n), Array.from({ length: 20 }, (_, i) => i + 1));
    // Each node's own events keep their order.
    const fromA = onA.got.map(([, e]) => (e as { cell_index: number }).cell_index).filter((c) => c < 100);
    assert.deepEqual(fromA, Array.from({ length: 10 }, (_, i) => i));
  });

  it('sends a big output through the spill table, not the NOTIFY payload', async () => {
    const id = jobId();
    const raw = new pg.Client({ connectionString: db.url });
    await raw.connect();
    try {
      const payloads: string[] = [];
      raw.on('notification', (m) => {
        if (m.payload?.startsWith(`${id} `)) payloads.push(m.payload);
      });
      await raw.query('LISTEN hubmill_job_events');
      const onB = collect(b, id, 0);
      const text = 'x'.repeat(200_000) + 'é✓';
      a.publish(cell(id, 0));
      a.publish({ type: 'output', job_id: id, cell_index: 0, output: { output_type: 'stream', name: 'stdout', text }, appended: false });
      a.publish(cell(id, 1));
      await eventually(() => onB.got.length === 3, 10_000, 'three events');
      onB.stop();
      const out = onB.got[1]![1] as { output: { text: string } };
      assert.equal(onB.got[1]![0], 2);
      assert.equal(out.output.text, text);
      await eventually(() => payloads.length === 3, 5000, 'three notifications');
      assert.equal(payloads[1], `${id} 2`, 'the big event is announced by id only');
      assert.ok(payloads[0]!.startsWith(`${id} 1 {`), 'a small event travels inline');
      assert.ok(payloads.every((p) => Buffer.byteLength(p) < 8000));
    } finally {
      await raw.end();
    }
  });

  it('resumes after Last-Event-ID with exactly the missed events, on another node', async () => {
    const id = jobId();
    for (let i = 0; i < 10; i++) a.publish(cell(id, i));
    await a.flush();
    assert.deepEqual(await b.cursor(id), { first: 1, last: 10, ended: false });
    const resumed = collect(b, id, 4);
    await eventually(() => resumed.got.length === 6, 5000, 'six replayed events');
    a.publish(state(id, 'failed'));
    await eventually(() => resumed.got.length === 7, 5000, 'the live event after the replay');
    resumed.stop();
    assert.deepEqual(resumed.got.map(([n]) => n), [5, 6, 7, 8, 9, 10, 11]);
    assert.deepEqual(resumed.got.slice(0, 6).map(([, e]) => (e as { cell_index: number }).cell_index), [4, 5, 6, 7, 8, 9]);
    assert.deepEqual(await a.cursor(id), { first: 1, last: 11, ended: true });
    assert.equal(await a.cursor(jobId()), null);
  });

  it('a subscriber without `after` gets only what comes next', async () => {
    const id = jobId();
    a.publish(cell(id, 0));
    await a.flush();
    const live = collect(b, id);
    // Its starting point is read asynchronously; the catch-up makes nothing missed once it is set.
    await eventually(async () => (await b.cursor(id))?.last === 1, 2000, 'the first event stored');
    a.publish(cell(id, 1));
    await eventually(() => live.got.length >= 1, 5000, 'the next event');
    live.stop();
    assert.deepEqual(live.got.map(([n]) => n), [2]);
  });

  it('survives the loss of its LISTEN connection', async () => {
    const id = jobId();
    const onB = collect(b, id, 0);
    a.publish(cell(id, 0));
    await eventually(() => onB.got.length === 1, 5000, 'the first event');
    const killed = await db.admin.query('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [appB]);
    assert.equal(killed.rowCount, 1);
    for (let i = 1; i < 5; i++) a.publish(cell(id, i));
    await eventually(() => onB.got.length === 5, 10_000, 'the events published while the listener was down');
    await eventually(
      async () => (await db.admin.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [appB])).rowCount === 1,
      10_000,
      'the listener to reconnect',
    );
    a.publish(cell(id, 5));
    await eventually(() => onB.got.length === 6, 10_000, 'an event after the reconnect');
    onB.stop();
    assert.deepEqual(onB.got.map(([n]) => n), [1, 2, 3, 4, 5, 6]);
  });

  it('prunes the events of ended jobs and trims long logs', async () => {
    const pruner = new PgEventBus({ connection: db.url, schema: db.schema, keepEndedMs: 0, perJob: 3 });
    await pruner.start();
    try {
      const ended = jobId();
      const live = jobId();
      a.publish(cell(ended, 0));
      a.publish(state(ended, 'succeeded'));
      for (let i = 0; i < 5; i++) a.publish(cell(live, i));
      await a.flush();
      await pruner.prune();
      assert.equal(await a.cursor(ended), null);
      assert.deepEqual(await a.cursor(live), { first: 3, last: 5, ended: false });
    } finally {
      await pruner.close();
    }
  });

  it('refuses a hostile schema name', () => {
    assert.throws(() => new PgEventBus({ connection: db.url, schema: 'x"; DROP TABLE y; --' }), /invalid PostgreSQL schema name/);
  });
});

describe('PgEventBus: one migration path', () => {
  it('a bus on its own pool applies the store’s numbered migrations; a schema whose bus tables predate them migrates cleanly', async (t) => {
    // A bus on its own: the versioned migrations, recorded like a store's.
    const fresh = h.freshSchema(t);
    const own = new PgEventBus({ connection: h.PG_TEST_URL, schema: fresh });
    try {
      await own.start();
      const versions = await h.adminQuery<{ version: number }>(`SELECT version FROM ${fresh}.schema_migrations ORDER BY version`);
      assert.deepEqual(versions.map((r) => r.version), PG_MIGRATIONS.map((m) => m.version));
    } finally {
      await own.close();
    }
    // A schema where an older bus made its tables outside the migrations (and stored an event).
    const old = h.freshSchema(t);
    await h.adminQuery(`CREATE SCHEMA ${old};
      CREATE TABLE ${old}.job_event_seq (job_id text PRIMARY KEY, last bigint NOT NULL, ended boolean NOT NULL DEFAULT false, updated_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE ${old}.job_events (job_id text NOT NULL, seq bigint NOT NULL, event text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (job_id, seq));
      INSERT INTO ${old}.job_event_seq (job_id, last) VALUES ('JOLD', 1);
      INSERT INTO ${old}.job_events (job_id, seq, event) VALUES ('JOLD', 1, '{"type":"cell_started","job_id":"JOLD","cell_index":0,"cells_total":1}');`);
    const store = await h.pgStore(t, { schema: old });
    assert.deepEqual(store.appliedMigrations(), PG_MIGRATIONS.map((m) => m.version));
    const bus = new PgEventBus({ connection: h.PG_TEST_URL, pool: store.pool, listener: store.listener, schema: old });
    try {
      await bus.start();
      assert.deepEqual(await bus.cursor('JOLD'), { first: 1, last: 1, ended: false });
    } finally {
      await bus.close();
    }
  });
});
