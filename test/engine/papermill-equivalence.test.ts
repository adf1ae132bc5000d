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
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { executeNotebook } from '../../src/engine/execute.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import { notebookKernel } from '../../src/notebook/kernel.js';
import { parseNotebook } from '../../src/notebook/read.js';
import type { Parameters } from '../../src/notebook/notebook-types.js';
import { code, makeNotebook, md, tempDir } from '../helpers/notebooks.js';

type Json = Record<string, any>;
const execFileP = promisify(execFile);
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
  const result = await executeNotebook({ kernelName: notebookKernel(parseNotebook(JSON.stringify(nb), 'in.ipynb')).kernelName ?? 'python3', notebook: parseNotebook(JSON.stringify(nb), 'in.ipynb'), inputPath: join(dir, 'in.ipynb'), outputPath: out, parameters, ...extra });
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
    // papermill's cell_start/cell_exception: false once a cell starts, true on the one that raised, null if never reached.
    assert.deepEqual(c.map((x: Json) => x.metadata.papermill?.exception), [undefined, false, false, false, false, undefined, true, null]);
    assert.deepEqual(c.map((x: Json) => x.metadata.papermill?.status), [undefined, 'completed', 'completed', 'completed', 'completed', undefined, 'failed', 'pending']);
    assert.equal(result.error?.cell_index, 4, 'the input index of raise Exception("Nope")');
    assert.equal(result.error?.execution_count, 2);
  });

  // papermill's sysexit.ipynb, sysexit0.ipynb and systemexit.ipynb: the run succeeds (no
  // PapermillExecutionError, no markers), the exiting cell is failed with exception true,
  // the notebook's exception is true (papermill's cell_exception sets it), the rest pending.
  for (const [name, exit, evalue] of [
    ['sysexit', 'sys.exit()', ''],
    ['sysexit0', 'sys.exit(0)', '0'],
    ['systemexit', 'raise SystemExit', ''],
  ] as const) {
    test(`${name}: ${exit} ends the run successfully, and its cell is marked failed`, async () => {
      const { nb, result } = await pm(makeNotebook([code('import sys'), code(exit), code('print("Cell should not execute.")')]));
      assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
      assert.equal(result.error, null);
      const c = nb.cells;
      assert.equal(c.length, 3, 'no marker cells');
      assert.equal(c[0].cell_type, 'code');
      assert.equal(c[0].execution_count, 1);
      assert.equal(c[1].execution_count, 2);
      assert.equal(c[1].outputs[0].output_type, 'error');
      assert.equal(c[1].outputs[0].ename, 'SystemExit');
      assert.equal(c[1].outputs[0].evalue, evalue);
      assert.equal(c[2].execution_count, null);
      assert.deepEqual(c.map((x: Json) => [x.metadata.papermill.status, x.metadata.papermill.exception]), [
        ['completed', false],
        ['failed', true],
        ['pending', null],
      ]);
      assert.equal(nb.metadata.papermill.exception, true);
      assert.equal(nb.metadata.hubmill.status, 'succeeded');
    });
  }

  test('sysexit1: sys.exit(1) fails the run with markers, like any error', async () => {
    const { nb, result } = await pm(makeNotebook([code('import sys'), code('sys.exit(1)'), code('print("Cell should not execute.")')]));
    assert.equal(result.status, 'failed');
    const c = nb.cells;
    assert.equal(c[0].cell_type, 'markdown');
    assert.match(src(c[0]), /^<span .*<a href="#papermill-error-cell".*In \[2\].*<\/span>$/);
    assert.equal(c[1].execution_count, 1);
    assert.equal(c[2].cell_type, 'markdown');
    assert.match(src(c[2]), /<span id="papermill-error-cell" .*<\/span>/);
    assert.equal(c[3].execution_count, 2);
    assert.equal(c[3].outputs[0].output_type, 'error');
    assert.equal(c[4].execution_count, null);
    assert.deepEqual([c[3].metadata.papermill.exception, c[3].metadata.papermill.status], [true, 'failed']);
    assert.equal(result.error?.cell_index, 1);
    assert.equal(result.error?.execution_count, 2);
  });

  test('times are Python isoformat in UTC with microseconds, on cells and notebook; durations agree with them', async () => {
    const { nb } = await pm(makeNotebook([md('m'), code('import time; time.sleep(0.01)'), code('1')]));
    const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/;
    const micros = (t: string) => {
      const m = /^(.{19})(?:\.(\d{6}))?\+00:00$/.exec(t)!;
      return Date.parse(`${m[1]}Z`) * 1000 + Number(m[2] ?? 0);
    };
    const pmMeta = nb.metadata.papermill;
    for (const meta of [pmMeta, ...nb.cells.map((c: Json) => c.metadata.papermill)]) {
      assert.match(meta.start_time, iso);
      assert.match(meta.end_time, iso);
      assert.equal(meta.duration, (micros(meta.end_time) - micros(meta.start_time)) / 1e6);
    }
    assert.ok(nb.cells[1].metadata.papermill.duration >= 0.01);
    // Python < 3.11 reads these with datetime.fromisoformat (it cannot read a trailing Z).
    const { stdout } = await execFileP('/usr/bin/python3', ['-c', 'import sys, datetime; print(datetime.datetime.fromisoformat(sys.argv[1]).utcoffset())', pmMeta.start_time]);
    assert.equal(stdout.trim(), '0:00:00');
  });

  test("a notebook run again with no parameters keeps the earlier run's metadata.papermill.parameters", async () => {
    const first = await pm(simple(), { msg: 'Hello' });
    assert.deepEqual(first.nb.metadata.papermill.parameters, { msg: 'Hello' });
    const again = await pm(first.nb);
    assert.equal(again.result.status, 'succeeded');
    assert.deepEqual(again.nb.metadata.papermill.parameters, { msg: 'Hello' });
    assert.deepEqual(again.nb.cells[2].outputs[0].text, 'Hello\n', 'the earlier injected cell stays and runs');
    const replaced = await pm(first.nb, { msg: 'Bye' });
    assert.deepEqual(replaced.nb.metadata.papermill.parameters, { msg: 'Bye' });
    // A notebook that papermill never ran starts from papermill's empty defaults.
    const fresh = await pm(simple());
    assert.deepEqual(fresh.nb.metadata.papermill.parameters, {});
    assert.deepEqual(fresh.nb.metadata.papermill.default_parameters, {});
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

  test('numbers stay as written: 1.0 and 2**63 + 1 in the metadata, the JSON display output, an updated display and the scraps', async () => {
    const cell =
      'from IPython.display import display\n' +
      "display({'application/json': {'x': 1.0, 'big': 2**63 + 1}}, raw=True)\n" +
      "h = display({'application/json': {'v': 0}}, raw=True, display_id=True)\n" +
      "h.update({'application/json': {'v': 2.0}}, raw=True)\n" +
      "for name, value in [('f', 1.0), ('big', 2**63 + 1)]:\n" +
      "    display({'application/scrapbook.scrap.json+json': {'name': name, 'data': value, 'encoder': 'json', 'version': 1}},\n" +
      "            metadata={'scrapbook': {'name': name, 'data': True, 'display': False}}, raw=True)\n" +
      "class J:\n    def _repr_json_(self): return {'r': 1.5e300, 'n': -12345678901234567890}\n" +
      'J()';
    // Written as text: JSON.stringify would drop the .0 and round the int.
    const text = JSON.stringify(makeNotebook([code(cell)])).replace(/^\{/, '{"_": 0, ').replace('"metadata":{"kernelspec"', '"metadata":{"f": 1.0, "big": 9223372036854775809, "kernelspec"');
    assert.match(text, /"f": 1\.0, "big": 9223372036854775809/);
    const dir = await tempDir();
    const outPath = join(dir, 'out.ipynb');
    const result = await executeNotebook({ kernelName: 'python3', notebook: parseNotebook(text, 'in.ipynb'), inputPath: join(dir, 'in.ipynb'), outputPath: outPath, parameters: {} });
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    const out = await readFile(outPath, 'utf8');
    // papermill writes with Python's json, which keeps a float a float and an int whole.
    assert.match(out, /"f": 1\.0,\n  "big": 9223372036854775809,/, 'the notebook metadata');
    assert.match(out, /"application\/json": \{\n       "x": 1\.0,\n       "big": 9223372036854775809\n/, 'the display output');
    assert.match(out, /"application\/json": \{\n       "v": 2\.0\n/, 'the updated display');
    assert.match(out, /"name": "f",\n       "data": 1\.0,/, 'the float scrap');
    assert.match(out, /"name": "big",\n       "data": 9223372036854775809,/, 'the int scrap');
    assert.match(out, /"r": 1\.5e\+300,\n       "n": -12345678901234567890\n/, 'the execute_result');
    assert.doesNotMatch(out, /9223372036854776000|"(?:f|x|data)": 1,/);
    // Python reads the output back with the same types and values.
    const { stdout } = await execFileP('/usr/bin/python3', [
      '-c',
      'import json, sys; nb = json.load(open(sys.argv[1])); o = nb["cells"][0]["outputs"]; ' +
        'print(repr([nb["metadata"]["f"], nb["metadata"]["big"], o[0]["data"]["application/json"], o[2]["data"]["application/scrapbook.scrap.json+json"]["data"]]))',
      outPath,
    ]);
    assert.equal(stdout.trim(), "[1.0, 9223372036854775809, {'x': 1.0, 'big': 9223372036854775809}, 1.0]");
    // The results (job.result) hold the scraps with their types.
    assert.ok(result.results.f instanceof PyFloat && result.results.f.repr() === '1.0', String(result.results.f));
    assert.equal(result.results.big, 9223372036854775809n);
  });

  test('every cell has papermill metadata with the documented keys, markdown included', async () => {
    const { nb } = await pm(makeNotebook([md('m'), code('1')]));
    for (const cell of nb.cells) assert.deepEqual(Object.keys(cell.metadata.papermill).sort(), ['duration', 'end_time', 'exception', 'start_time', 'status']);
    assert.deepEqual(Object.keys(nb.metadata.papermill).sort(), ['default_parameters', 'duration', 'end_time', 'environment_variables', 'exception', 'input_path', 'output_path', 'parameters', 'start_time', 'version']);
  });
});
