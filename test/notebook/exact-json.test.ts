/**
 * notebook/exact-json: JSON read as Python's json reads it, so a notebook
 * written back has the numbers it was read with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cloneJson, mayChangeNumbers, parseJsonExact } from '../../src/notebook/exact-json.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import { parseNotebook } from '../../src/notebook/read.js';
import { serializeNotebook, toJsonText } from '../../src/notebook/write.js';

const execFileP = promisify(execFile);

test('the fast scan finds every number JSON.parse could change, and passes plain ones', () => {
  for (const t of ['1.0', '[1e3]', '{"a": -2.5}', '{"a":[0, 1E-7]}', '9007199254740993', '{"n": -1234567890123456}', '{"a": 1,\n "b":\t3.0}']) {
    assert.ok(mayChangeNumbers(t), t);
  }
  for (const t of ['1', '{"a": 12, "b": [-3, 0]}', '{"n": 123456789012345}', '"1.0"', '{"a": true}']) assert.ok(!mayChangeNumbers(t), t);
});

test('floats stay floats, integers keep every digit, everything else is as JSON.parse gives it', () => {
  const v = parseJsonExact('{"f": 1.0, "e": 1e3, "big": 9223372036854775809, "neg": -12345678901234567890, "n": 7, "safe": 9007199254740991, "s": "2.0", "l": [null, true]}');
  assert.deepEqual(v, { f: new PyFloat(1), e: new PyFloat(1000), big: 9223372036854775809n, neg: -12345678901234567890n, n: 7, safe: 9007199254740991, s: '2.0', l: [null, true] });
  assert.equal(toJsonText(v), '{"f":1.0,"e":1000.0,"big":9223372036854775809,"neg":-12345678901234567890,"n":7,"safe":9007199254740991,"s":"2.0","l":[null,true]}');
});

test('a key given twice keeps its last value; __proto__ stays a key; invalid JSON throws JSON.parse\'s error', () => {
  assert.deepEqual(parseJsonExact('{"a": 1.0, "a": 2.5}'), { a: new PyFloat(2.5) });
  const proto = parseJsonExact('{"__proto__": {"x": 1.5}}') as Record<string, unknown>;
  assert.ok(Object.hasOwn(proto, '__proto__'));
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.throws(() => parseJsonExact('{"a": 1.0,}'), (e: Error) => e instanceof SyntaxError && /position 10/.test(e.message));
});

test('nesting deeper than the lossless parser goes still parses (as JSON.parse does)', () => {
  const deep = `${'['.repeat(20_000)}1.5${']'.repeat(20_000)}`;
  let v = parseJsonExact(deep);
  let depth = 0;
  while (Array.isArray(v)) {
    v = v[0];
    depth++;
  }
  assert.equal(depth, 20_000);
});

test('cloneJson is a deep copy that keeps PyFloat and bigint (structuredClone would not)', () => {
  const src = { a: [new PyFloat(1), 2n ** 70n, { b: 'x' }], c: null };
  const copy = cloneJson(src);
  assert.deepEqual(copy, src);
  assert.notEqual(copy.a, src.a);
  assert.notEqual(copy.a[2], src.a[2]);
  assert.ok(copy.a[0] instanceof PyFloat);
  assert.equal(toJsonText(copy), '{"a":[1.0,1180591620717411303424,{"b":"x"}],"c":null}');
});

test('a notebook Python wrote reads and writes back byte for byte, every number as written', async () => {
  const script = `
import json, sys
nb = {"cells": [{"cell_type": "code", "execution_count": 1, "id": "a1", "metadata": {"x": 0.1}, "outputs": [
  {"data": {"application/json": {"xs": [1.0, 1e-05, 1e+16, 1.5e+300, -0.0, 2**63 + 1, -(2**70), 12]}}, "metadata": {}, "output_type": "display_data"}],
  "source": "x"}], "metadata": {"f": 1.0, "big": 9223372036854775809}, "nbformat": 4, "nbformat_minor": 5}
sys.stdout.write(json.dumps(nb, indent=1, ensure_ascii=False) + "\\n")
`;
  const { stdout } = await execFileP('/usr/bin/python3', ['-c', script]);
  assert.match(stdout, /1e-05,\n/);
  assert.equal(serializeNotebook(cloneJson(parseNotebook(stdout, 'py.ipynb'))), stdout);
});
