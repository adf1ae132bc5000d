import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyFloat } from '../../src/notebook/py-float.js';
import type { ParameterValue } from '../../src/notebook/notebook-types.js';
import { findRefs, isExactRef, parseRef, resolveParameters, resolveValue, scheduledForIso, valueText, type RefScope } from '../../src/pipelines/refs.js';
import { PipelineReferenceError } from '../../src/pipelines/pipeline-errors.js';

const BIG = 2n ** 63n + 1n;

function scope(over: Partial<RefScope> = {}): RefScope {
  const results: Record<string, Record<string, ParameterValue> | null> = {
    train: { score: new PyFloat(1), n: BIG, list: [1, new PyFloat(2.5), 'x'], obj: { a: { b: [true, null] } }, none: null, i: 3 },
    failed: null,
  };
  return {
    parameters: { lr: new PyFloat(0.1), name: 'run', big: BIG, nested: { k: [1, 2] } },
    result: (k) => results[k],
    item: null,
    runId: 'run-123',
    scheduledFor: '2026-12-05T22:00:00.000Z',
    ...over,
  };
}

test('parseRef reads the six forms, spaces inside the braces tolerated', () => {
  assert.deepEqual(parseRef('parameters.lr'), { kind: 'parameter', name: 'lr' });
  assert.deepEqual(parseRef(' tasks.train-1.result.score '), { kind: 'task_result', task: 'train-1', name: 'score' });
  assert.deepEqual(parseRef('item'), { kind: 'item', name: null });
  assert.deepEqual(parseRef('  item.lr'), { kind: 'item', name: 'lr' });
  assert.deepEqual(parseRef('run.id'), { kind: 'run', field: 'id' });
  assert.deepEqual(parseRef('run.scheduled_for'), { kind: 'run', field: 'scheduled_for' });
});

test('parseRef: malformed references are named, text that is no reference is null', () => {
  assert.equal(typeof parseRef('parameters'), 'string');
  assert.equal(typeof parseRef('tasks.a.score'), 'string');
  assert.equal(typeof parseRef('tasks.a.result'), 'string');
  assert.equal(typeof parseRef('run.user'), 'string');
  assert.match(parseRef('paramters.lr') as string, /starts with parameters\., tasks\., item or run\./);
  assert.equal(parseRef(' x + 1 '), null);
  assert.equal(parseRef(''), null);
});

test('findRefs lists the references deep in lists and objects, with their paths', () => {
  const found = findRefs({ a: '{{parameters.lr}}', b: ['x', { c: 'pre {{ item.k }} and {{tasks.t.result.r}}' }], 'd e': '{{bogus.x}}', f: '{{ 1 + 2 }}' }, 'tasks[0].parameters');
  assert.deepEqual(
    found.map((o) => [o.path, o.text, o.ref?.kind ?? null, o.problem === null]),
    [
      ['tasks[0].parameters.a', '{{parameters.lr}}', 'parameter', true],
      ['tasks[0].parameters.b[1].c', '{{ item.k }}', 'item', true],
      ['tasks[0].parameters.b[1].c', '{{tasks.t.result.r}}', 'task_result', true],
      ['tasks[0].parameters["d e"]', '{{bogus.x}}', null, false],
    ],
  );
  assert.deepEqual(findRefs([new PyFloat(1), 2n, null, true, 'plain']), []);
});

test('isExactRef: one whole reference only', () => {
  assert.equal(isExactRef('{{ item.lr }}'), true);
  assert.equal(isExactRef(' {{item}}'), false);
  assert.equal(isExactRef('{{item}}{{item}}'), false);
  assert.equal(isExactRef('{{ x + 1 }}'), false);
});

test('an exact reference keeps its type: PyFloat 1.0, bigint 2**63+1, list, object, None recorded on purpose', () => {
  const s = scope();
  const score = resolveValue('{{tasks.train.result.score}}', s);
  assert.ok(score instanceof PyFloat);
  assert.equal((score as PyFloat).value, 1);
  assert.equal(resolveValue('{{ tasks.train.result.n }}', s), BIG);
  assert.deepEqual(resolveValue('{{tasks.train.result.list}}', s), [1, new PyFloat(2.5), 'x']);
  assert.deepEqual(resolveValue('{{tasks.train.result.obj}}', s), { a: { b: [true, null] } });
  assert.equal(resolveValue('{{tasks.train.result.none}}', s), null);
  assert.equal(resolveValue('{{tasks.train.result.i}}', s), 3);
  assert.deepEqual(resolveValue('{{parameters.lr}}', s), new PyFloat(0.1));
  assert.equal(resolveValue('{{parameters.big}}', s), BIG);
  assert.equal(resolveValue('{{run.id}}', s), 'run-123');
  assert.equal(resolveValue('{{run.scheduled_for}}', s), '2026-12-05T22:00:00.000Z');
});

test('a resolved value is a copy: changing it leaves the source alone', () => {
  const s = scope();
  const v = resolveValue('{{parameters.nested}}', s) as { k: number[] };
  v.k.push(3);
  assert.deepEqual(s.parameters.nested, { k: [1, 2] });
});

test('a reference inside a longer string is written in as text, numbers as Python writes them', () => {
  const s = scope({ item: { value: { lr: new PyFloat(1), depth: 4, tiny: new PyFloat(0.00001), f: 0.5, flag: true, big: 1e21 } } });
  assert.equal(resolveValue('lr={{item.lr}} depth={{ item.depth }}', s), 'lr=1.0 depth=4');
  assert.equal(resolveValue('{{item.tiny}}/{{item.f}}/{{item.flag}}/{{item.big}}', s), '1e-05/0.5/true/1000000000000000000000');
  assert.equal(resolveValue('n={{tasks.train.result.n}}', s), `n=${BIG}`);
  assert.equal(resolveValue('l={{tasks.train.result.list}}', s), 'l=[1,2.5,"x"]');
  assert.equal(resolveValue('o={{tasks.train.result.obj}}', s), 'o={"a":{"b":[true,null]}}');
  assert.equal(resolveValue('out/{{run.id}}/{{parameters.name}}.csv', s), 'out/run-123/run.csv');
  assert.equal(resolveValue('keep {{ x + 1 }} as is', s), 'keep {{ x + 1 }} as is');
  assert.equal(valueText(new PyFloat(NaN)), 'nan');
  assert.equal(valueText(new PyFloat(-Infinity)), '-inf');
  assert.equal(valueText(1e16), '10000000000000000');
  assert.equal(valueText(new PyFloat(1e16)), '1e+16');
});

test('references deep in lists and objects are resolved, keys left alone; substituted values are not searched again', () => {
  const s = scope({ parameters: { sneaky: '{{run.id}}', a: 1 } });
  assert.deepEqual(
    resolveParameters({ '{{parameters.a}}': ['{{parameters.a}}', { x: 'v{{parameters.a}}' }], s: '{{parameters.sneaky}}', t: 'x {{parameters.sneaky}}' }, s),
    { '{{parameters.a}}': [1, { x: 'v1' }], s: '{{run.id}}', t: 'x {{run.id}}' },
  );
});

test('{{item}} is the whole item; {{item.NAME}} reads a key of an object item', () => {
  assert.deepEqual(resolveValue('{{item}}', scope({ item: { value: [1, 2] } })), [1, 2]);
  assert.equal(resolveValue('{{item}}', scope({ item: { value: null } })), null);
  assert.deepEqual(resolveValue('{{item.lr}}', scope({ item: { value: { lr: new PyFloat(0.01) } } })), new PyFloat(0.01));
});

function refuses(value: ParameterValue, s: RefScope, reference: string, reason: RegExp): void {
  assert.throws(
    () => resolveValue(value, s),
    (e: unknown) => {
      assert.ok(e instanceof PipelineReferenceError);
      assert.equal(e.reference, reference);
      assert.equal(e.httpStatus, 422);
      assert.match(e.message, reason);
      assert.ok(e.message.startsWith(reference), e.message);
      return true;
    },
  );
}

test('a missing value is a typed error naming the reference, never null', () => {
  const s = scope();
  refuses('{{parameters.nope}}', s, '{{parameters.nope}}', /no parameter 'nope'/);
  refuses('x {{ tasks.train.result.missing }}', s, '{{ tasks.train.result.missing }}', /recorded no result 'missing'/);
  refuses('{{tasks.failed.result.score}}', s, '{{tasks.failed.result.score}}', /task 'failed' has no result/);
  refuses('{{tasks.unknown.result.score}}', s, '{{tasks.unknown.result.score}}', /task 'unknown' has no result/);
  refuses(['ok', { deep: '{{item}}' }], s, '{{item}}', /outside a for_each/);
  refuses('{{item.lr}}', scope({ item: { value: 3 } }), '{{item.lr}}', /not an object/);
  refuses('{{item.lr}}', scope({ item: { value: { depth: 2 } } }), '{{item.lr}}', /no key 'lr'/);
  refuses('{{run.user}}', s, '{{run.user}}', /run\.id/);
  refuses('{{paramters.lr}}', s, '{{paramters.lr}}', /starts with/);
});

test('prototype names are not values: {{parameters.constructor}} is missing', () => {
  refuses('{{parameters.constructor}}', scope(), '{{parameters.constructor}}', /no parameter/);
  refuses('{{tasks.train.result.toString}}', scope(), '{{tasks.train.result.toString}}', /recorded no result/);
});

test('run.scheduled_for: the cron time, else the start, else the creation, in ISO UTC', () => {
  const created = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(scheduledForIso({ scheduled_for_ms: Date.parse('2026-01-02T03:04:05Z'), started_at_ms: created + 5, created_at_ms: created }), '2026-01-02T03:04:05.000Z');
  assert.equal(scheduledForIso({ scheduled_for_ms: null, started_at_ms: created + 1500, created_at_ms: created }), '2026-01-01T00:00:01.500Z');
  assert.equal(scheduledForIso({ scheduled_for_ms: null, started_at_ms: null, created_at_ms: created }), '2026-01-01T00:00:00.000Z');
});
