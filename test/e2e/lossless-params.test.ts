/**
 * Parameters keep their types end to end: raw JSON through the real HTTP API
 * (`POST /api/v1/jobs`, `POST /execute`), the SQLite store, the runner and a real
 * python3 kernel, read back in the injected cell and by the notebook itself
 * (`type(x).__name__`, `repr(x)`), as papermill reading the same JSON in Python would.
 * Nesting beyond the limit and names that are not Python identifiers answer 422
 * before any job exists.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { MAX_PARAMETER_DEPTH } from '../../src/notebook/parameters-json.js';
import { startServer, type StartedServer } from '../../src/server.js';
import { code, notebookJson } from '../helpers/notebooks.js';

const TOKEN = 'e2e-lossless-token-3c1d';
const HEADERS = { authorization: `token ${TOKEN}`, 'content-type': 'application/json' };

// Sent as text: JSON.stringify would write 1.0 as 1.
const PARAMS = '{"lr": 1.0, "e": 1e3, "big": 9223372036854775808, "n": 7, "half": 0.5, "nested": {"xs": [2.0, -12345678901234567890123]}}';
const INJECTED = ['lr = 1.0', 'e = 1000.0', 'big = 9223372036854775808', 'n = 7', 'half = 0.5', 'nested = {"xs": [2.0, -12345678901234567890123]}'];
const EXPECTED_TYPES = {
  lr: ['float', '1.0'],
  e: ['float', '1000.0'],
  big: ['int', '9223372036854775808'],
  n: ['int', '7'],
  half: ['float', '0.5'],
  xs0: ['float', '2.0'],
  xs1: ['int', '-12345678901234567890123'],
};

const glueTypes =
  "from IPython.display import display\n" +
  "vals = {'lr': lr, 'e': e, 'big': big, 'n': n, 'half': half, 'xs0': nested['xs'][0], 'xs1': nested['xs'][1]}\n" +
  "types = {k: [type(v).__name__, repr(v)] for k, v in vals.items()}\n" +
  "print(types)\n" +
  "display({'application/scrapbook.scrap.json+json': {'name': 'types', 'data': types, 'encoder': 'json', 'version': 1}}, raw=True)";

const glueNumbers =
  "from IPython.display import display\n" +
  "for name, value in [('f', 1.0), ('big', 2**63 + 1), ('xs', [0.5, 2.0, -3])]:\n" +
  "    display({'application/scrapbook.scrap.json+json': {'name': name, 'data': value, 'encoder': 'json', 'version': 1}}, raw=True)";

describe('lossless parameters through the HTTP API into a real kernel', { timeout: 180_000 }, () => {
  let root: string;
  let home: string;
  let server: StartedServer;
  let base: string;

  const post = async (path: string, text: string) => {
    const r = await fetch(`${base}${path}`, { method: 'POST', headers: HEADERS, body: text, signal: AbortSignal.timeout(120_000) });
    const body = await r.text();
    return { status: r.status, text: body, json: JSON.parse(body) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const jobCount = async () => {
    const r = await fetch(`${base}/api/v1/jobs?username=alice&limit=500`, { headers: HEADERS });
    return ((await r.json()) as { jobs: unknown[] }).jobs.length;
  };
  const injectedSource = async (absPath: string) => {
    const nb = JSON.parse(await readFile(absPath, 'utf8')) as { cells: Array<{ source: string | string[]; metadata: { tags?: string[] } }> };
    const cell = nb.cells.find((c) => c.metadata.tags?.includes('injected-parameters'));
    assert.ok(cell, 'the output has an injected-parameters cell');
    return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-e2e-lossless-'));
    home = join(root, 'home', 'alice');
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'types.ipynb'), notebookJson([code('lr = 0.1\ne = 1\nbig = 0\nn = 0\nhalf = 0.0\nnested = {}', ['parameters']), code(glueTypes)]));
    // Its metadata is written as text: JSON.stringify would drop the .0 and round the int.
    await writeFile(join(home, 'glue.ipynb'), notebookJson([code(glueNumbers)]).replace('"metadata":{"kernelspec"', '"metadata":{"f": 1.0, "big": 9223372036854775809, "kernelspec"'));
    const config = loadConfig(
      {
        port: 0,
        homeTemplate: join(root, 'home', '{username}'),
        dataDir: join(root, 'data'),
        apiToken: TOKEN,
        poolSizes: 'python3:1',
        concurrency: 1,
        maxBodyBytes: 64 * 1024,
        waitMaxS: 90,
        executeWaitMaxS: 90,
        shutdownGraceS: 2,
      },
      {},
    );
    server = await startServer(config, { signals: false, logger: pino({ level: 'silent' }), print: () => {} });
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('POST /api/v1/jobs: 1.0, 1e3 and 2**63 arrive as float, float and exact int, in the injected cell and in the kernel', async () => {
    const r = await post('/api/v1/jobs?wait=true', `{"notebook": "types.ipynb", "username": "alice", "parameters": ${PARAMS}}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'succeeded', JSON.stringify(r.json.error));
    assert.deepEqual(r.json.result.types, EXPECTED_TYPES);
    // The job's parameters are answered as they were written.
    assert.match(r.text, /"lr":1\.0,"e":1000\.0,"big":9223372036854775808,"n":7,"half":0\.5,"nested":\{"xs":\[2\.0,-12345678901234567890123\]\}/);
    const src = await injectedSource(join(home, r.json.output_path));
    for (const line of INJECTED) assert.ok(src.includes(`${line}\n`), `injected cell has '${line}':\n${src}`);
    // Read back from the store.
    const again = await fetch(`${base}/api/v1/jobs/${r.json.id}`, { headers: HEADERS });
    assert.match(await again.text(), /"lr":1\.0,"e":1000\.0,"big":9223372036854775808/);
  });

  it('POST /execute: the same types in the seed endpoint, echoed back losslessly', async () => {
    const r = await post('/execute', `{"username": "alice", "notebook_name": "types.ipynb", "parameters": ${PARAMS}}`);
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /"parameters":\{"lr":1\.0,"e":1000\.0,"big":9223372036854775808,/);
    const src = await injectedSource(r.json.output_notebook);
    for (const line of INJECTED) assert.ok(src.includes(`${line}\n`), `injected cell has '${line}':\n${src}`);
    const job = await (await fetch(`${base}/api/v1/jobs/${r.json.job_id}`, { headers: HEADERS })).json();
    assert.deepEqual((job as { result: { types: unknown } }).result.types, EXPECTED_TYPES);
  });

  it(`parameters nested deeper than ${MAX_PARAMETER_DEPTH} levels (5,000 levels, ~10 KB) answer 422 naming the limit, and no job is created`, async () => {
    const deep = `${'['.repeat(5000)}1${']'.repeat(5000)}`;
    const jobsBefore = await jobCount();
    for (const [path, text] of [
      ['/api/v1/jobs', `{"notebook": "types.ipynb", "username": "alice", "parameters": {"lr": ${deep}}}`],
      ['/execute', `{"username": "alice", "notebook_name": "types.ipynb", "parameters": {"lr": ${deep}}}`],
    ] as const) {
      const r = await post(path, text);
      assert.equal(r.status, 422, `${path}: ${r.text}`);
      assert.equal(r.json.code, 'BAD_PARAMETER');
      assert.match(r.json.detail, new RegExp(`at most ${MAX_PARAMETER_DEPTH} levels`));
    }
    assert.equal(await jobCount(), jobsBefore);
    // The service is still fine.
    assert.equal((await fetch(`${base}/health`)).status, 200);
  });

  it('a parameter name that is not a Python identifier answers 422 up front for jobs, /execute and /run-notebook, and no job is created', async () => {
    const jobsBefore = await jobCount();
    const outputsBefore = (await readdir(home)).sort();
    const bad = '{"a b; import os": 1}';
    for (const [path, text] of [
      ['/api/v1/jobs', `{"notebook": "types.ipynb", "username": "alice", "parameters": ${bad}}`],
      ['/execute', `{"username": "alice", "notebook_name": "types.ipynb", "parameters": ${bad}}`],
      ['/run-notebook', `{"input_path": ${JSON.stringify(join(home, 'types.ipynb'))}, "output_path": ${JSON.stringify(join(home, 'bad-out.ipynb'))}, "params": ${bad}}`],
    ] as const) {
      const r = await post(path, text);
      assert.equal(r.status, 422, `${path}: ${r.text}`);
      assert.equal(r.json.code, 'BAD_PARAMETER');
      assert.match(r.json.detail, /'a b; import os' is not a valid python identifier/);
    }
    assert.equal(await jobCount(), jobsBefore);
    // /execute reserves no output file for a refused request.
    assert.deepEqual((await readdir(home)).sort(), outputsBefore);
  });

  it('results (scraps) and the output notebook answer their numbers as written: 1.0 and 2**63 + 1', async () => {
    const r = await post('/api/v1/jobs?wait=true', '{"notebook": "glue.ipynb", "username": "alice"}');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'succeeded', JSON.stringify(r.json.error));
    const written = '"result":{"f":1.0,"big":9223372036854775809,"xs":[0.5,2.0,-3]}';
    assert.ok(r.text.includes(written), r.text);
    // Read back from the store, and in the list.
    const one = await (await fetch(`${base}/api/v1/jobs/${r.json.id}`, { headers: HEADERS })).text();
    assert.ok(one.includes(written), one);
    const list = await (await fetch(`${base}/api/v1/jobs?username=alice&limit=500`, { headers: HEADERS })).text();
    assert.ok(list.includes(written), 'the job list answers the same result');
    const out = await fetch(`${base}/api/v1/jobs/${r.json.id}/output`, { headers: HEADERS });
    assert.equal(out.status, 200);
    const nb = await out.text();
    assert.match(nb, /"f": 1\.0,\n  "big": 9223372036854775809,/, 'the notebook metadata');
    assert.match(nb, /"name": "f",\n       "data": 1\.0,/, 'the float scrap');
    assert.match(nb, /"name": "big",\n       "data": 9223372036854775809,/, 'the int scrap');
    assert.doesNotMatch(nb, /9223372036854776000/);
  });
});
