/**
 * Parameters and results round-trip through the SQLite store without losing their
 * Python types: PyFloat(1.0) stays a float, integers beyond 2^53 keep every digit,
 * NaN/±Inf survive; nesting beyond MAX_PARAMETER_DEPTH is refused, not a stack overflow.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ParameterError } from '../../src/errors.js';
import { MAX_PARAMETER_DEPTH } from '../../src/notebook/parameters-json.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import { pythonLiteral } from '../../src/notebook/translators/index.js';
import type { ParameterValue, Parameters } from '../../src/notebook/notebook-types.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';

function tempStore(t: { after(fn: () => void | Promise<void>): void }): { store: SqliteJobStore; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hubmill-store-lossless-'));
  const path = join(dir, 'jobs.sqlite');
  const store = new SqliteJobStore({ path });
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, path };
}

function nested(levels: number): ParameterValue {
  let v: ParameterValue = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

describe('SQLite store: lossless parameters', () => {
  test('PyFloat, bigint, NaN and ±Inf come back with their types, and render the same Python literals', async (t) => {
    const { store } = tempStore(t);
    const params: Parameters = {
      lr: new PyFloat(1.0),
      e: new PyFloat(1000),
      half: 0.5,
      n: 3,
      big: 2n ** 63n,
      negbig: -(2n ** 70n),
      nan: new PyFloat(NaN),
      inf: new PyFloat(Infinity),
      ninf: new PyFloat(-Infinity),
      nested: { xs: [new PyFloat(2), 2n ** 64n, 'a', null, true], o: {} },
    };
    const { job } = await store.enqueue({ username: 'alice', notebook: 'nb.ipynb', parameters: params, submitted_by: 'alice' });
    const back = (await store.get(job.id))!.parameters;
    assert.ok(back.lr instanceof PyFloat && back.lr.value === 1);
    assert.ok(back.e instanceof PyFloat && back.e.value === 1000);
    assert.equal(back.big, 2n ** 63n);
    assert.equal(back.negbig, -(2n ** 70n));
    assert.equal(back.n, 3);
    assert.equal(back.half, 0.5);
    for (const k of Object.keys(params)) assert.equal(pythonLiteral(back[k]!), pythonLiteral(params[k]!), k);
    assert.equal(pythonLiteral(back.lr!), '1.0');
    assert.equal(pythonLiteral(back.big!), '9223372036854775808');
  });

  test('stores plain JSON that other readers understand, with tags only where JSON cannot say it', async (t) => {
    const { store, path } = tempStore(t);
    const { job } = await store.enqueue({ username: 'alice', notebook: 'nb.ipynb', parameters: { lr: new PyFloat(1), n: 2, s: 'x' }, submitted_by: 'alice' });
    const db = new Database(path, { readonly: true });
    t.after(() => db.close());
    const row = db.prepare('SELECT parameters FROM jobs WHERE id = ?').get(job.id) as { parameters: string };
    assert.deepEqual(JSON.parse(row.parameters), { lr: { $hubmill_float: '1.0' }, n: 2, s: 'x' });
  });

  test('rows written by the earlier encoder (NaN/Inf tags only) still read', async (t) => {
    const { store, path } = tempStore(t);
    const { job } = await store.enqueue({ username: 'alice', notebook: 'nb.ipynb', parameters: {}, submitted_by: 'alice' });
    const db = new Database(path);
    t.after(() => db.close());
    db.prepare('UPDATE jobs SET parameters = ? WHERE id = ?').run('{"x":{"$hubmill_float":"nan"},"y":1.5,"z":7}', job.id);
    const back = (await store.get(job.id))!.parameters;
    assert.ok(back.x instanceof PyFloat && Number.isNaN(back.x.value));
    assert.equal(back.y, 1.5);
    assert.equal(back.z, 7);
  });

  test('results keep big integers and non-finite floats', async (t) => {
    const { store } = tempStore(t);
    const { job } = await store.enqueue({ username: 'alice', notebook: 'nb.ipynb', parameters: {}, submitted_by: 'alice' });
    await store.claimNext('w1');
    await store.markFinished(job.id, 'succeeded', { result: { big: 2n ** 63n, f: new PyFloat(2), plain: { a: [1, 'b'] } } });
    const back = (await store.get(job.id))!.result!;
    assert.equal(back.big, 2n ** 63n);
    assert.ok(back.f instanceof PyFloat && back.f.value === 2);
    assert.deepEqual(back.plain, { a: [1, 'b'] });
  });

  test(`parameters ${MAX_PARAMETER_DEPTH} levels deep are stored; one level more is a ParameterError, also at 5,000 levels`, async (t) => {
    const { store } = tempStore(t);
    // The mapping of names is level 1, so the value may nest MAX - 1 levels.
    const ok = await store.enqueue({ username: 'alice', notebook: 'nb.ipynb', parameters: { a: nested(MAX_PARAMETER_DEPTH - 1) }, submitted_by: 'alice' });
    assert.deepEqual((await store.get(ok.job.id))!.parameters, { a: nested(MAX_PARAMETER_DEPTH - 1) });
    for (const levels of [MAX_PARAMETER_DEPTH, 5000]) {
      await assert.rejects(
        store.enqueue({ username: 'alice', notebook: 'nb.ipynb', parameters: { a: nested(levels) }, submitted_by: 'alice' }),
        (e: unknown) => e instanceof ParameterError && e.message.includes(String(MAX_PARAMETER_DEPTH)),
      );
    }
  });
});
