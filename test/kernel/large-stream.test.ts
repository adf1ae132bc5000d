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
  }
});

test('other layouts are left to the ordinary decode', () => {
  const body = JSON.stringify('z'.repeat(5 * 1024 * 1024));
  assert.equal(decodeLargeStream(Buffer.from(`{"text": ${body}, "name": "stdout"}`)), null);
  assert.equal(decodeLargeStream(Buffer.from(`{"name": "stdout", "text": ${body}, "extra": 1}`)), null);
  assert.equal(decodeLargeStream(Buffer.from(`{"name": "stdout", "text": "a"b"}`)), null);
});
