/**
 * The observable contract of papermill's own test suite (papermill/tests/test_execute.py,
 * 2.x), replayed against hubmill's engine on equivalent notebooks: injected sources,
 * recorded parameters, broken-notebook layout with markers, report mode, cwd.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { executeNotebook } from '../../src/engine/execute.js';
import { parseNotebook } from '../../src/notebook/read.js';
import type { Parameters } from '../../src/notebook/types.js';
import { code, makeNotebook, md, tempDir } from '../helpers/notebooks.js';

type Json = Record<string, any>;
const src = (c: Json) => (Array.isArray(c.source) ? c.source.join('') : c.source) as string;

// papermill's simple_execute.ipynb: a parameters cell and a print.
const simple = () => makeNotebook([code("msg = None", ['parameters']), code('print(msg)')]);
// papermill's broken1.ipynb: markdown, a display, an error in the middle, a cell after it.
const broken1 = () =>
  makeNotebook([
    md('We create a notebook with an error'),
    code('print("Hello")'),
    md('Now an error'),
    md('And another markdown'),
    code('raise Exception("Nope")'),
    code('print("never")'),
  ]);

async function pm(nb: Json, parameters: Parameters = {}, extra: Record<string, unknown> = {}) {
  const dir = await tempDir();
  const out = join(dir, 'out.ipynb');
  const result = await executeNotebook({ notebook: parseNotebook(JSON.stringify(nb), 'in.ipynb'), inputPath: join(dir, 'in.ipynb'), outputPath: out, parameters, ...extra });
  return { result, nb: JSON.parse(await readFile(out, 'utf8')) as Json, dir };
}

describe('papermill equivalence', () => {
  const cases: Array<[string, Parameters, string]> = [
    ['cell insertion', { msg: 'Hello' }, 'msg = "Hello"'],
    ['quoted params', { msg: '"Hello"' }, 'msg = "\\"Hello\\""'],
    ['backslash params', { foo: 'do\\ not\\ crash' }, 'foo = "do\\\\ not\\\\ crash"'],
    ['backslash quote params', { foo: 'bar=\\"baz\\"' }, 'foo = "bar=\\\\\\"baz\\\\\\""'],
    ['double backslash quote params', { foo: '\\\\"bar\\\\"' }, 'foo = "\\\\\\\\\\"bar\\\\\\\\\\""'],
  ];
  for (const [name, params, line] of cases) {
    test(name, async () => {
      const { nb } = await pm(simple(), params);
      assert.deepEqual(src(nb.cells[1]).split('\n'), ['# Parameters', line, '']);
      assert.deepEqual(nb.metadata.papermill.parameters, params);
    });
  }

  test('no parameters tag: the injected cell goes first, with a warning', async () => {
    const { nb, result } = await pm(makeNotebook([code('print(msg)')]), { msg: 'Hello' });
    assert.deepEqual(src(nb.cells[0]).split('\n'), ['# Parameters', 'msg = "Hello"', '']);
    assert.ok(result.warnings.some((w) => w.includes("Input notebook does not contain a cell with tag 'parameters'")));
  });

  test('broken notebook: papermill\'s layout of markers, counts and pending cells', async () => {
    const { nb, result } = await pm(broken1());
    assert.equal(result.status, 'failed');
    const c = nb.cells;
    assert.equal(c[0].cell_type, 'markdown');
    assert.match(src(c[0]), /^<span .*<a href="#papermill-error-cell".*In \[2\].*<\/span>$/);
    assert.deepEqual(c[0].metadata.tags, ['papermill-error-cell-tag']);
    assert.equal(c[1].cell_type, 'markdown');
    assert.equal(c[2].execution_count, 1);
    assert.equal(c[3].cell_type, 'markdown');
    assert.equal(c[4].cell_type, 'markdown');
    assert.equal(c[5].cell_type, 'markdown');
    assert.match(src(c[5]), /<span id="papermill-error-cell" .*<\/span>/);
    assert.deepEqual(c[5].metadata.tags, ['papermill-error-cell-tag']);
    assert.equal(c[6].execution_count, 2);
    assert.equal(c[6].outputs[0].output_type, 'error');
    assert.equal(c[7].execution_count, null);
    assert.equal(c[7].metadata.papermill.status, 'pending');
    assert.equal(nb.metadata.papermill.exception, true);
  });

  test('prepare-only on a broken notebook does not raise and injects first', async () => {
    const { nb, result } = await pm(broken1(), { foo: 'do\\ not\\ crash' }, { prepareOnly: true });
    assert.equal(result.status, 'succeeded');
    assert.equal(nb.cells[0].cell_type, 'code');
    assert.deepEqual(src(nb.cells[0]).split('\n'), ['# Parameters', 'foo = "do\\\\ not\\\\ crash"', '']);
  });

  test('report mode hides every code cell', async () => {
    const { nb } = await pm(makeNotebook([code('a = 1', ['parameters']), code('print(a)'), md('x')]), { a: 0 }, { reportMode: true });
    for (const cell of nb.cells) if (cell.cell_type === 'code') assert.equal(cell.metadata.jupyter?.source_hidden, true);
  });

  test('cwd: execution reads relative files from cwd while the output path stays where it was given', async () => {
    const work = await tempDir();
    await writeFile(join(work, 'check.txt'), 'exists');
    const { nb, result } = await pm(makeNotebook([code('print(open("check.txt").read())')]), {}, { cwd: work });
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    assert.equal(nb.cells[0].outputs[0].text, 'exists\n');
    assert.ok(!existsSync(join(work, 'out.ipynb')));
  });

  test('every cell has papermill metadata with the documented keys, markdown included', async () => {
    const { nb } = await pm(makeNotebook([md('m'), code('1')]));
    for (const cell of nb.cells) assert.deepEqual(Object.keys(cell.metadata.papermill).sort(), ['duration', 'end_time', 'exception', 'start_time', 'status']);
    assert.deepEqual(Object.keys(nb.metadata.papermill).sort(), ['default_parameters', 'duration', 'end_time', 'environment_variables', 'exception', 'input_path', 'output_path', 'parameters', 'start_time', 'version']);
  });
});
