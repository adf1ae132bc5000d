/**
 * `hubmill serve` as a process: environment configuration, the generated token
 * printed with the URL, and a graceful SIGTERM that leaves no job stuck running.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/wait.js';

const SLOW = JSON.stringify({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  cells: [{ cell_type: 'code', id: 'a', metadata: {}, execution_count: null, outputs: [], source: 'import time\ntime.sleep(60)' }],
});

function serve(env: Record<string, string>): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'serve', '--port', '0'], {
    cwd: join(import.meta.dirname, '..', '..'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      err += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
  return { child, url };
}

describe('hubmill serve (process)', { timeout: 120_000 }, () => {
  let root: string;
  let env: Record<string, string>;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-serve-'));
    await mkdir(join(root, 'homes', 'carol'), { recursive: true });
    await writeFile(join(root, 'homes', 'carol', 'slow.ipynb'), SLOW);
    env = {
      HUBMILL_HOME_TEMPLATE: join(root, 'homes', '{username}'),
      HUBMILL_DATA_DIR: join(root, 'data'),
      HUBMILL_POOL: 'python3:0',
      HUBMILL_SHUTDOWN_GRACE_S: '1',
      HUBMILL_LOG_LEVEL: 'warn',
      HUBMILL_API_TOKEN: '',
      JUPYTERHUB_API_URL: '',
      JUPYTERHUB_API_TOKEN: '',
    };
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('prints the URL with a generated token, serves with it, and stops on SIGTERM leaving no job running', async () => {
    const first = serve(env);
    const url = new URL(await first.url);
    const token = url.searchParams.get('token');
    assert.match(token ?? '', /^[0-9a-f]{48}$/);
    const base = url.origin;
    assert.equal((await fetch(`${base}/health`)).status, 200);
    assert.equal((await fetch(`${base}/api/v1/jobs`)).status, 401);
    assert.equal((await fetch(`${base}/api/v1/jobs?token=${token}`)).status, 200);
    const submitted = await fetch(`${base}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `token ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'carol', notebook: 'slow.ipynb' }),
    });
    assert.equal(submitted.status, 202);
    const { id } = (await submitted.json()) as { id: string };
    await eventually(
      async () => ((await (await fetch(`${base}/api/v1/jobs/${id}?token=${token}`)).json()) as { status: string }).status === 'running',
      30_000,
      'the job to run',
      100,
    );
    const t0 = Date.now();
    first.child.kill('SIGTERM');
    const [code] = (await once(first.child, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 20_000, `shutdown took ${Date.now() - t0} ms`);

    const second = serve({ ...env, HUBMILL_API_TOKEN: 'a-chosen-token-123' });
    try {
      const base2 = new URL(await second.url).origin;
      const r = await fetch(`${base2}/api/v1/jobs/${id}`, { headers: { authorization: 'Bearer a-chosen-token-123' } });
      const job = (await r.json()) as { status: string; error: { evalue: string } | null };
      assert.ok(['cancelled', 'failed'].includes(job.status), `job left ${job.status}`);
    } finally {
      second.child.kill('SIGTERM');
      await once(second.child, 'exit');
    }
  });
});
