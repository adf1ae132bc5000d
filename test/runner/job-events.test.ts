/**
 * Waits for a job's end (JobEvents.waitFor) on a bus that may lose events: the
 * terminal event ends a wait at once, and the store re-check ends it when the
 * event never comes (a lost NOTIFY, a job that ran in another process).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { InProcessEventBus, type EventBus } from '../../src/runner/in-process-event-bus.js';
import { JobEvents } from '../../src/runner/job-event-waits.js';
import { FakeStore } from '../store/fake-job-store.js';

const newJob = { username: 'u', notebook: 'n.ipynb', parameters: {}, submitted_by: 'u' };

/** A bus that drops every event, like a node whose notifications never arrive. */
class DeafBus implements EventBus {
  publish(): void {}
  subscribe(): () => void {
    return () => undefined;
  }
  cursor() {
    return Promise.resolve(null);
  }
  flush() {
    return Promise.resolve();
  }
  close() {
    return Promise.resolve();
  }
}

test('a terminal event ends the wait without waiting for the store re-check', async () => {
  const store = new FakeStore();
  const events = new JobEvents(pino({ enabled: false }), { bus: new InProcessEventBus(), waitPollMs: 60_000 });
  const { job } = await store.enqueue(newJob);
  await store.claimNext('w');
  const started = Date.now();
  const waiting = events.waitFor(store, job.id, 30_000);
  const done = await store.markFinished(job.id, 'succeeded', {});
  events.emitState(done);
  const got = await waiting;
  assert.equal(got?.status, 'succeeded');
  assert.ok(Date.now() - started < 5000);
});

test('when the terminal event is lost, the store re-check ends the wait', async () => {
  const store = new FakeStore();
  const events = new JobEvents(pino({ enabled: false }), { bus: new DeafBus(), waitPollMs: 50 });
  const { job } = await store.enqueue(newJob);
  await store.claimNext('w');
  const started = Date.now();
  const waiting = events.waitFor(store, job.id, 30_000);
  await store.markFinished(job.id, 'failed', {});
  const got = await waiting;
  assert.equal(got?.status, 'failed');
  assert.ok(Date.now() - started < 5000, 'ended by the re-check, long before the timeout');
});

test('a wait for a job still running ends at its timeout with the current state; unknown jobs are null', async () => {
  const store = new FakeStore();
  const events = new JobEvents(pino({ enabled: false }), { bus: new DeafBus(), waitPollMs: 20 });
  const { job } = await store.enqueue(newJob);
  const got = await events.waitFor(store, job.id, 200);
  assert.equal(got?.status, 'queued');
  assert.equal(await events.waitFor(store, 'nope', 200), null);
});
