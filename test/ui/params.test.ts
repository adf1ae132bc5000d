/** The run form's fields from `hubmill inspect` parameters (ui/src/params.ts): kinds, defaults, validation. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse as losslessParse } from 'lossless-json';
import { jsonNumberValue } from '../../src/notebook/parameters-json.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import { strictParameterProblems } from '../../src/notebook/strict-parameters.js';
import type { ParameterValue } from '../../src/notebook/notebook-types.js';
import { floatLiteral, jsonText, RawJson } from '../../ui/src/json-text.js';
import { fieldFor, formValue, parseLiteral, readField } from '../../ui/src/params.js';

/** What the server reads from the form's body text (a losslessBody field, see src/http/json-body.ts). */
const asServerReads = (value: unknown): ParameterValue =>
  (losslessParse(jsonText({ x: value }), null, { parseNumber: jsonNumberValue }) as { x: ParameterValue }).x;

const p = (def: string, type = 'None', help = '') => ({ name: 'x', inferred_type_name: type, default: def, help });

describe('run form fields', () => {
  it('reads Python and R literals', () => {
    assert.deepEqual(parseLiteral("{'a': [1, 2.5, None], \"b\": (True, False)}"), { a: [1, 2.5, null], b: [true, false] });
    assert.equal(parseLiteral("'it\\'s'"), "it's");
    assert.equal(parseLiteral('"""multi\nline"""'), 'multi\nline');
    assert.equal(parseLiteral('1_000'), 1000);
    assert.equal(parseLiteral('TRUE'), true);
    assert.throws(() => parseLiteral('os.getcwd()'));
    assert.throws(() => parseLiteral('[1, 2'));
  });

  it('types fields from the annotation, else from the default', () => {
    assert.equal(fieldFor(p('3')).kind, 'integer');
    assert.equal(fieldFor(p('3.0')).kind, 'number');
    assert.equal(fieldFor(p('1e3')).kind, 'number');
    assert.equal(fieldFor(p('True')).kind, 'boolean');
    assert.equal(fieldFor(p("'hi'")).kind, 'text');
    assert.equal(fieldFor(p('[1, 2]')).kind, 'json');
    assert.equal(fieldFor(p('3', 'float')).kind, 'number');
    assert.equal(fieldFor(p('None', 'str')).kind, 'text');
    assert.equal(fieldFor(p('None', 'Optional[int]')).kind, 'integer');
    const unreadable = fieldFor(p('datetime.now()'));
    assert.equal(unreadable.readable, false);
    assert.equal(unreadable.initial, 'datetime.now()');
    assert.equal(fieldFor(p("{'a': 1}")).initial, '{"a":1}');
  });

  it('validates what the user typed, in place', () => {
    assert.deepEqual(readField(fieldFor(p('3')), '42'), { value: 42 });
    assert.ok('error' in readField(fieldFor(p('3')), '4.5'));
    assert.ok('error' in readField(fieldFor(p('3')), 'three'));
    assert.deepEqual(readField(fieldFor(p('0.5')), '-1e-3'), { value: new RawJson('-0.001') });
    assert.deepEqual(readField(fieldFor(p('0.5')), ' 2.0 '), { value: new RawJson('2.0') });
    assert.deepEqual(readField(fieldFor(p('0', 'float')), '2'), { value: new RawJson('2.0') }, 'a float field sends a float');
    assert.ok('error' in readField(fieldFor(p('0.5')), ''));
    assert.deepEqual(readField(fieldFor(p('[1]')), '[3, 4.0]'), { value: new RawJson('[3, 4.0]') });
    assert.ok('error' in readField(fieldFor(p('[1]')), '{"a": 1}'));
    assert.ok('error' in readField(fieldFor(p("{'a': 1}")), '[1]'));
    assert.ok('error' in readField(fieldFor(p('[1]')), '[1,'));
    assert.deepEqual(readField(fieldFor(p("'s'")), '<b>x</b>'), { value: '<b>x</b>' });
    assert.deepEqual(readField(fieldFor(p('False')), 'true'), { value: true });
  });

  it('sends floats and JSON as typed: the server reads 2.0 as a float and [1.0] as a list of a float', () => {
    const rate = readField(fieldFor(p('0.5')), '2.0');
    assert.ok('value' in rate);
    const seen = asServerReads(rate.value);
    assert.ok(seen instanceof PyFloat && seen.value === 2, String(seen));
    const items = readField(fieldFor(p('[1]')), '[1.0, 2, {"a": 1e3}]');
    assert.ok('value' in items);
    const list = asServerReads(items.value) as ParameterValue[];
    assert.ok(list[0] instanceof PyFloat && !(list[1] instanceof PyFloat), String(list));
    assert.ok((list[2] as Record<string, ParameterValue>).a instanceof PyFloat);
    // The body around them is ordinary JSON.
    const body = { notebook: 'a "b".ipynb', n: 3, skip: undefined, list: [null, true], parameters: { rate: rate.value } };
    assert.equal(jsonText(body), '{"notebook":"a \\"b\\".ipynb","n":3,"list":[null,true],"parameters":{"rate":2.0}}');
    assert.deepEqual(JSON.parse(jsonText(body)), JSON.parse(JSON.stringify(body)));
    assert.deepEqual([0, -0, 1e21, 0.1, 5e-324, -3].map(floatLiteral), ['0.0', '-0.0', '1e+21', '0.1', '5e-324', '-3.0']);
  });

  it('shows a job\'s values in the form', () => {
    assert.equal(formValue(fieldFor(p('[1]')), [1, 2]), '[1,2]');
    assert.equal(formValue(fieldFor(p('True')), false), 'false');
    assert.equal(formValue(fieldFor(p('1.0')), { $hubmill_float: '2.0' }), '2.0');
  });

  it('what the form accepts, the server\'s strict check (strict_parameters) accepts too', () => {
    const params = [
      ['3', 'None'], ['-1_000', 'None'], ['3.0', 'None'], ['1e3', 'None'], ['True', 'None'], ["'hi'", 'None'], ['u"hi"', 'None'],
      ['[1, 2]', 'None'], ['(1, 2)', 'None'], ['(4)', 'None'], ["{'a': 1}", 'None'], ['{}', 'None'], ['None', 'None'],
      ['datetime.now()', 'None'], ['[1][0]', 'None'], ['3', 'float'], ['None', 'str'], ['None', 'int'], ['None', 'Optional[int]'],
      ['[]', 'List[int]'], ['{}', 'Dict[str, int]'], ['0', 'bool'], ['x', 'Path'],
    ] as const;
    const typed = ['42', '-7', '2.5', '1e3', '', 'true', 'false', 'hello', '[3, 4]', '{"a": 1}', 'null', '"quoted"', '[1,'];
    let checked = 0;
    for (const [def, type] of params) {
      const f = fieldFor(p(def, type));
      for (const raw of typed) {
        const r = readField(f, raw);
        if (!('value' in r)) continue;
        checked++;
        const problems = strictParameterProblems([p(def, type)], { x: asServerReads(r.value) });
        assert.deepEqual(problems, [], `default ${def} (${type}) typed ${raw}`);
      }
    }
    assert.ok(checked > 100, `${checked}`);
  });
});
