/**
 * `strict_parameters` through the HTTP layer (fake runner and store): off by default
 * (papermill semantics), on it refuses undeclared names and values of the wrong type
 * with a 422 problem naming the parameter, the expected and the given type.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { PyFloat } from '../../src/notebook/py-float.js';
import { auth, makeApp, type FakeRunner } from './fakes.js';

const NB = JSON.stringify({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  cells: [
    { cell_type: 'code', source: 'n: int = 5\nrate = 0.5  # learning rate\nname = "x"\nopts = {}\n', metadata: { tags: ['parameters'] }, outputs: [], execution_count: null },
  ],
});
const json = { ...auth, 'content-type': 'application/json' };

describe('HTTP: strict_parameters on POST /api/v1/jobs', () => {
  let root: string;
  let app: FastifyInstance;
  let runner: FakeRunner;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-http-strict-'));
    await mkdir(join(root, 'homes', 'alice'), { recursive: true });
    await writeFile(join(root, 'homes', 'alice', 'train.ipynb'), NB);
    ({ app, runner } = await makeApp({ homeTemplate: join(root, 'homes', '{username}') }));
  });
  after(async () => {
    await app.close();
    await rm(root, { recursive: true, force: true });
  });

  const submit = (body: string) => app.inject({ method: 'POST', url: '/api/v1/jobs', headers: json, payload: body });

  it('accepts declared parameters of fitting types (an int for a float; 1.0 stays a float)', async () => {
    const n = runner.submitted.length;
    const r = await submit('{"notebook":"train.ipynb","username":"alice","strict_parameters":true,"parameters":{"n":7,"rate":1,"name":"y","opts":{"a":1.0}}}');
    assert.equal(r.statusCode, 202, r.body);
    assert.equal(runner.submitted.length, n + 1);
    const p = runner.submitted[n]!.parameters;
    assert.equal(p.n, 7);
    assert.ok((p.opts as { a: unknown }).a instanceof PyFloat);
  });

  it('refuses a wrong type and an undeclared name with 422, naming parameter, expected and given type', async () => {
    const n = runner.submitted.length;
    const r = await submit('{"notebook":"train.ipynb","username":"alice","strict_parameters":true,"parameters":{"n":"5","rate":0.1,"epochs":3}}');
    assert.equal(r.statusCode, 422, r.body);
    assert.match(r.headers['content-type'] as string, /application\/problem\+json/);
    const body = r.json() as { code: string; detail: string; parameters: unknown };
    assert.equal(body.code, 'BAD_PARAMETER');
    assert.match(body.detail, /Parameter 'n' expects int, got str/);
    assert.match(body.detail, /Parameter 'epochs' is not declared in the notebook's parameters cell \(declared: n, rate, name, opts\)/);
    assert.deepEqual(body.parameters, [
      { parameter: 'n', expected: 'int', given: 'str' },
      { parameter: 'epochs', expected: null, given: 'int' },
    ]);
    assert.equal(runner.submitted.length, n, 'nothing was queued');
  });

  it('without the option (or with false) papermill semantics hold: anything is injected', async () => {
    for (const extra of ['', ',"strict_parameters":false']) {
      const r = await submit(`{"notebook":"train.ipynb","username":"alice"${extra},"parameters":{"n":"5","epochs":3}}`);
      assert.equal(r.statusCode, 202, r.body);
    }
  });

  it('a non-boolean strict_parameters is a 4xx, and the option is in the OpenAPI document', async () => {
    const r = await submit('{"notebook":"train.ipynb","username":"alice","strict_parameters":"yes"}');
    assert.ok(r.statusCode === 400 || r.statusCode === 422, `${r.statusCode} ${r.body}`);
    const doc = await app.inject({ url: '/openapi.json' });
    assert.equal(doc.statusCode, 200, doc.body);
    assert.match(doc.body, /"strict_parameters":\{[^}]*"type":"boolean"/);
  });
});
