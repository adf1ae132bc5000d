// The request/timeout/death layer both kernel transports share (src/kernel/pending-requests.ts), on its own.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { AbortedError, DeadKernelError, TimeoutError } from '../../src/errors.js';
import { PendingRequests } from '../../src/kernel/pending-requests.js';

/** A promise settled from outside, as a reply arriving later. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('PendingRequests', () => {
  test('a reply settles its wait once; a late or foreign reply is ignored', async () => {
    const reqs = new PendingRequests<{ seen: number }>();
    const p = reqs.wait<string>('m1', { seen: 0 }, { what: 'execute_request' });
    assert.deepEqual(reqs.get('m1'), { seen: 0 });
    assert.equal(reqs.settle('other', 'not mine'), false);
    assert.equal(reqs.settle('m1', 'reply'), true);
    assert.equal(await p, 'reply');
    assert.equal(reqs.get('m1'), undefined);
    assert.equal(reqs.settle('m1', 'again'), false);
    assert.equal(reqs.reject('m1', new Error('late')), false);
    assert.equal(reqs.size, 0);
  });

  test('a timeout rejects with TimeoutError naming the request; the reply after it is ignored', async () => {
    const reqs = new PendingRequests();
    const t0 = Date.now();
    await assert.rejects(reqs.wait('m1', undefined, { what: 'execute_request', timeoutMs: 30 }), (e: Error) => e instanceof TimeoutError && e.message === 'execute_request timed out after 30 ms');
    assert.ok(Date.now() - t0 >= 25, 'rejected before its time');
    assert.equal(reqs.size, 0);
    assert.equal(reqs.settle('m1', 'late reply'), false);
    // The request id is free again for a new wait.
    const again = reqs.wait<string>('m1', undefined, { what: 'execute_request' });
    reqs.settle('m1', 'fresh');
    assert.equal(await again, 'fresh');
  });

  test('an abort rejects with AbortedError; an aborted signal refuses the wait at once; listeners are removed', async () => {
    const reqs = new PendingRequests();
    const ac = new AbortController();
    const p = reqs.wait('m1', undefined, { what: 'kernel start', signal: ac.signal, timeoutMs: 60_000 });
    assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
    ac.abort();
    await assert.rejects(p, (e: Error) => e instanceof AbortedError && e.message === 'kernel start aborted');
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
    assert.equal(reqs.size, 0);
    await assert.rejects(reqs.wait('m2', undefined, { what: 'execute_request', signal: ac.signal }), AbortedError);
    assert.equal(reqs.size, 0, 'a refused wait is not kept');

    const live = new AbortController();
    const answered = reqs.wait<number>('m3', undefined, { what: 'execute_request', signal: live.signal });
    reqs.settle('m3', 7);
    assert.equal(await answered, 7);
    assert.equal(getEventListeners(live.signal, 'abort').length, 0, 'an answered wait leaves no abort listener');
  });

  test("the kernel's death rejects every pending wait and every later one with the same DeadKernelError", async () => {
    const reqs = new PendingRequests();
    const waits = ['a', 'b', 'c'].map((id) => reqs.wait(id, undefined, { what: 'execute_request', timeoutMs: 60_000 }));
    const death = new DeadKernelError('Kernel died (exit code 1)');
    reqs.kernelDied(death);
    for (const w of waits) await assert.rejects(w, (e: Error) => e === death);
    assert.equal(reqs.size, 0);
    assert.equal(reqs.dead, death);
    await assert.rejects(reqs.wait('d', undefined, { what: 'execute_request' }), (e: Error) => e === death);
    // A second death (another path noticing it) does not replace the first; closing keeps the death as the reason.
    reqs.kernelDied(new DeadKernelError('Kernel died (again)'));
    reqs.close(new DeadKernelError('Kernel client was disposed'));
    assert.equal(reqs.failure, death);
    assert.equal(reqs.settle('a', 'late'), false);
  });

  test('closing rejects pending and later waits; a death after the close is the reason from then on', async () => {
    const reqs = new PendingRequests();
    const p = reqs.wait('a', undefined, { what: 'execute_request' });
    const closed = new DeadKernelError('Kernel connection was closed');
    reqs.close(closed);
    await assert.rejects(p, (e: Error) => e === closed);
    assert.equal(reqs.closed, true);
    assert.equal(reqs.dead, null);
    await assert.rejects(reqs.wait('b', undefined, { what: 'execute_request' }), (e: Error) => e === closed);
    const death = new DeadKernelError('Kernel died (signal SIGKILL)');
    reqs.kernelDied(death);
    await assert.rejects(reqs.wait('c', undefined, { what: 'execute_request' }), (e: Error) => e === death);
  });

  test('track settles with the reply promise, and prefers the death when that promise fails after it', async () => {
    const reqs = new PendingRequests();
    const ok = deferred<string>();
    const tracked = reqs.track('m1', undefined, ok.promise, { what: 'execute_request' });
    ok.resolve('reply');
    assert.equal(await tracked, 'reply');

    const failing = deferred<string>();
    const tracked2 = reqs.track('m2', undefined, failing.promise, { what: 'execute_request' });
    failing.reject(new Error('socket closed'));
    await assert.rejects(tracked2, /socket closed/);

    const afterDeath = deferred<string>();
    const tracked3 = reqs.track('m3', undefined, afterDeath.promise, { what: 'execute_request' });
    const death = new DeadKernelError('Kernel died (the Jupyter server reports the kernel dead)');
    reqs.kernelDied(death);
    afterDeath.reject(new Error('Kernel is dead'));
    await assert.rejects(tracked3, (e: Error) => e === death);
  });

  test('track: a reply after the timeout is ignored, and a wait refused for a taken id never settles the one holding it', async () => {
    const reqs = new PendingRequests();
    const slow = deferred<string>();
    await assert.rejects(reqs.track('m1', undefined, slow.promise, { what: 'execute_request', timeoutMs: 20 }), TimeoutError);
    const holder = reqs.wait<string>('m1', undefined, { what: 'execute_request' });
    slow.resolve('late reply of the timed-out request');
    const dup = deferred<string>();
    await assert.rejects(reqs.track('m1', undefined, dup.promise, { what: 'execute_request' }), /already pending/);
    dup.resolve('not for the holder');
    // Let both late replies' handlers run: the holder is still pending.
    await new Promise<void>((r) => setImmediate(r));
    assert.equal(reqs.size, 1);
    reqs.settle('m1', 'the holder\'s reply');
    assert.equal(await holder, "the holder's reply");
  });

  test('onBusy fires for each wait taken, onIdle when the last one settles', async () => {
    const calls: string[] = [];
    const reqs = new PendingRequests({ onBusy: () => calls.push('busy'), onIdle: () => calls.push('idle') });
    const a = reqs.wait('a', undefined, { what: 'x' });
    const b = reqs.wait('b', undefined, { what: 'x' });
    reqs.settle('a', 1);
    assert.deepEqual(calls, ['busy', 'busy']);
    reqs.kernelDied(new DeadKernelError('Kernel died'));
    assert.deepEqual(calls, ['busy', 'busy', 'idle']);
    await a;
    await assert.rejects(b, DeadKernelError);
    await assert.rejects(reqs.wait('c', undefined, { what: 'x' }), DeadKernelError);
    assert.deepEqual(calls, ['busy', 'busy', 'idle'], 'a refused wait is neither busy nor idle');
  });
});
