/**
 * A run's results as rows and as CSV: one row per item (its deciding job of the current (re)run),
 * a row for a task without jobs, numbers written as Python writes them (1.0,
 * every digit of a big integer), lists and objects as JSON, RFC 4180 quoting.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PyFloat } from '../../src/notebook/py-float.js';
import { resultRows, resultsCsv } from '../../src/http/pipeline-render.js';
import type { Job } from '../../src/store/job-store.js';
import type { PipelineRun } from '../../src/store/pipeline-store.js';
import type { PlannedTask, TaskState } from '../../src/pipelines/types.js';

const planned = (key: string, over: Partial<PlannedTask> = {}): PlannedTask => ({
  key,
  notebook: `${key}.ipynb`,
  depends_on: [],
  run_if: 'all_succeeded',
  max_retries: 0,
  retry_backoff_s: 60,
  kernel: 'python3',
  kernel_language: 'python',
  declared_parameters: [],
  ...over,
});

const state = (key: string, over: Partial<TaskState> = {}): TaskState => ({
  key,
  status: 'succeeded',
  items: null,
  items_total: null,
  items_done: 0,
  error: null,
  result: null,
  started_at_ms: null,
  finished_at_ms: null,
  ...over,
});

let n = 0;
const job = (task_key: string, item_index: number | null, over: Partial<Job> = {}): Job =>
  ({
    id: `job_${++n}`,
    status: 'succeeded',
    task_key,
    item_index,
    item: null,
    attempt: 1,
    parameters: {},
    result: null,
    error: null,
    started_at_ms: 1000,
    finished_at_ms: 3500,
    created_at_ms: n,
    ...over,
  }) as Job;

describe('pipeline results', () => {
  const run = {
    id: 'run_1',
    pipeline_id: 'pl_1',
    status: 'failed',
    plan: {
      parameters: {},
      default_concurrency: 2,
      tasks: [planned('sweep', { for_each: { grid: { lr: [new PyFloat(1), 0.5] } } }), planned('report', { depends_on: ['sweep'] })],
    },
    // Item 1 was repaired once (its current attempts start at 2).
    tasks: [
      state('sweep', { status: 'failed', items_total: 2, items_done: 2, items: [{ lr: new PyFloat(1) }, { lr: 0.5 }], attempt_base: { '1': 2 } }),
      state('report', { status: 'upstream_failed' }),
    ],
  } as unknown as PipelineRun;

  const jobs = [
    job('sweep', 0, { item: { lr: new PyFloat(1) }, parameters: { lr: new PyFloat(1), tag: 'a,"b"' }, result: { score: new PyFloat(2), big: 2n ** 63n + 1n, xs: [1, new PyFloat(2)] } }),
    job('sweep', 1, { item: { lr: 0.5 }, status: 'failed', attempt: 1, parameters: { lr: 0.5 }, error: { ename: 'ValueError', evalue: 'bad', traceback: [], cell_index: 1 } }),
    job('sweep', 1, { item: { lr: 0.5 }, status: 'failed', attempt: 2, parameters: { lr: 0.5 }, error: { ename: 'ValueError', evalue: 'worse', traceback: [], cell_index: 1 } }),
  ];

  it('one row per item (the job of its current repair), and a row for a task that has no job', () => {
    const rows = resultRows(run, jobs);
    assert.deepEqual(rows.map((r) => [r.task, r.item_index, r.status, r.attempt, r.error]), [
      ['sweep', 0, 'succeeded', 1, null],
      ['sweep', 1, 'failed', 2, 'ValueError: worse'],
      ['report', null, 'upstream_failed', null, null],
    ]);
    assert.equal(rows[0]!.duration_s, 2.5);
  });

  it('CSV: item, parameter and result columns; Python numbers; JSON lists; quoting', () => {
    const lines = resultsCsv(resultRows(run, jobs)).split('\r\n');
    assert.equal(lines[0], 'task,item_index,status,job_id,attempt,duration_s,item.lr,param.lr,param.tag,result.score,result.big,result.xs,error');
    assert.match(lines[1]!, /^sweep,0,succeeded,job_\d+,1,2\.5,1\.0,1\.0,"a,""b""",2\.0,9223372036854775809,"\[1,2\.0\]",$/);
    assert.match(lines[2]!, /^sweep,1,failed,job_\d+,2,2\.5,0\.5,0\.5,,,,,ValueError: worse$/);
    assert.equal(lines[3], 'report,,upstream_failed,,,,,,,,,,');
    assert.equal(lines[4], '');
  });
});
