import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseNotebook, readNotebookFile, sourceText } from '../../src/notebook/read.js';
import { describeCell, errorLocation } from '../../src/notebook/cell-ref.js';
import { code, makeNotebook } from '../helpers/notebooks.js';
import { injectParameters, insertErrorMarkers, makeErrorMarkers, removeErrorMarkers } from '../../src/notebook/inject.js';
import { formatInspection, inspectParameters } from '../../src/notebook/inspect.js';
import { InspectionUnsupportedError, NoParametersCellError } from '../../src/notebook/notebook-errors.js';
import { parameterizePath } from '../../src/notebook/output-path.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import type { Cell } from '../../src/notebook/notebook-types.js';
import { notebookKernel } from '../../src/notebook/kernel.js';

/** The kernel as a caller resolves it (the test notebooks are Python). */
const PY = { kernelName: 'python3', language: 'python' };

const load = (name: string) => readNotebookFile(join(import.meta.dirname, '..', 'fixtures', 'notebooks', name));
const tags = (c: Cell) => (c.metadata as { tags?: string[] }).tags ?? [];

test('injection goes right after the first parameters cell, as a new tagged code cell', async () => {
  const nb = await load('params.ipynb');
  const { notebook, warnings } = injectParameters(nb, { a: 2, zz: 'x' }, PY);
  assert.equal(notebook.cells.length, nb.cells.length + 1);
  const cell = notebook.cells[2]!;
  assert.equal(cell.cell_type, 'code');
  assert.deepEqual(tags(cell), ['injected-parameters']);
  assert.equal(sourceText(cell), '# Parameters\na = 2\nzz = "x"\n');
  assert.deepEqual(cell.source, ['# Parameters\n', 'a = 2\n', 'zz = "x"\n']);
  assert.match(cell.id as string, /^[a-zA-Z0-9-_]{8,}$/);
  assert.deepEqual(warnings, ['Passed unknown parameter: zz']);
  assert.equal(nb.cells.length, 3, 'the input is not modified');
});

test('an existing injected-parameters cell is replaced in place, never stacked', async () => {
  const nb = await load('injected.ipynb');
  const first = injectParameters(nb, { alpha: new PyFloat(2) }, PY).notebook;
  const second = injectParameters(first, { alpha: 3 }, PY).notebook;
  assert.equal(second.cells.length, 3);
  assert.equal(second.cells[1]!.id, 'inj');
  assert.equal(sourceText(second.cells[1]!), '# Parameters\nalpha = 3\n');
  assert.equal(sourceText(first.cells[1]!), '# Parameters\nalpha = 2.0\n');
});

test('without a parameters cell the cell goes on top with papermill\'s warning; empty params inject nothing', async () => {
  const nb = await load('no-params.ipynb');
  const { notebook, warnings } = injectParameters(nb, { x: 1 }, PY);
  assert.deepEqual(tags(notebook.cells[0]!), ['injected-parameters']);
  assert.deepEqual(warnings, ["Input notebook does not contain a cell with tag 'parameters'"]);
  const none = injectParameters(nb, {}, PY);
  assert.deepEqual(none.notebook, nb);
  assert.deepEqual(none.warnings, []);
});

test('the translator follows the notebook kernel; report mode hides the cell source', async () => {
  const nb = await load('r-params.ipynb');
  const { notebook, warnings } = injectParameters(nb, { _x: true, s: 'é' }, { ...notebookKernel(nb), reportMode: true });
  assert.equal(sourceText(notebook.cells[1]!), '# Parameters\nx = TRUE\ns = "\\u{00E9}"\n');
  assert.deepEqual((notebook.cells[1]!.metadata as { jupyter?: unknown }).jupyter, { source_hidden: true });
  assert.deepEqual(warnings, []);
  const bash = injectParameters(nb, { x: 1 }, { kernelName: 'bash' });
  assert.equal(sourceText(bash.notebook.cells[1]!), '# Parameters\nx=1\n');
});

test('error markers are papermill\'s two red HTML markdown cells and are removed before a rerun', async () => {
  const [top, anchor] = makeErrorMarkers(7);
  assert.equal(top.cell_type, 'markdown');
  assert.equal(
    top.source,
    `<span style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;">An Exception was encountered at '<a href="#papermill-error-cell">In [7]</a>'.</span>`,
  );
  assert.equal(
    anchor.source,
    `<span id="papermill-error-cell" style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;">Execution using papermill encountered an exception here and stopped:</span>`,
  );
  assert.deepEqual(tags(top), ['papermill-error-cell-tag']);
  assert.deepEqual(tags(anchor), ['papermill-error-cell-tag']);
  assert.match(makeErrorMarkers(null)[0].source as string, /In \[None\]/);

  const nb = await load('no-params.ipynb');
  const moved = insertErrorMarkers(nb, 1, 2);
  assert.equal(moved, 3);
  assert.deepEqual(nb.cells.map((c) => c.id === 'c2' ? 'fail' : tags(c)[0] ?? 'ok'), ['papermill-error-cell-tag', 'ok', 'papermill-error-cell-tag', 'fail']);
  assert.equal(new Set(nb.cells.map((c) => c.id)).size, 4, 'marker ids are new to the notebook');
  removeErrorMarkers(nb);
  assert.deepEqual(nb.cells.map((c) => c.id), ['c1', 'c2']);
});

test('injection says where the cell went: after the parameters cell, at the top, or in place of an earlier injected cell', async () => {
  const nbOf = (cells: Parameters<typeof makeNotebook>[0]) => parseNotebook(JSON.stringify(makeNotebook(cells)), 'in.ipynb');
  const withParams = nbOf([code('a = 1', ['parameters']), code('print(a)')]);
  const after = injectParameters(withParams, { a: 2 }, PY);
  assert.deepEqual(after.injected, { index: 1, replaced: false });
  const again = injectParameters(after.notebook, { a: 3 }, PY);
  assert.deepEqual(again.injected, { index: 1, replaced: true });
  assert.equal(again.notebook.cells.length, 3);
  assert.deepEqual(injectParameters(nbOf([code('print(a)')]), { a: 2 }, PY).injected, { index: 0, replaced: false });
  assert.equal(injectParameters(withParams, {}, PY).injected, null);
});

test('inspection matches papermill: annotations, type comments, help, multi-line values, two = skipped', async () => {
  const warnings: string[] = [];
  const params = inspectParameters(await load('params.ipynb'), { onWarning: (w) => warnings.push(w) });
  assert.deepEqual(params, [
    { name: 'a', inferred_type_name: 'None', default: '1', help: 'the answer' },
    { name: 'b', inferred_type_name: 'int', default: '2', help: '' },
    { name: 'c', inferred_type_name: 'str', default: '"x"', help: '' },
    { name: 'd', inferred_type_name: 'List[str]', default: '["a","b"]', help: 'a list' },
    { name: 'very_long_parameter_name', inferred_type_name: 'None', default: '12345', help: 'help text' },
    { name: 'g', inferred_type_name: 'None', default: '{"k": 1,}', help: 'a dict' },
    { name: 'h', inferred_type_name: 'None', default: 'None', help: '' },
  ]);
  assert.deepEqual(warnings, ["Unable to parse line 8 'e = f = 3'."]);
  // Expected text produced by papermill's display_notebook_help code on the same list.
  assert.equal(
    formatInspection('params.ipynb', params),
    "\nParameters inferred for notebook 'params.ipynb':\n  a: Unknown type (default 1)     the answer\n  b: int (default 2)              \n  c: str (default \"x\")            \n  d: List[str] (default [\"a\",\"b\"])\n                                  a list\n  very_long_parameter_name: Unknown type (default 12345)\n                                  help text\n  g: Unknown type (default {\"k\": 1,})\n                                  a dict\n  h: Unknown type (default None)\n",
  );
});

test('inspection errors: no parameters cell, unsupported language', async () => {
  assert.throws(() => inspectParameters({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }), NoParametersCellError);
  await assert.rejects(async () => inspectParameters(await load('no-params.ipynb')), { message: "No cell tagged 'parameters'" });
  await assert.rejects(async () => inspectParameters(await load('r-params.ipynb')), (e: Error) => e instanceof InspectionUnsupportedError && /language 'R'/.test(e.message));
  assert.equal(formatInspection('x.ipynb', null), "\nParameters inferred for notebook 'x.ipynb':\n\n  No cell tagged 'parameters'\n");
  assert.match(formatInspection('x.ipynb', []), /Can't infer anything about this notebook's parameters\. It may not have any parameter defined\.\n$/);
});

test('output paths are templated from parameters and pm[...] built-ins', () => {
  const now = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
  assert.equal(
    parameterizePath('out/{name}_{pm[run_uuid]}_{n:03d}_{f}_{pm[current_datetime_utc]}_{pm[current_datetime_utc]:%Y%m%d}_{{x}}.ipynb', { name: 'a', n: 7, f: new PyFloat(1) }, { runUuid: 'U', now }),
    'out/a_U_007_1.0_2024-01-02 03:04:05.678000_20240102_{x}.ipynb',
  );
  assert.match(parameterizePath('{pm[run_uuid]}', {}), /^[0-9a-f-]{36}$/);
  assert.equal(parameterizePath('{d[k]}-{l[1]}-{b}-{z}', { d: { k: 'v' }, l: [1, 2], b: true, z: null }), 'v-2-True-None');
  assert.throws(() => parameterizePath('{name}.ipynb', {}), { name: 'ParameterError', message: "Missing parameter 'name'" });
  assert.throws(() => parameterizePath('{pm[nope]}.ipynb', {}), { message: "Missing parameter 'nope'" });
  assert.throws(() => parameterizePath('{}.ipynb', {}), /positional field/);
  assert.throws(() => parameterizePath('{a.ipynb', { a: 1 }), /unmatched/);
});

test('a cell is named one way in every message: input index, then In [n] when it ran', () => {
  assert.equal(describeCell(3, 4), 'cell 3 (In [4])');
  assert.equal(describeCell(0, null), 'cell 0');
  assert.equal(describeCell(null, 1), 'the injected parameters cell (In [1])');
  assert.equal(errorLocation({ cell_index: 2, execution_count: 5 }), 'cell 2 (In [5])');
  assert.equal(errorLocation({ cell_index: 2 }), 'cell 2');
  assert.equal(errorLocation({ cell_index: null, execution_count: null }), null);
});
