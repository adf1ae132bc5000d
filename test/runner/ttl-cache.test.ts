import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ttlCached } from '../../src/ttl-cache.js';

test('ttlCached keeps an answer for its time, shares concurrent lookups, forgets failures', async () => {
  let clock = 0;
  const calls: string[] = [];
  let fail = false;
  const lookup = ttlCached(
    async (key: string) => {
      calls.push(key);
      if (fail) throw new Error(`no ${key}`);
      return `${key}@${clock}`;
    },
    { ttlMs: 100, now: () => clock },
  );
  const [a, b] = await Promise.all([lookup('x'), lookup('x')]);
  assert.equal(a, 'x@0');
  assert.equal(b, 'x@0');
  assert.deepEqual(calls, ['x'], 'one lookup for two concurrent asks');
  clock = 99;
  assert.equal(await lookup('x'), 'x@0', 'still fresh');
  clock = 100;
  assert.equal(await lookup('x'), 'x@100', 'looked up again once the time passed');
  fail = true;
  await assert.rejects(lookup('y'), /no y/);
  await assert.rejects(lookup('y'), /no y/);
  assert.deepEqual(calls, ['x', 'x', 'y', 'y'], 'a failure is not kept');
});

test('ttlCached keeps at most maxKeys answers, dropping the oldest', async () => {
  const calls: string[] = [];
  const lookup = ttlCached(async (key: string) => (calls.push(key), key), { ttlMs: 60_000, maxKeys: 2 });
  await lookup('a');
  await lookup('b');
  await lookup('c');
  await lookup('c');
  await lookup('b');
  await lookup('a');
  assert.deepEqual(calls, ['a', 'b', 'c', 'a']);
});
