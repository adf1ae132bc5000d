import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, stat, chmod, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNotebook, readNotebookFile, sourceText } from '../../src/notebook/read.js';
import { serializeNotebook, splitLines, toJsonText, writeNotebookFile } from '../../src/notebook/write.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import { parseJsonExact } from '../../src/notebook/exact-json.js';
import { NotebookFormatError } from '../../src/errors.js';

const fixture = (name: string) => join(import.meta.dirname, '..', 'fixtures', 'notebooks', name);

test('an nbformat 4.4 notebook is upgraded to 4.5 with unique random cell ids', async () => {
  const nb = await readNotebookFile(fixture('v44.ipynb'));
  assert.equal(nb.nbformat_minor, 5);
  const ids = nb.cells.map((c) => c.id as string);
  for (const id of ids) assert.match(id, /^[a-zA-Z0-9-_]{8,}$/);
  assert.equal(new Set(ids).size, ids.length);
});

test('unknown metadata, attachments and raw cells survive a read/write round trip', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hubmill-rw-'));
  const nb = await readNotebookFile(fixture('v44.ipynb'));
  const out = join(dir, 'out.ipynb');
  await writeNotebookFile(out, nb);
  const again = await readNotebookFile(out);
  assert.deepEqual(again, nb);
  // Read as Python's json reads it: 1.5 is a float (PyFloat).
  const original = parseJsonExact(await readFile(fixture('v44.ipynb'), 'utf8')) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual(again.metadata, original.metadata);
  assert.deepEqual((again.metadata as any).custom_tool.nested.b, new PyFloat(1.5)); // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual((again.cells[0] as { attachments?: unknown }).attachments, original.cells[0].attachments);
  assert.deepEqual(again.cells[2]!.metadata, original.cells[2].metadata);
  assert.equal(again.cells[2]!.cell_type, 'raw');
  assert.deepEqual(again.cells[0]!.source, ['Some *markdown* ', 'é ✓ 😀\n']);
});

test('serializeNotebook writes like Jupyter: 1-space indent, literal non-ASCII, trailing newline', async () => {
  const text = await readFile(fixture('params.ipynb'), 'utf8');
  // The fixture was written by Python json.dump(indent=1, ensure_ascii=False).
  assert.equal(serializeNotebook(parseNotebook(text, 'params.ipynb')), text);
  const v44 = serializeNotebook(await readNotebookFile(fixture('v44.ipynb')));
  assert.ok(v44.includes('é ✓ 😀'));
  assert.ok(v44.endsWith('}\n'));
});

test('toJsonText keeps bigints exact and PyFloat spelling, writes NaN as null', () => {
  assert.equal(toJsonText({ a: 12345678901234567890n, b: new PyFloat(1), c: NaN, d: [undefined] }), '{"a":12345678901234567890,"b":1.0,"c":null,"d":[null]}');
});

test('writeNotebookFile is atomic and keeps the existing file mode', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hubmill-mode-'));
  const out = join(dir, 'nb.ipynb');
  await writeFile(out, 'old');
  await chmod(out, 0o640);
  await writeNotebookFile(out, parseNotebook(await readFile(fixture('params.ipynb'), 'utf8'), 'p'));
  assert.equal((await stat(out)).mode & 0o777, 0o640);
  assert.deepEqual(await readdir(dir), ['nb.ipynb']);
});

test('not JSON: the error names the file and the position', async () => {
  await assert.rejects(readNotebookFile(fixture('not-json.ipynb')), (err: Error) => {
    assert.ok(err instanceof NotebookFormatError);
    assert.match(err.message, /not-json\.ipynb: not valid JSON/);
    assert.match(err.message, /line 3 column \d+/);
    return true;
  });
});

test('nbformat 3 is refused with the conversion command', async () => {
  await assert.rejects(readNotebookFile(fixture('nbformat3.ipynb')), {
    name: 'NotebookFormatError',
    message: /nbformat3\.ipynb: nbformat 3 notebooks are not supported; convert with `jupyter nbconvert --to notebook --nbformat 4`/,
  });
});

test('shape errors are clear', () => {
  const bad = (v: unknown) => () => parseNotebook(JSON.stringify(v), 'x.ipynb');
  assert.throws(bad([1]), /x\.ipynb: not a notebook \(the JSON top level is not an object\)/);
  assert.throws(bad({ nbformat: 4, nbformat_minor: 5, metadata: {} }), /no "cells" list/);
  assert.throws(bad({ nbformat: 5, nbformat_minor: 0, cells: [] }), /nbformat 5 is newer/);
  assert.throws(bad({ cells: [] }), /no "nbformat" field/);
  assert.throws(bad({ nbformat: 4, nbformat_minor: 5, cells: [{ cell_type: 'heading', source: '' }] }), /cell 0 has unknown cell_type "heading"/);
  assert.throws(bad({ nbformat: 4, nbformat_minor: 5, cells: [{ cell_type: 'code', metadata: {} }] }), /cell 0 \(code\) has no "source"/);
  assert.throws(bad({ nbformat: 4, nbformat_minor: 5, cells: [{ cell_type: 'code', source: 5 }] }), /"source" must be a string or a list of strings/);
});

test('4.5 notebooks keep their ids; missing or duplicate ids are repaired', () => {
  const nb = parseNotebook(
    JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [
      { id: 'keep-me', cell_type: 'markdown', metadata: {}, source: '' },
      { id: 'keep-me', cell_type: 'markdown', metadata: {}, source: '' },
      { cell_type: 'markdown', metadata: {}, source: '' },
    ] }),
    'x',
  );
  assert.equal(nb.cells[0]!.id, 'keep-me');
  assert.notEqual(nb.cells[1]!.id, 'keep-me');
  assert.equal(typeof nb.cells[2]!.id, 'string');
});

test('sourceText joins list sources; splitLines keeps each newline', () => {
  assert.equal(sourceText({ source: ['a\n', 'b'] }), 'a\nb');
  assert.equal(sourceText({ source: 'x' }), 'x');
  assert.deepEqual(splitLines('a\nb\n\nc'), ['a\n', 'b\n', '\n', 'c']);
  assert.deepEqual(splitLines('a\n'), ['a\n']);
  assert.deepEqual(splitLines(''), []);
});
