/**
 * Request bodies through the HTTP layer (fake runner and store): parameters keep their
 * Python types (1.0 and 1e3 floats, 2**63 exact), responses write them back the same way,
 * nesting is bounded before parsing (422), other fields validate as plain JSON, and the
 * 413/415 answers say what to do. Also the `outputs` switch of GET /api/v1/notebooks.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { MAX_PARAMETER_DEPTH } from '../../src/notebook/parameters-json.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import { auth, makeApp, type FakeRunner } from './fakes.js';

const NB = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] });
const json = { ...auth, 'content-type': 'application/json' };

/** `levels` nested arrays around 1, as JSON text. */
const deep = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;

describe('HTTP bodies: lossless parameters, depth bound, 413/415', () => {
  let root: string;
  let app: FastifyInstance;
  let runner: FakeRunner;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-http-params-'));
    const alice = join(root, 'homes', 'alice');
    await mkdir(join(alice, 'nbs', 'hubmill-outputs'), { recursive: true });
    await writeFile(join(alice, 'top.ipynb'), NB);
    await writeFile(join(alice, 'nbs', 'report.ipynb'), NB);
    await writeFile(join(alice, 'nbs', 'hubmill-outputs', 'report-01JOBID.ipynb'), NB);
    await writeFile(join(alice, 'top_output_20260101_120000.ipynb'), NB);
    ({ app, runner } = await makeApp({ homeTemplate: join(root, 'homes', '{username}'), maxBodyBytes: 16 * 1024, waitMaxS: 2, executeWaitMaxS: 2 }));
  });
  after(async () => {
    await app.close();
    await rm(root, { recursive: true, force: true });
  });

  const post = (url: string, payload: string, headers: Record<string, string> = json) => app.inject({ method: 'POST', url, headers, payload });

  it('POST /api/v1/jobs keeps 1.0 and 1e3 as floats and 2**63 exact, and answers them back as written', async () => {
    const before = runner.submitted.length;
    const r = await post('/api/v1/jobs', '{"notebook":"top.ipynb","username":"alice","timeout_s":10.0,"parameters":{"lr":1.0,"e":1e3,"big":9223372036854775808,"n":7,"half":0.5,"xs":[2.0,{"y":-1E-5}]}}');
    assert.equal(r.statusCode, 202, r.body);
    const sent = runner.submitted[before]!;
    const p = sent.parameters;
    assert.ok(p.lr instanceof PyFloat && p.lr.value === 1);
    assert.ok(p.e instanceof PyFloat && p.e.value === 1000);
    assert.equal(p.big, 9223372036854775808n);
    assert.equal(p.n, 7);
    assert.ok(p.half instanceof PyFloat && p.half.value === 0.5);
    const xs = p.xs as [PyFloat, { y: PyFloat }];
    assert.ok(xs[0] instanceof PyFloat && xs[1].y instanceof PyFloat);
    // Other fields stay plain numbers, so TypeBox validates them as before.
    assert.equal(sent.timeout_s, 10);
    assert.match(r.body, /"parameters":\{"lr":1\.0,"e":1000\.0,"big":9223372036854775808,"n":7,"half":0\.5,"xs":\[2\.0,\{"y":-1e-05\}\]\}/);
    const id = r.json().id as string;
    const got = await app.inject({ url: `/api/v1/jobs/${id}`, headers: auth });
    assert.equal(got.statusCode, 200);
    assert.match(got.body, /"lr":1\.0,"e":1000\.0,"big":9223372036854775808/);
    const list = await app.inject({ url: '/api/v1/jobs?username=alice', headers: auth });
    assert.equal(list.statusCode, 200);
    assert.match(list.body, /"big":9223372036854775808/);
  });

  it('/execute and /run-notebook type their parameters the same way', async () => {
    let n = runner.submitted.length;
    const ex = await post('/execute', '{"username":"alice","notebook_name":"top.ipynb","parameters":{"lr":1.0,"big":18446744073709551616}}');
    assert.equal(ex.statusCode, 200, ex.body);
    assert.ok(runner.submitted[n]!.parameters.lr instanceof PyFloat);
    assert.equal(runner.submitted[n]!.parameters.big, 2n ** 64n);
    assert.match(ex.body, /"parameters":\{"lr":1\.0,"big":18446744073709551616\}/);
    n = runner.submitted.length;
    const home = join(root, 'homes', 'alice');
    const rn = await post('/run-notebook', JSON.stringify({ input_path: join(home, 'top.ipynb'), output_path: join(home, 'out.ipynb') }).replace(/}$/, ',"params":{"e":1e3}}'));
    assert.equal(rn.statusCode, 200, rn.body);
    assert.ok(runner.submitted[n]!.parameters.e instanceof PyFloat);
    assert.match(rn.body, /"params":\{"e":1000\.0\}/);
  });

  it('duplicate keys: the last wins, as in JSON.parse and Python; __proto__ keys are still refused', async () => {
    const n = runner.submitted.length;
    const r = await post('/api/v1/jobs', '{"notebook":"top.ipynb","username":"alice","parameters":{"a":1,"a":2.0}}');
    assert.equal(r.statusCode, 202, r.body);
    const a = runner.submitted[n]!.parameters.a;
    assert.ok(a instanceof PyFloat && a.value === 2);
    const proto = await post('/api/v1/jobs', '{"notebook":"top.ipynb","username":"alice","parameters":{"__proto__":{"polluted":1}}}');
    assert.equal(proto.statusCode, 400);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it(`parameters nested ${MAX_PARAMETER_DEPTH} levels are accepted; deeper ones answer 422 naming the limit, even 5,000 levels`, async () => {
    const body = (inner: string) => `{"notebook":"top.ipynb","username":"alice","parameters":{"a":${inner}}}`;
    // The parameters mapping is level 1, so "a" may hold MAX - 1 levels.
    const ok = await post('/api/v1/jobs', body(deep(MAX_PARAMETER_DEPTH - 1)));
    assert.equal(ok.statusCode, 202, ok.body);
    for (const [url, text] of [
      ['/api/v1/jobs', body(deep(MAX_PARAMETER_DEPTH))],
      ['/api/v1/jobs', body(deep(5000))],
      ['/execute', `{"username":"alice","notebook_name":"top.ipynb","parameters":{"a":${deep(5000)}}}`],
    ] as const) {
      assert.ok(text.length < 16 * 1024);
      const r = await post(url, text);
      assert.equal(r.statusCode, 422, `${url}: ${r.body.slice(0, 200)}`);
      assert.equal(r.json().code, 'BAD_PARAMETER');
      assert.match(r.json().detail, new RegExp(`at most ${MAX_PARAMETER_DEPTH} levels`));
    }
    // Brackets inside strings are text, not nesting.
    const strings = await post('/api/v1/jobs', body(JSON.stringify('[{'.repeat(3000) + '\\"')));
    assert.equal(strings.statusCode, 202, strings.body.slice(0, 200));
  });

  it('a body over the limit answers 413 naming the limit and HUBMILL_MAX_BODY_BYTES', async () => {
    const r = await post('/api/v1/jobs', `{"notebook":"top.ipynb","username":"alice","parameters":{"s":"${'x'.repeat(20_000)}"}}`);
    assert.equal(r.statusCode, 413);
    assert.equal(r.json().code, 'BODY_TOO_LARGE');
    assert.match(r.json().detail, /16384 bytes/);
    assert.match(r.json().detail, /HUBMILL_MAX_BODY_BYTES/);
  });

  it('a POST without Content-Type: application/json answers 415 saying to add it', async () => {
    const payload = '{"notebook":"top.ipynb","username":"alice"}';
    for (const headers of [{ ...auth, 'content-type': 'text/plain' }, { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, { ...auth }]) {
      for (const url of ['/api/v1/jobs', '/execute']) {
        const r = await post(url, payload, headers);
        assert.equal(r.statusCode, 415, `${url} ${JSON.stringify(headers)}: ${r.body}`);
        assert.equal(r.json().code, 'UNSUPPORTED_MEDIA_TYPE');
        assert.match(r.json().detail, /Content-Type: application\/json/);
      }
    }
    // No body at all on a route that needs one: the same hint.
    const empty = await app.inject({ method: 'POST', url: '/api/v1/jobs', headers: auth });
    assert.equal(empty.statusCode, 415);
    assert.match(empty.json().detail, /Content-Type: application\/json/);
    // Routes without a body (cancel) still take a bare POST.
    const job = await post('/api/v1/jobs', payload);
    const cancel = await app.inject({ method: 'POST', url: `/api/v1/jobs/${job.json().id}/cancel`, headers: auth });
    assert.ok([200, 202].includes(cancel.statusCode), cancel.body);
  });

  it('GET /api/v1/notebooks hides output notebooks unless outputs=true; /list-notebooks lists them as the seed did', async () => {
    const paths = (body: { notebooks: Array<{ path?: string; relative_path?: string }> }) => body.notebooks.map((n) => n.path ?? n.relative_path).sort();
    const inputs = await app.inject({ url: '/api/v1/notebooks?username=alice', headers: auth });
    assert.equal(inputs.statusCode, 200);
    const inputPaths = paths(inputs.json());
    assert.ok(inputPaths.includes('nbs/report.ipynb') && inputPaths.includes('top.ipynb'), inputPaths.join());
    assert.ok(!inputPaths.includes('nbs/hubmill-outputs/report-01JOBID.ipynb') && !inputPaths.includes('top_output_20260101_120000.ipynb'), inputPaths.join());
    const all = await app.inject({ url: '/api/v1/notebooks?username=alice&outputs=true', headers: auth });
    assert.equal(all.statusCode, 200);
    const allPaths = paths(all.json());
    assert.ok(allPaths.includes('nbs/hubmill-outputs/report-01JOBID.ipynb') && allPaths.includes('top_output_20260101_120000.ipynb'), allPaths.join());
    const seed = await app.inject({ url: '/list-notebooks/alice', headers: auth });
    const seedPaths = seed.json().notebooks.map((n: { relative_path: string }) => n.relative_path);
    assert.ok(seedPaths.includes('nbs/hubmill-outputs/report-01JOBID.ipynb') && seedPaths.includes('top_output_20260101_120000.ipynb'));
    const spec = (await app.inject({ url: '/openapi.json' })).json();
    const q = spec.paths['/api/v1/notebooks'].get.parameters.find((x: { name: string }) => x.name === 'outputs');
    assert.equal(q.schema.type, 'boolean');
    assert.equal(q.schema.default, false);
  });
});
