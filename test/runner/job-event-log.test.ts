import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JobEventLog } from '../../src/runner/job-event-log.js';
import type { JobEvent } from '../../src/runner/runner-api.js';
import type { Job, JobStatus } from '../../src/store/job-store.js';

const cell = (jobId: string, i: number): JobEvent => ({ type: 'cell_started', job_id: jobId, cell_index: i, cells_total: 9 });
const state = (jobId: string, status: JobStatus): JobEvent => ({ type: 'state', job_id: jobId, status, job: { id: jobId, status } as Job });

describe('JobEventLog', () => {
  it('numbers events per job from 1 and hands them to that job\'s listeners only', () => {
    const log = new JobEventLog();
    const got: Array<[string, number]> = [];
    const stop = log.subscribe('a', (ev, id) => got.push([ev.job_id, id]));
    assert.equal(log.publish(cell('a', 0)), 1);
    assert.equal(log.publish(cell('b', 0)), 1);
    assert.equal(log.publish(cell('a', 1)), 2);
    stop();
    log.publish(cell('a', 2));
    assert.deepEqual(got, [['a', 1], ['a', 2]]);
    assert.deepEqual(log.cursor('a'), { first: 1, last: 3, ended: false });
    assert.equal(log.cursor('nope'), null);
  });

  it('replays the kept events after an id, synchronously, then goes on live without a gap or a repeat', () => {
    const log = new JobEventLog();
    for (let i = 0; i < 5; i++) log.publish(cell('a', i));
    const ids: number[] = [];
    log.subscribe('a', (_ev, id) => ids.push(id), { after: 2 });
    assert.deepEqual(ids, [3, 4, 5]);
    log.publish(state('a', 'succeeded'));
    assert.deepEqual(ids, [3, 4, 5, 6]);
    assert.deepEqual(log.cursor('a'), { first: 1, last: 6, ended: true });
  });

  it('keeps at most perJob events per job', () => {
    const log = new JobEventLog({ perJob: 3 });
    for (let i = 0; i < 10; i++) log.publish(cell('a', i));
    assert.deepEqual(log.cursor('a'), { first: 8, last: 10, ended: false });
    const ids: number[] = [];
    log.subscribe('a', (_ev, id) => ids.push(id), { after: 0 });
    assert.deepEqual(ids, [8, 9, 10]);
  });

  it('forgets the oldest finished jobs beyond keepFinished, never a running one', () => {
    const log = new JobEventLog({ keepFinished: 2 });
    log.publish(cell('running', 0));
    for (const j of ['j1', 'j2', 'j3']) log.publish(state(j, 'failed'));
    assert.equal(log.cursor('j1'), null);
    assert.ok(log.cursor('j2'));
    assert.ok(log.cursor('j3'));
    assert.ok(log.cursor('running'));
  });

  it('a listener that throws does not keep the event from the others', () => {
    const errors: unknown[] = [];
    const log = new JobEventLog({ onListenerError: (_j, e) => errors.push(e) });
    const got: number[] = [];
    log.subscribe('a', () => {
      throw new Error('bad listener');
    });
    log.subscribe('a', (_ev, id) => got.push(id));
    log.publish(cell('a', 0));
    assert.deepEqual(got, [1]);
    assert.equal(errors.length, 1);
  });
});
