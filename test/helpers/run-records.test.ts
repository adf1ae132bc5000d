/** The chaos test's checkers find what they look for: overlapping runs, malformed records, incomplete outputs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkOutput, overlaps, recordedTags, runsOf, RECORDS_DIR } from './run-records.js';
import { makeNotebook, code, tempDir } from './notebooks.js';

test('runs are grouped by kernel; overlapping intervals are found, separate ones are not', async (t) => {
  const home = await tempDir('hubmill-records-');
  t.after(() => rmSync(home, { recursive: true, force: true }));
  mkdirSync(join(home, RECORDS_DIR));
  const lines = (xs: string[]) => `${xs.join('\n')}\n`;
  writeFileSync(join(home, RECORDS_DIR, 'a.txt'), lines(['w1 10 start 1000', 'w1 10 tick 1050', 'w2 20 start 3000', 'w2 20 end 3100']));
  writeFileSync(join(home, RECORDS_DIR, 'b.txt'), lines(['w1 10 start 1000', 'w2 20 start 1040', 'w1 10 tick 1050', 'w2 20 end 1200']));
  writeFileSync(join(home, RECORDS_DIR, 'c.txt'), 'w1 10 start soon\n');
  assert.deepEqual(recordedTags(home).sort(), ['a', 'b', 'c']);
  const a = runsOf(home, 'a');
  assert.deepEqual(a.map((r) => [r.node, r.startMs, r.lastMs, r.ended]), [['w1', 1000, 1050, false], ['w2', 3000, 3100, true]]);
  assert.deepEqual(overlaps(a), []);
  assert.equal(overlaps(runsOf(home, 'b')).length, 1);
  assert.throws(() => runsOf(home, 'c'), /malformed record/);
  assert.deepEqual(runsOf(home, 'missing'), []);
});

test('checkOutput accepts a complete output and names what is wrong with others', () => {
  const done = makeNotebook([code('x = 1'), code('print(1)')]) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  done.metadata.papermill = { end_time: '2026-01-01T00:00:00', exception: null };
  for (const [i, c] of done.cells.entries()) {
    c.metadata.papermill = { status: 'completed' };
    c.execution_count = i + 1;
  }
  done.cells[1].outputs = [{ output_type: 'stream', name: 'stdout', text: 'done j001 on w2\n' }];
  assert.deepEqual(checkOutput(JSON.stringify(done), 'j001'), { problems: [], node: 'w2' });
  assert.match(checkOutput(JSON.stringify(done), 'j002').problems.join(), /last cell printed/);
  const pending = structuredClone(done);
  pending.cells[1].metadata.papermill.status = 'pending';
  pending.cells[1].execution_count = null;
  pending.metadata.papermill.end_time = null;
  assert.deepEqual(checkOutput(JSON.stringify(pending), 'j001').problems, ['metadata.papermill.end_time missing', 'cell 1 is pending', 'cell 1 was not executed']);
  assert.match(checkOutput('{"cells": [', 'j001').problems[0]!, /^not JSON/);
  assert.deepEqual(checkOutput('{"nbformat": 3}', 'j001').problems, ['not an nbformat 4 notebook']);
});
