/**
 * The opt-in strict parameter check: only declared parameters, each fitting the declared
 * (annotation, type comment) or inferred (plain literal default) type; unknown types and
 * expression defaults take anything; the error names parameter, expected and given type.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InspectionUnsupportedError } from '../../src/notebook/notebook-errors.js';
import { ParameterError } from '../../src/errors.js';
import { checkStrictParametersForNotebook } from '../../src/notebook/check-parameters.js';
import { inspectPythonSource } from '../../src/notebook/inspect.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import {
  assertStrictParameters,
  expectedParameterType,
  parameterTypeName,
  strictParameterProblems,
} from '../../src/notebook/strict-parameters.js';
import type { Notebook } from '../../src/notebook/notebook-types.js';

const CELL = [
  'n: int = 5  # how many',
  'rate: float = 0.5',
  'flag: bool = False',
  'name: str = "x"',
  'xs: List[int] = []',
  'opts: Dict[str, int] = {}',
  'maybe: Optional[int] = None',
  'path: Path = Path(".")',
  'count = 3',
  'alpha = 1e-3',
  'verbose = True',
  'title = \'a "b"\'',
  'items = [1, (2, 3)]',
  'pair = (1, 2)',
  'config = {"a": [1], "b": {}}',
  'nothing = None',
  'computed = 2 * 3',
  'first = [1, 2][0]',
  'paren = (4)',
  'hexa = 0x10',
  'raw = b"bytes"',
  'aset = {1, 2}',
  'typed = 1  # type: float',
].join('\n');
const DECLARED = inspectPythonSource(CELL);
const typeOf = (name: string) => {
  const p = DECLARED.find((d) => d.name === name);
  assert.ok(p, name);
  const t = expectedParameterType(p);
  return t && (t.optional ? `Optional[${t.type}]` : t.type);
};

describe('strict parameters', () => {
  test('types come from the annotation, else from a plain literal default; others take anything', () => {
    const want: Record<string, string | null> = {
      n: 'int', rate: 'float', flag: 'bool', name: 'str', xs: 'list', opts: 'dict', maybe: 'Optional[int]', path: null,
      count: 'int', alpha: 'float', verbose: 'bool', title: 'str', items: 'list', pair: 'list', config: 'dict', nothing: null,
      computed: null, first: null, paren: null, hexa: null, raw: null, aset: null, typed: 'float',
    };
    for (const [name, type] of Object.entries(want)) assert.equal(typeOf(name), type, name);
  });

  test('value type names follow the injection (safe integers are int, PyFloat and fractions float)', () => {
    assert.equal(parameterTypeName(3), 'int');
    assert.equal(parameterTypeName(2n ** 70n), 'int');
    assert.equal(parameterTypeName(0.5), 'float');
    assert.equal(parameterTypeName(new PyFloat(1)), 'float');
    assert.equal(parameterTypeName(true), 'bool');
    assert.equal(parameterTypeName('s'), 'str');
    assert.equal(parameterTypeName(null), 'None');
    assert.equal(parameterTypeName([1]), 'list');
    assert.equal(parameterTypeName({ a: 1 }), 'dict');
  });

  test('fitting values pass: an int fits a float, None fits Optional, unknown types take anything', () => {
    assert.deepEqual(
      strictParameterProblems(DECLARED, {
        n: 7, rate: 2, alpha: new PyFloat(3), flag: true, name: 'y', xs: [1, 'a'], opts: { k: 1 }, maybe: null, path: [1],
        count: 2n ** 64n, verbose: false, title: '', items: [], pair: [1, 2], config: {}, nothing: { any: 'thing' }, computed: 'x',
        typed: 1,
      }),
      [],
    );
    assert.doesNotThrow(() => assertStrictParameters(DECLARED, { maybe: 4 }));
    assert.doesNotThrow(() => assertStrictParameters([], {}));
  });

  test('a wrong type or an undeclared name is a ParameterError naming parameter, expected and given type', () => {
    assert.deepEqual(strictParameterProblems(DECLARED, { n: 1.5, flag: 1, name: 3, xs: {}, opts: [], maybe: 'x', count: 'three', extra: 1, rate: null }), [
      { parameter: 'n', expected: 'int', given: 'float' },
      { parameter: 'flag', expected: 'bool', given: 'int' },
      { parameter: 'name', expected: 'str', given: 'int' },
      { parameter: 'xs', expected: 'list', given: 'dict' },
      { parameter: 'opts', expected: 'dict', given: 'list' },
      { parameter: 'maybe', expected: 'Optional[int]', given: 'str' },
      { parameter: 'count', expected: 'int', given: 'str' },
      { parameter: 'extra', expected: null, given: 'int' },
      { parameter: 'rate', expected: 'float', given: 'None' },
    ]);
    assert.throws(
      () => assertStrictParameters(DECLARED, { n: 'five', bogus: true }),
      (err: unknown) => {
        assert.ok(err instanceof ParameterError);
        assert.equal(err.httpStatus, 422);
        assert.match(err.message, /Parameter 'n' expects int, got str/);
        assert.match(err.message, /Parameter 'bogus' is not declared in the notebook's parameters cell \(declared: n, rate,/);
        assert.deepEqual(err.extra.parameters, [
          { parameter: 'n', expected: 'int', given: 'str' },
          { parameter: 'bogus', expected: null, given: 'bool' },
        ]);
        return true;
      },
    );
  });

  test('on a notebook: inspection of the parameters cell; none declares nothing; other languages cannot be checked', async () => {
    const nb = (kernelspec: Record<string, string>, cells: unknown[]): Notebook =>
      ({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec }, cells }) as unknown as Notebook;
    const cell = { cell_type: 'code', source: 'n: int = 1\n', metadata: { tags: ['parameters'] }, outputs: [], execution_count: null };
    const py = { name: 'python3', language: 'python', display_name: 'Python 3' };
    await checkStrictParametersForNotebook(nb(py, [cell]), { n: 2 }, { kernelName: 'python3', language: 'python' });
    await assert.rejects(checkStrictParametersForNotebook(nb(py, [cell]), { n: '2' }, { kernelName: 'python3', language: 'python' }), /'n' expects int, got str/);
    await assert.rejects(
      checkStrictParametersForNotebook(nb(py, []), { n: 2 }, { kernelName: 'python3', language: 'python' }),
      (err: unknown) => err instanceof ParameterError && /'n' is not declared .*declared: none/.test(err.message),
    );
    // Nothing submitted, nothing to check (also where inspection would fail).
    await checkStrictParametersForNotebook(nb(py, []), {}, { kernelName: 'python3', language: 'python' });
    const r = nb({ name: 'ir', language: 'R', display_name: 'R' }, [cell]);
    await checkStrictParametersForNotebook(r, {}, { kernelName: 'ir', language: 'R' });
    await assert.rejects(
      checkStrictParametersForNotebook(r, { n: 2 }, { kernelName: 'ir', language: 'R' }),
      (err: unknown) => err instanceof InspectionUnsupportedError && /strict_parameters cannot be checked/.test(err.message),
    );
  });
});
