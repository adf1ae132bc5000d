/**
 * The streaming notebook writer (notebook/write's notebookChunks, used by
 * writeNotebookFile) writes the same bytes as the serializer it replaced:
 * `reference` below is that serializer as it was (one string for the whole
 * notebook), kept here as the oracle. Also LongText, the compact stream text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachLongText, LongText, longTextOf } from '../../src/notebook/long-text.js';
import { SpillFile } from '../../src/notebook/spill-file.js';
import { parseNotebook } from '../../src/notebook/read.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import { notebookChunks, serializeNotebook, toJsonText, writeNotebookFile } from '../../src/notebook/write.js';
import type { Notebook } from '../../src/notebook/notebook-types.js';

/** The serializer before the streaming writer: JSON.stringify(value, null, 1) with bigint, PyFloat and non-finite numbers as Jupyter writes them. */
function reference(value: unknown, pad = '', step = ' '): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value instanceof PyFloat) return Number.isFinite(value.value) ? value.repr() : 'null';
  const obj = value as { toJSON?: () => unknown };
  if (typeof obj.toJSON === 'function') return reference(obj.toJSON(), pad, step);
  const inner = pad + step;
  const [open, close, sep] = step ? ['\n' + inner, '\n' + pad, ',\n' + inner] : ['', '', ','];
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${open}${value.map((v) => reference(v, inner, step) ?? 'null').join(sep)}${close}]`;
  }
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const text = reference(v, inner, step);
    if (text !== undefined) parts.push(`${JSON.stringify(k)}:${step ? ' ' : ''}${text}`);
  }
  return parts.length === 0 ? '{}' : `{${open}${parts.join(sep)}${close}}`;
}
const referenceNotebook = (nb: unknown): string => `${reference(nb)}\n`;

const BLOCK = 64 * 1024;
const EMOJI = '\u{1F600}'; // a surrogate pair

/** Text whose surrogate pairs sit across every 64 Ki boundary the writer or LongText could cut at. */
function awkwardText(n: number): string {
  const parts: string[] = [];
  let len = 0;
  let i = 0;
  while (len < n) {
    const filler = 'a'.repeat(BLOCK - 1 - (i % 3)) + (i % 2 ? '"\\\n\t\u0001é' : '');
    parts.push(filler, EMOJI, i % 4 === 0 ? '\ud800' : '', '\u2028ü\r');
    len += filler.length + 5;
    i++;
  }
  return parts.join('');
}

function notebookWith(outputs: unknown[], extra: Record<string, unknown> = {}): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, papermill: { parameters: { lr: new PyFloat(1), big: 2n ** 70n, nan: NaN, gone: undefined } }, empty: {}, list: [], ...extra },
    cells: [
      { cell_type: 'markdown', id: 'm', metadata: {}, source: ['# title\n', 'ü ' + EMOJI] },
      { cell_type: 'code', id: 'c', metadata: { tags: [] }, execution_count: 3, source: 'print(1)', outputs },
    ],
  } as unknown as Notebook;
}

const joined = (nb: Notebook): string => [...notebookChunks(nb)].join('');

test('the chunks are the old serializer\'s bytes, for long strings and stream texts cut at any boundary', () => {
  const long = awkwardText(5 * BLOCK);
  const streamed = { output_type: 'stream', name: 'stdout', text: '' } as Record<string, unknown>;
  const lt = new LongText();
  // Pieces of every size, so blocks end next to surrogates, escapes and the pieces' own ends.
  for (let i = 0; i < long.length; ) {
    const n = 1 + ((i * 7919) % 20_000);
    lt.append(long.slice(i, i + n));
    i += n;
  }
  attachLongText(streamed, 'text', lt);
  assert.equal(streamed.text, long, 'the getter reads the whole text');
  const nb = notebookWith([
    streamed,
    { output_type: 'display_data', data: { 'image/png': long, 'text/plain': ['a\n', 'b'] }, metadata: { w: new PyFloat(2.5) } },
    { output_type: 'error', ename: 'E', evalue: 'v', traceback: ['\u001b[31mx\u001b[0m'] },
  ]);
  const expected = referenceNotebook(nb);
  assert.equal(joined(nb), expected);
  assert.equal(serializeNotebook(nb), expected);
  assert.equal(toJsonText(nb, 1) + '\n', expected);
  assert.equal(toJsonText({ a: [1, undefined, () => 1], b: undefined, c: { toJSON: () => 'x' } }), reference({ a: [1, undefined, () => 1], b: undefined, c: { toJSON: () => 'x' } }, '', ''));
  assert.equal(toJsonText(undefined), 'null');
});

test('writeNotebookFile writes the old serializer\'s bytes for the fixtures and a large stream output, and leaves no temp file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hubmill-write-stream-'));
  try {
    const fixtures = join(import.meta.dirname, '..', 'fixtures', 'notebooks');
    const names = ['injected.ipynb', 'no-params.ipynb', 'params.ipynb', 'r-params.ipynb', 'v44.ipynb'];
    for (const name of names) {
      const nb = parseNotebook(await readFile(join(fixtures, name), 'utf8'), name);
      const out = join(dir, name);
      await writeNotebookFile(out, nb);
      assert.equal(await readFile(out, 'utf8'), referenceNotebook(nb), name);
    }
    // Several megabytes in many pieces, as a kernel's stdout arrives.
    const streamed = { output_type: 'stream', name: 'stdout', text: 'first\n' } as Record<string, unknown>;
    const lt = new LongText('first\n');
    attachLongText(streamed, 'text', lt);
    const line = 'x'.repeat(1023) + '\n';
    for (let i = 0; i < 6000; i++) lt.append(i % 1000 === 0 ? `é${EMOJI}\n` : line);
    const nb = notebookWith([streamed]);
    await writeNotebookFile(join(dir, 'big.ipynb'), nb, { sync: false });
    const bytes = await readFile(join(dir, 'big.ipynb'), 'utf8');
    assert.equal(bytes, referenceNotebook(nb));
    assert.equal((JSON.parse(bytes) as { cells: Array<{ outputs?: Array<{ text: string }> }> }).cells[1]!.outputs![0]!.text, lt.toString());
    assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the chunks are a snapshot: what changes after notebookChunks is not written', () => {
  const streamed = { output_type: 'stream', name: 'stdout', text: 'a' } as Record<string, unknown>;
  const lt = new LongText('a');
  attachLongText(streamed, 'text', lt);
  const outputs: unknown[] = [streamed];
  const nb = notebookWith(outputs);
  const before = referenceNotebook(nb);
  const chunks = notebookChunks(nb);
  lt.append('b'.repeat(BLOCK * 2));
  outputs.push({ output_type: 'stream', name: 'stderr', text: 'late' });
  assert.equal([...chunks].join(''), before);
});

test('LongText keeps surrogate pairs whole across its blocks, and an assigned text replaces it', () => {
  const lt = new LongText();
  lt.append('a'.repeat(BLOCK - 1) + EMOJI.charAt(0));
  lt.append(EMOJI.charAt(1) + 'tail');
  const pieces = [...lt.pieces()];
  assert.ok(pieces.length >= 2);
  for (const p of pieces.slice(0, -1)) {
    const last = p.charCodeAt(p.length - 1);
    assert.ok(!(last >= 0xd800 && last <= 0xdbff), 'no block ends with a high surrogate');
  }
  assert.equal(pieces.join(''), 'a'.repeat(BLOCK - 1) + EMOJI + 'tail');
  assert.equal(lt.length, BLOCK + 5);
  const o = { output_type: 'stream', name: 'stdout', text: '' } as Record<string, unknown>;
  attachLongText(o, 'text', lt);
  assert.deepEqual(Object.keys(o), ['output_type', 'name', 'text']);
  assert.deepEqual(o, { output_type: 'stream', name: 'stdout', text: lt.toString() });
  o.text = 'replaced';
  assert.equal(longTextOf(o, 'text'), undefined);
  assert.equal(toJsonText(o), '{"output_type":"stream","name":"stdout","text":"replaced"}');
});

test('a LongText that spills its blocks to a file reads and writes the same text, non-latin1 and lone surrogates included', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hubmill-spill-'));
  try {
    const lt = new LongText('', new SpillFile(dir), 1000);
    const plain = new LongText();
    const text = awkwardText(6 * BLOCK);
    for (let i = 0; i < text.length; i += 5003) {
      lt.append(text.slice(i, i + 5003));
      plain.append(text.slice(i, i + 5003));
    }
    // The file is unlinked at once: nothing is left in the folder.
    assert.deepEqual(await readdir(dir), []);
    assert.ok(lt.toString() === text);
    const a = { output_type: 'stream', name: 'stdout', text: '' } as Record<string, unknown>;
    attachLongText(a, 'text', lt);
    const nb = notebookWith([a]);
    assert.equal(joined(nb), referenceNotebook(nb));
    await writeNotebookFile(join(dir, 'out.ipynb'), nb, { sync: false });
    assert.equal(await readFile(join(dir, 'out.ipynb'), 'utf8'), referenceNotebook(nb));
    assert.deepEqual([...lt.pieces()].join(''), [...plain.pieces()].join(''));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
