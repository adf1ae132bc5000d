/**
 * The redactor on its own: every known form of a value is replaced, a value
 * split across stream chunks is still caught (and output order is kept), and
 * JSON-like values are redacted deeply without touching what holds no value.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redactor, valueForms } from '../../src/secrets/redactor.js';

const V = 's3cr3t/P@ss w0rd+x';
const r = new Redactor([{ name: 'DB', value: V }]);

describe('redactor', () => {
  it('replaces the value, its base64 (with and without padding, url-safe) and URL-encoded forms, JSON and HTML escapes', () => {
    const b64 = Buffer.from(V).toString('base64');
    const forms = [V, b64, b64.replace(/=+$/, ''), Buffer.from(V).toString('base64url'), encodeURIComponent(V), encodeURIComponent(V).replace(/%20/g, '+')];
    for (const f of forms) assert.equal(r.text(`a ${f} b`), 'a [REDACTED:DB] b', f);
    assert.ok(valueForms('a<b>&"c').includes('a&lt;b&gt;&amp;&quot;c'));
    assert.equal(new Redactor([{ name: 'Q', value: 'say "hi"' }]).text('{"x":"say \\"hi\\""}'), '{"x":"[REDACTED:Q]"}');
    assert.equal(r.text('nothing here'), 'nothing here');
  });

  it('catches a value split across two stream chunks, holding back only what could start a value', () => {
    const h = r.streams();
    const first = h.push('stdout', `line one\n${V.slice(0, 7)}`);
    assert.deepEqual(first, [['stdout', 'line one\n']]);
    const second = h.push('stdout', `${V.slice(7)} end\n`);
    assert.deepEqual(second, [['stdout', '[REDACTED:DB] end\n']]);
    assert.deepEqual(h.flush(), []);
    // Another stream's text first emits what was kept back, so the order stays.
    h.push('stdout', V.slice(0, 3));
    assert.deepEqual(h.push('stderr', 'oops\n'), [['stdout', V.slice(0, 3)], ['stderr', 'oops\n']]);
    // What was kept back comes out at the cell's end.
    h.push('stdout', `x ${V.slice(0, 4)}`);
    assert.deepEqual(h.flush(), [['stdout', V.slice(0, 4)]]);
  });

  it('redacts strings (and keys) deep in JSON-like values and returns the same object when nothing matched', () => {
    const clean = { a: [1, 'x', { b: null }] };
    assert.equal(r.deep(clean), clean);
    assert.deepEqual(r.deep({ data: { 'text/plain': [`'${V}'`], 'text/html': `<b>${V}</b>` }, n: 1 }), {
      data: { 'text/plain': ["'[REDACTED:DB]'"], 'text/html': '<b>[REDACTED:DB]</b>' },
      n: 1,
    });
  });
});
