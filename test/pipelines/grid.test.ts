import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyFloat } from '../../src/notebook/py-float.js';
import type { ParameterValue } from '../../src/notebook/notebook-types.js';
import { expandGrid, forEachItems, gridSize } from '../../src/pipelines/grid.js';
import { resolveValue, type RefScope } from '../../src/pipelines/refs.js';
import { ForEachItemsError, PipelineReferenceError } from '../../src/pipelines/pipeline-errors.js';
import { MAX_FOR_EACH_ITEMS } from '../../src/pipelines/types.js';

test('a grid expands as itertools.product: the first key varies slowest, each item an object', () => {
  const items = expandGrid({ lr: [new PyFloat(0.1), new PyFloat(0.01)], depth: [2, 4, 8] });
  assert.deepEqual(items, [
    { lr: new PyFloat(0.1), depth: 2 },
    { lr: new PyFloat(0.1), depth: 4 },
    { lr: new PyFloat(0.1), depth: 8 },
    { lr: new PyFloat(0.01), depth: 2 },
    { lr: new PyFloat(0.01), depth: 4 },
    { lr: new PyFloat(0.01), depth: 8 },
  ]);
  // Python: [dict(zip('abc', t)) for t in itertools.product([1, 2], ['x'], [True, False])]
  assert.deepEqual(expandGrid({ a: [1, 2], b: ['x'], c: [true, false] }), [
    { a: 1, b: 'x', c: true },
    { a: 1, b: 'x', c: false },
    { a: 2, b: 'x', c: true },
    { a: 2, b: 'x', c: false },
  ]);
});

test('grid edge cases follow itertools.product: no keys is one empty item, an empty list no item', () => {
  assert.deepEqual(expandGrid({}), [{}]);
  assert.deepEqual(expandGrid({ a: [1, 2], b: [] }), []);
  assert.equal(gridSize({ a: [1, 2], b: [] }), 0);
  assert.equal(gridSize({ a: [1, 2, 3], b: [1, 2], c: [1, 2, 3, 4] }), 24);
});

test('grid values keep their types and keys such as __proto__ stay keys', () => {
  const items = expandGrid(JSON.parse('{"__proto__": [1], "n": [1]}') as Record<string, ParameterValue[]>);
  assert.deepEqual(Object.keys(items[0]!), ['__proto__', 'n']);
  const big = expandGrid({ n: [2n ** 64n], l: [[1, 2]], o: [{ k: 'v' }] });
  assert.deepEqual(big, [{ n: 2n ** 64n, l: [1, 2], o: { k: 'v' } }]);
});

test('a grid over the limit is refused without being expanded', () => {
  const axis = Array.from({ length: 33 }, (_, i) => i);
  assert.equal(expandGrid({ a: axis.slice(0, 32), b: axis.slice(0, 32) }).length, MAX_FOR_EACH_ITEMS);
  assert.throws(() => expandGrid({ a: axis, b: axis.slice(0, 32) }), (e: unknown) => e instanceof ForEachItemsError && /1056 items, more than 1024/.test(e.message));
  const huge = Array.from({ length: 1000 }, (_, i) => i);
  assert.throws(() => expandGrid({ a: huge, b: huge, c: huge }), ForEachItemsError);
});

function scope(over: Partial<RefScope> = {}): RefScope {
  return {
    parameters: { seeds: [1, 2, 3], lr: new PyFloat(0.5), n: 7 },
    result: (k) => (k === 'extract' ? { files: ['a.csv', 'b.csv'], many: Array.from({ length: 1025 }, (_, i) => i), one: 'x' } : null),
    item: null,
    runId: 'r',
    scheduledFor: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

test('forEachItems: a literal list (references inside resolved), a reference to a list, a grid', () => {
  const s = scope();
  const resolve = (v: ParameterValue): ParameterValue => resolveValue(v, s);
  assert.deepEqual(forEachItems({ items: [1, '{{parameters.lr}}', 'f-{{parameters.n}}'] }, resolve), [1, new PyFloat(0.5), 'f-7']);
  assert.deepEqual(forEachItems({ items: '{{tasks.extract.result.files}}' }, resolve), ['a.csv', 'b.csv']);
  assert.deepEqual(forEachItems({ items: '{{ parameters.seeds }}' }, resolve), [1, 2, 3]);
  assert.deepEqual(forEachItems({ grid: { lr: ['{{parameters.lr}}', 1], seed: [1, 2] } }, resolve), [
    { lr: new PyFloat(0.5), seed: 1 },
    { lr: new PyFloat(0.5), seed: 2 },
    { lr: 1, seed: 1 },
    { lr: 1, seed: 2 },
  ]);
});

test('forEachItems: a dynamic list over the limit or not a list fails with a clear error', () => {
  const s = scope();
  const resolve = (v: ParameterValue): ParameterValue => resolveValue(v, s);
  assert.throws(
    () => forEachItems({ items: '{{tasks.extract.result.many}}' }, resolve),
    (e: unknown) => e instanceof ForEachItemsError && e.message === 'for_each {{tasks.extract.result.many}} gave 1025 items, more than 1024',
  );
  assert.throws(
    () => forEachItems({ items: '{{tasks.extract.result.one}}' }, resolve),
    (e: unknown) => e instanceof ForEachItemsError && e.message === 'for_each {{tasks.extract.result.one}} is not a list (a string: "x")',
  );
  assert.throws(() => forEachItems({ items: '{{tasks.extract.result.nope}}' }, resolve), PipelineReferenceError);
  assert.throws(() => forEachItems({}, resolve), ForEachItemsError);
  assert.deepEqual(forEachItems({ items: [] }, resolve), []);
});
