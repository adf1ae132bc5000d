/**
 * Homes: the default-target rule, which home a job gets (and what is refused),
 * and intake speaking only to the Home interface: a local home on disk, and a
 * user-server home against a small in-process Contents API server (the real
 * JupyterHub + Jupyter Server runs in test/hub/). The user-server home holds
 * its server from first use until `release`, once.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { NotFoundError, ParameterError, UnsafePathError, UsageError } from '../../src/errors.js';
import { defaultOutputPath, defaultTarget } from '../../src/homes/home.js';
import { Homes } from '../../src/homes/homes.js';
import { UserServerNotConfiguredError } from '../../src/homes/hub-servers.js';
import type { UserServers } from '../../src/homes/user-servers.js';
import { readNotebookFile } from '../../src/notebook/read.js';
import { Intake } from '../../src/runner/intake.js';
import { UNLIMITED } from '../../src/runner/time-limits.js';
import type { Job, NewJob } from '../../src/store/job-store.js';

const NB = JSON.stringify({
  cells: [{ cell_type: 'code', id: 'p', metadata: { tags: ['parameters'] }, execution_count: null, outputs: [], source: 'x = 1' }],
  metadata: { kernelspec: { name: 'python3', language: 'python', display_name: 'Python 3' } },
  nbformat: 4,
  nbformat_minor: 5,
});

/** A Contents API with one notebook (`work/nb.ipynb`); records every request. */
async function contentsServer(t: { after(fn: () => unknown): void }) {
  const files = new Map<string, string>([['work/nb.ipynb', NB]]);
  const dirs = new Set(['', 'work']);
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = decodeURIComponent(url.pathname.replace(/^\/user\/alice\/api\/contents\/?/, ''));
      seen.push(`${req.method} ${path}`);
      const send = (status: number, json: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      if (req.method === 'GET') {
        if (files.has(path)) return send(200, { name: path.split('/').pop(), path, type: 'file', content: url.searchParams.get('content') === '0' ? null : files.get(path) });
        if (dirs.has(path)) return send(200, { name: path, path, type: 'directory', content: null });
        return send(404, { message: 'No such file or directory' });
      }
      const model = JSON.parse(body) as { type: string; content?: string };
      if (model.type === 'directory') dirs.add(path);
      else files.set(path, model.content ?? '');
      return send(201, { path });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/user/alice/`;
  return { baseUrl, files, dirs, seen };
}

/** UserServers as the home uses it: counts acquisitions and releases. */
function fakeServers(baseUrl: string) {
  const count = { acquired: 0, released: 0 };
  const servers = {
    token: 'tok',
    async acquire() {
      count.acquired++;
      let done = false;
      return { baseUrl, started: false, release: () => (done ? undefined : ((done = true), count.released++)) };
    },
  } as unknown as UserServers;
  return { servers, count };
}

function localHomes(root: string, mode: 'local' | 'user-server' = 'local', userServers: UserServers | null = null): Homes {
  return new Homes({
    mode,
    local: {
      homeFor: (u) => join(root, u),
      readNotebook: readNotebookFile,
      kernelSpec: async (name) => ({ name, language: 'python' }),
      runAsFor: async () => null,
      outputNameFor: defaultOutputPath,
      kernels: null,
    },
    userServers,
  });
}

const newJob = (over: Partial<NewJob> = {}): NewJob => ({ username: 'alice', notebook: 'work/nb.ipynb', parameters: {}, ...over }) as NewJob;

describe('homes', () => {
  test('the default target follows HUBMILL_HOMES, and each mode refuses what it cannot serve', () => {
    assert.equal(defaultTarget('local'), 'local');
    assert.equal(defaultTarget('user-server'), 'user-server');
    const { servers } = fakeServers('http://127.0.0.1:1/');
    const remote = localHomes('/nonexistent', 'user-server', servers);
    assert.equal(remote.forSubmission(newJob()).target, 'user-server');
    assert.throws(() => remote.forSubmission(newJob({ target: 'local' })), UsageError);
    assert.equal(remote.forUser('alice').target, 'user-server');
    const local = localHomes('/nonexistent');
    assert.equal(local.forSubmission(newJob()).target, 'local');
    assert.throws(() => local.forSubmission(newJob({ server_name: 'gpu' })), UsageError);
    assert.throws(() => local.forSubmission(newJob({ target: 'user-server' })), UserServerNotConfiguredError);
    assert.throws(() => local.forSubmission(newJob({ username: '../bob' })), /invalid username/);
    // A stored job keeps its target whatever the mode.
    assert.equal(remote.forJob({ username: 'alice', target: 'local', server_name: null }).target, 'local');
  });

  test('a user-server home checks paths and the server name lexically, without starting the server', async () => {
    const { servers, count } = fakeServers('http://127.0.0.1:1/');
    const homes = localHomes('/nonexistent', 'user-server', servers);
    const home = homes.forSubmission(newJob({ server_name: '' }));
    assert.equal(home.serverName, null);
    assert.deepEqual(await home.storedPaths('work/./nb.ipynb', 'out/x.ipynb'), { notebook: 'work/nb.ipynb', output_path: 'out/x.ipynb' });
    await assert.rejects(home.storedPaths('../nb.ipynb', null), UnsafePathError);
    await assert.rejects(home.storedPaths('', null), NotFoundError);
    assert.throws(() => homes.forSubmission(newJob({ server_name: 'bad name!' })), UsageError);
    home.release();
    assert.deepEqual(count, { acquired: 0, released: 0 });
  });

  test('intake: a user-server job reads nothing at submission; its run reads, makes the output folder and writes through the sink', async (t) => {
    const cs = await contentsServer(t);
    const { servers, count } = fakeServers(cs.baseUrl);
    const intake = new Intake({ homes: localHomes('/nonexistent', 'user-server', servers), limits: UNLIMITED });
    const { job: stored, kernel } = await intake.check(newJob({ parameters: { x: 2 } }));
    assert.equal(kernel, null, 'the kernel is read when the job runs');
    assert.equal(stored.target, 'user-server');
    assert.equal(stored.server_name, null);
    assert.deepEqual(cs.seen, [], 'no request at submission');
    assert.equal(count.acquired, 0);

    const job = { ...stored, id: 'J1', output_path: null, kernel: null } as unknown as Job;
    const p = await intake.prepare(job);
    assert.equal(p.kernelName, 'python3');
    assert.equal(p.language, 'python');
    assert.equal(p.notebook.location, 'work/nb.ipynb');
    assert.equal(p.output.path, 'work/hubmill-outputs/nb-J1.ipynb');
    assert.equal(p.output.localPath, null);
    assert.ok(cs.dirs.has('work/hubmill-outputs'), 'the default output folder is created');
    const sink = p.output.sink();
    await sink.write(p.notebook.notebook);
    sink.close();
    assert.equal(JSON.parse(cs.files.get('work/hubmill-outputs/nb-J1.ipynb')!).cells[0].source, 'x = 1');
    assert.deepEqual(count, { acquired: 1, released: 0 }, 'held until the job ends');
    p.home.release();
    p.home.release();
    assert.deepEqual(count, { acquired: 1, released: 1 });

    // A missing notebook fails the run (the job's recorded error), and the server is given back.
    await assert.rejects(intake.prepare({ ...job, notebook: 'gone.ipynb' }), /notebook not found in the Jupyter server of alice: gone.ipynb/);
    assert.deepEqual(count, { acquired: 2, released: 2 });

    // Strict parameters cannot wait for the run: the notebook is read at submission, through the server.
    const strict = await intake.check(newJob({ parameters: { x: 2 }, strict_parameters: true }));
    assert.deepEqual(strict.kernel, { name: 'python3', language: 'python' });
    await assert.rejects(intake.check(newJob({ parameters: { y: 2 }, strict_parameters: true })), ParameterError);
    assert.deepEqual(count, { acquired: 4, released: 4 });
  });

  test('intake: a local job is resolved on disk at submission, and its run gets a local output place', async (t) => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'hubmill-homes-')));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(join(root, 'alice', 'work'), { recursive: true });
    writeFileSync(join(root, 'alice', 'work', 'nb.ipynb'), NB);
    const intake = new Intake({ homes: localHomes(root), limits: UNLIMITED });
    const { job: stored, kernel } = await intake.check(newJob({ notebook: 'work//nb.ipynb' }));
    assert.deepEqual(kernel, { name: 'python3', language: 'python' });
    assert.equal(stored.notebook, 'work/nb.ipynb');
    assert.equal(stored.target, 'local');
    await assert.rejects(intake.check(newJob({ notebook: 'work/missing.ipynb' })), NotFoundError);
    await assert.rejects(intake.check(newJob({ notebook: '../bob/nb.ipynb' })), UnsafePathError);

    const p = await intake.prepare({ ...stored, id: 'J2', output_path: null, kernel: null } as unknown as Job);
    const out = join(root, 'alice', 'work', 'hubmill-outputs', 'nb-J2.ipynb');
    assert.equal(p.notebook.location, join(root, 'alice', 'work', 'nb.ipynb'));
    assert.equal(p.notebook.cwd, join(root, 'alice', 'work'));
    assert.equal(p.output.localPath, out);
    const sink = p.output.sink();
    await sink.write(p.notebook.notebook, { final: true });
    sink.close();
    assert.ok(existsSync(out));
    assert.equal(JSON.parse(readFileSync(out, 'utf8')).cells[0].source, 'x = 1');
    p.home.release();
  });
});
