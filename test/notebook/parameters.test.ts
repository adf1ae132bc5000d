import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeParameters, parsePValue } from '../../src/notebook/parameters.js';
import { parseYamlParameters } from '../../src/notebook/yaml-parameters.js';
import { decodeParameters, encodeParameters } from '../../src/notebook/parameters-json.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import { ParameterError } from '../../src/errors.js';

const f = (v: number) => new PyFloat(v);

test('-p values are typed like papermill', () => {
  const cases: [string, unknown][] = [
    ['True', true], ['False', false], ['None', null],
    ['true', 'true'], ['none', 'none'], ['0x10', '0x10'], ['abc', 'abc'], ['', ''],
    ['1', 1], ['+5', 5], ['-3', -3], ['007', 7], ['1_000', 1000], [' 42 ', 42],
    ['1__0', '1__0'], ['_1', '_1'], ['1_', '1_'],
    ['1e3', f(1000)], ['1.0', f(1)], ['.5', f(0.5)], ['5.', f(5)], ['1_0.5', f(10.5)], ['-2.5e-3', f(-0.0025)],
    ['inf', f(Infinity)], ['-Infinity', f(-Infinity)], ['NaN', f(NaN)], ['.', '.'], ['1e', '1e'],
    ['12345678901234567890', 12345678901234567890n], ['-9007199254740993', -9007199254740993n],
  ];
  for (const [raw, expected] of cases) assert.deepEqual(parsePValue(raw), expected, `parsePValue(${JSON.stringify(raw)})`);
});

test('YAML follows PyYAML 1.1 resolution without timestamps', () => {
  const p = parseYamlParameters(
    [
      'date: 2019-01-01', 'ts: 2001-12-14t21:59:43.10-05:00', 'yes_: yes', 'off_: off', 'y: y', 'nan: .nan', 'inf: -.inf',
      'exp: 1e3', 'flt: 1.0', 'flt2: 1.5e+3', 'oct: 017', 'hex: 0x1F', 'bin: 0b11', 'sexa: 1:30', 'bad8: 08',
      'big: 12345678901234567890', 'nul: ~', 'str: "1"', 'list: [1, {k: on}]', 'dup: 1', 'dup: 2',
    ].join('\n'),
    't',
  );
  assert.deepEqual(p, {
    date: '2019-01-01', ts: '2001-12-14t21:59:43.10-05:00', yes_: true, off_: false, y: 'y', nan: f(NaN), inf: f(-Infinity),
    exp: '1e3', flt: f(1), flt2: f(1500), oct: 15, hex: 31, bin: 3, sexa: 90, bad8: '08',
    big: 12345678901234567890n, nul: null, str: '1', list: [1, { k: true }], dup: 2,
  });
});

test('YAML top level must be a mapping; empty is {}; errors name the source', () => {
  assert.deepEqual(parseYamlParameters('', 'e'), {});
  assert.throws(() => parseYamlParameters('- 1', 'my.yaml'), (e: Error) => e instanceof ParameterError && /my\.yaml: parameters must be a YAML mapping/.test(e.message));
  assert.throws(() => parseYamlParameters('a: [', 'y1'), /y1: invalid YAML/);
  assert.throws(() => parseYamlParameters('a: !!binary aGk=', 'y2'), /!!binary/);
  const proto = parseYamlParameters('__proto__: {polluted: 1}', 'p');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.keys(proto), ['__proto__']);
});

test('sources merge in order: inject paths, -b, -f, -y, -p, -r; later wins', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hubmill-params-'));
  const yml = join(dir, 'p.yml');
  const json = join(dir, 'p.json');
  await writeFile(yml, 'f1: file\nshared: f-yml\n');
  await writeFile(json, '{"f2": 1.0, "shared": "f-json"}');
  const merged = await mergeParameters({
    injectPaths: { PAPERMILL_INPUT_PATH: 'in.ipynb', shared: 'inject' },
    base64Yaml: [Buffer.from('b: 1\nshared: b64').toString('base64')],
    files: [yml, json],
    yaml: ['y: yes\nshared: yaml'],
    p: [['pv', '1e3'], ['shared', 'p']],
    r: [['rv', '1e3'], ['shared', 'True']],
  });
  assert.deepEqual(merged, { PAPERMILL_INPUT_PATH: 'in.ipynb', shared: 'True', b: 1, f1: 'file', f2: f(1), y: true, pv: f(1000), rv: '1e3' });
  assert.deepEqual(Object.keys(merged), ['PAPERMILL_INPUT_PATH', 'shared', 'b', 'f1', 'f2', 'y', 'pv', 'rv']);
  await assert.rejects(mergeParameters({ files: [join(dir, 'missing.yaml')] }), /missing\.yaml: cannot read parameters file \(ENOENT\)/);
  await assert.rejects(mergeParameters({ base64Yaml: ['not base64!'] }), /-b #1: not valid base64/);
});

test('parameters JSON codec round-trips bigint, floats and non-finite values', () => {
  const params = { big: 12345678901234567890n, one: f(1), nan: f(NaN), ninf: f(-Infinity), plain: 1.5, n: [1, { s: 'x' }], z: null };
  const text = encodeParameters(params);
  assert.deepEqual(JSON.parse(text).one, { $hubmill_float: '1.0' });
  assert.deepEqual(decodeParameters(text), { ...params, plain: 1.5 });
});
