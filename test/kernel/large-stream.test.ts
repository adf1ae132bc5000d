/**
 * kernel/large-stream.ts: a large stream message's text parsed slice by slice from
 * its frame equals JSON.parse of the whole frame, whatever falls on a slice boundary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeLargeStream } from '../../src/kernel/large-stream.js';

/** Python's json.dumps: `ensure_ascii` escapes every non-ASCII character as \uXXXX (surrogate pairs for astral ones). */
function pyDumps(text: string, ensureAscii: boolean): string {
  const body = JSON.stringify(text);
  const escaped = ensureAscii ? body.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : body;
  return `{"name": "stdout", "text": ${escaped}}`;
}

/** About `mib` MiB whose escapes, backslash runs and multi-byte characters land on every byte offset around 1 MiB boundaries. */
function awkward(mib: number): string {
  const unit = 'abc\\\\\\"\n\t\u0001é€\u{1F600}\u2028x';
  const parts: string[] = [];
  let n = 0;
  let i = 0;
  while (n < mib * 1024 * 1024) {
    const s = 'y'.repeat(i % 17) + unit;
    parts.push(s);
    n += s.length;
    i++;
  }
  return parts.join('');
}

test('a large stream frame decodes slice by slice to the same text, with or without ensure_ascii', () => {
  for (const ensureAscii of [false, true]) {
    const text = awkward(5);
    const frame = Buffer.from(pyDumps(text, ensureAscii), 'utf8');
    const got = decodeLargeStream(frame);
    assert.ok(got, `decoded (ensure_ascii=${ensureAscii})`);
    assert.equal(got.name, 'stdout');
    assert.ok(got.text.toString() === text, `same text (ensure_ascii=${ensureAscii})`);
    // Parsed again on each iteration, from the frame: the same text every time, never more than a slice at once.
    const pieces = [...got.text.pieces()];
    assert.ok(pieces.length > 1 && pieces.every((p) => p.length <= 1024 * 1024), 'slices of at most 1 Mi characters');
    assert.ok(pieces.join('') === text, 'a second iteration gives the same text');
    assert.equal(got.text.utf8Bytes(), Buffer.byteLength(text));
    assert.throws(() => got.text.append('more'), /read-only/);
  }
});

test('a FrameText counts its UTF-8 bytes on the frame as Buffer.byteLength counts its text', () => {
  const pad = 'p'.repeat(1536 * 1024);
  for (const text of ['a\ud800b', '\udc00', 'x\ud83d', '\ud83d\ude00\u00e9\u20ac\n\t\\"', '\ud800\ud800\udc00']) {
    for (const ensureAscii of [false, true]) {
      const got = decodeLargeStream(Buffer.from(pyDumps(pad + text + pad, ensureAscii), 'utf8'));
      assert.ok(got);
      assert.equal(got.text.utf8Bytes(), Buffer.byteLength(pad + text + pad), JSON.stringify(text));
    }
  }
});

test('other layouts are left to the ordinary decode', () => {
  const body = JSON.stringify('z'.repeat(5 * 1024 * 1024));
  assert.equal(decodeLargeStream(Buffer.from(`{"text": ${body}, "name": "stdout"}`)), null);
  assert.equal(decodeLargeStream(Buffer.from(`{"name": "stdout", "text": ${body}, "extra": 1}`)), null);
  assert.equal(decodeLargeStream(Buffer.from(`{"name": "stdout", "text": "a"b"}`)), null);
  // A later string key after the text also ends in `"}`: the unescaped quotes say it is not one string.
  assert.equal(decodeLargeStream(Buffer.from(`{"name": "stdout", "text": ${body}, "extra": "x"}`)), null);
  assert.ok(decodeLargeStream(Buffer.from(`{"name": "stdout", "text": "a\\"b\\\\"}`)), 'escaped quotes and backslashes are fine');
});
