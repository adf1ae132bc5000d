/**
 * The job states are spelled once (src/job-states.ts). Shipped migrations
 * are history and keep their SQL, so this test ties them to the list: when a
 * state is added, it fails until a new migration rebuilds the `status` CHECK
 * (from STATUS_CHECK_SQL) and the partial indexes on active jobs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JOB_STATUSES, JOB_TRANSITIONS, TERMINAL_STATUSES } from '../../src/job-states.js';
import { ACTIVE_SQL, ACTIVE_STATUSES, STATUS_CHECK_SQL, TERMINAL_SQL } from '../../src/store/core/job-rules.js';
import { SQLITE_MIGRATIONS } from '../../src/store/migrations/sqlite.js';
import { PG_MIGRATIONS } from '../../src/store/migrations/postgres.js';
import { RUN_STATUSES, TASK_STATUSES } from '../../src/pipelines/types.js';

/** The states of the last `CHECK (status IN (…))` in the migrations, in order, and every `status IN (…)` of an index. */
function statesIn(sqls: string[]): { check: string[]; indexes: string[] } {
  // Only the jobs table's statements (a rebuild may name it jobs_new): the pipeline tables' own state lists are
  // checked below, and other tables (the outbox's deliveries) have states of their own.
  const text = sqls
    .join('\n')
    .split(';')
    .filter((statement) => !/CREATE TABLE (?!jobs)/.test(statement))
    .join(';');
  const checks = [...text.matchAll(/CHECK \(status IN \(([^)]*)\)\)/g)].map((m) => m[1]!);
  assert.ok(checks.length > 0, 'the migrations define the status CHECK');
  const list = (s: string) => s.split(',').map((x) => x.trim().replace(/^'|'$/g, ''));
  const indexes = [...text.matchAll(/CREATE INDEX [^;]*WHERE [^;]*status IN \(([^)]*)\)/g)].map((m) => m[1]!.replace(/\s/g, ''));
  return { check: list(checks[checks.length - 1]!), indexes };
}

test('the derived lists: terminal states have no way out, active ones are the rest', () => {
  assert.deepEqual([...TERMINAL_STATUSES], JOB_STATUSES.filter((s) => JOB_TRANSITIONS[s].length === 0));
  assert.deepEqual([...ACTIVE_STATUSES, ...TERMINAL_STATUSES].sort(), [...JOB_STATUSES].sort());
  assert.equal(TERMINAL_SQL, `'succeeded','failed','cancelled','timed_out'`);
  assert.equal(ACTIVE_SQL, `'queued','running'`);
  assert.equal(STATUS_CHECK_SQL, `CHECK (status IN ('queued','running','succeeded','failed','cancelled','timed_out'))`);
});

for (const [name, migrations] of [
  ['SQLite', SQLITE_MIGRATIONS.map((m) => m.sql)],
  ['PostgreSQL', PG_MIGRATIONS.map((m) => m.sql)],
] as const) {
  test(`${name}: the migrations' status CHECK and active-job indexes match JOB_STATUSES`, () => {
    const { check, indexes } = statesIn([...migrations]);
    assert.deepEqual(check, [...JOB_STATUSES], 'a state was added or renamed: add a migration that rebuilds the CHECK from STATUS_CHECK_SQL');
    assert.ok(indexes.length > 0);
    for (const i of indexes) assert.equal(i, ACTIVE_SQL, 'an index on active jobs lists other states than ACTIVE_STATUSES');
  });
}

test('the checker sees a migration list that lacks a state', () => {
  const { check } = statesIn([`CREATE TABLE jobs (status TEXT NOT NULL CHECK (status IN ('queued','running','succeeded'))); CREATE INDEX x ON jobs (a) WHERE status IN ('queued');`]);
  assert.notDeepEqual(check, [...JOB_STATUSES]);
});

for (const [name, migrations] of [
  ['SQLite', SQLITE_MIGRATIONS.map((m) => m.sql)],
  ['PostgreSQL', PG_MIGRATIONS.map((m) => m.sql)],
] as const) {
  test(`${name}: the pipeline tables' status CHECKs match RUN_STATUSES and TASK_STATUSES`, () => {
    const text = migrations.join('\n');
    const checkOf = (table: string) => {
      const m = new RegExp(`CREATE TABLE ${table} \\(([^;]*)`).exec(text);
      assert.ok(m, `the migrations create ${table}`);
      const c = /CHECK \(status IN \(([^)]*)\)\)/.exec(m[1]!);
      return c![1]!.split(',').map((x) => x.trim().replace(/^'|'$/g, ''));
    };
    assert.deepEqual(checkOf('pipeline_runs'), [...RUN_STATUSES]);
    assert.deepEqual(checkOf('pipeline_tasks'), [...TASK_STATUSES]);
  });
}
