import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { openStores, pipelineStoreFor, scheduleStoreFor } from '../../src/store/open.js';
import { PgJobStore } from '../../src/store/pg/pg-job-store.js';
import { PgScheduleStore } from '../../src/store/pg/pg-schedule-store.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { SqliteScheduleStore } from '../../src/store/sqlite-schedule-store.js';
import { SqlitePipelineStore } from '../../src/store/sqlite-pipeline-store.js';
import { PgPipelineStore } from '../../src/store/pg/pg-pipeline-store.js';
import { FakeStore } from './fake-job-store.js';
import { freshSchema, PG_TEST_URL } from '../helpers/pg.js';

const logger = pino({ enabled: false });

describe('openStores picks the store from the configuration', () => {
  test('no database URL: SQLite in the data dir', async (t) => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'hubmill-open-')), 'data');
    t.after(() => rmSync(join(dataDir, '..'), { recursive: true, force: true }));
    const s = await openStores({ databaseUrl: null, dataDir }, logger);
    t.after(() => s.close());
    assert.equal(s.kind, 'sqlite');
    assert.ok(s.jobs instanceof SqliteJobStore);
    assert.ok(s.schedules instanceof SqliteScheduleStore);
    assert.ok(s.pipelines instanceof SqlitePipelineStore);
    assert.ok(existsSync(join(dataDir, 'jobs.sqlite')));
  });

  test('a postgresql:// URL: PostgreSQL, in the schema the URL names', async (t) => {
    const schema = freshSchema(t);
    const dataDir = join(tmpdir(), 'hubmill-open-unused-never-created');
    const s = await openStores({ databaseUrl: `${PG_TEST_URL}?schema=${schema}`, dataDir }, logger);
    t.after(() => s.close());
    assert.equal(s.kind, 'postgres');
    assert.ok(s.jobs instanceof PgJobStore);
    assert.equal(s.jobs.schema, schema);
    assert.ok(s.schedules instanceof PgScheduleStore);
    assert.ok(s.pipelines instanceof PgPipelineStore);
    assert.ok(!existsSync(dataDir));
    const { job } = await s.jobs.enqueue({ username: 'u', notebook: 'n.ipynb', parameters: {}, submitted_by: 'u' });
    assert.equal((await s.jobs.get(job.id))?.status, 'queued');
  });

  test('an unreachable server fails the start with the connection error', async () => {
    await assert.rejects(openStores({ databaseUrl: 'postgresql://postgres@127.0.0.1:1/test', dataDir: '/nonexistent' }, logger), /ECONNREFUSED/);
  });

  test('schedules need a real store', () => {
    assert.throws(() => scheduleStoreFor(new FakeStore()), TypeError);
    assert.throws(() => pipelineStoreFor(new FakeStore()), TypeError);
  });
});
