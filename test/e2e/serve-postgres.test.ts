/**
 * `hubmill serve --database-url …` (the built dist/cli/index.js): two nodes with
 * their own data dirs share one PostgreSQL schema. Jobs submitted to node A run
 * on real python3 kernels on both nodes (B is woken by LISTEN/NOTIFY or its
 * poll), each exactly once, and node B's API sees them end. Each notebook
 * appends its kernel's pid to a file named after the job's tag, so a second
 * run would leave a second line.
 *
 * Needs a current build: `npx tsc -p tsconfig.build.json`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call } from '../helpers/http.js';
import { waitFor } from '../helpers/notebooks.js';
import { adminQuery, freshSchema, PG_TEST_URL } from '../helpers/pg.js';
import { waitForServeUrl } from '../../bench/lib/serve-banner.js';
import { PgJobStore } from '../../src/store/pg/pg-job-store.js';
import { PG_MIGRATIONS } from '../../src/store/migrations/postgres.js';
import { pidRecordingNotebookJson } from '../helpers/run-records.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'index.js');
const TOKEN = 'serve-postgres-token-0123456789';
const JOBS = 6;

const NOTEBOOK = pidRecordingNotebookJson();

function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
}

describe('hubmill serve on PostgreSQL', { timeout: 240_000 }, () => {
  it('two nodes with their own data dirs share the queue: every job runs once, on both nodes, seen from either', async (t) => {
    assert.ok(existsSync(CLI), 'dist/ is not built: run npx tsc -p tsconfig.build.json');
    assert.ok(statSync(CLI).mtimeMs >= statSync(join(ROOT, 'src', 'store', 'open.ts')).mtimeMs, 'dist/ is older than src/: rebuild');
    const schema = freshSchema(t);
    const root = await mkdtemp(join(tmpdir(), 'hubmill-serve-pg-'));
    const home = join(root, 'homes', 'erin');
    await mkdir(join(home, 'runs'), { recursive: true });
    await writeFile(join(home, 'nb.ipynb'), NOTEBOOK);
    const started: ChildProcess[] = [];
    t.after(async () => {
      for (const c of started) {
        if (c.exitCode !== null || c.signalCode !== null) continue;
        try {
          process.kill(-c.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
        await Promise.race([exited(c), new Promise((r) => setTimeout(r, 10_000).unref())]);
      }
      await rm(root, { recursive: true, force: true });
    });
    const serve = async (name: string) => {
      const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--database-url', `${PG_TEST_URL}?schema=${schema}`], {
        cwd: ROOT,
        env: {
          ...process.env,
          HUBMILL_HOME_TEMPLATE: join(root, 'homes', '{username}'),
          HUBMILL_DATA_DIR: join(root, `data-${name}`),
          HUBMILL_POOL: 'python3:0',
          HUBMILL_CONCURRENCY: '1',
          HUBMILL_LOG_LEVEL: 'warn',
          HUBMILL_API_TOKEN: TOKEN,
          JUPYTERHUB_API_URL: '',
          JUPYTERHUB_API_TOKEN: '',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      });
      started.push(child);
      return { base: await waitForServeUrl(child), pid: child.pid! };
    };
    const a = await serve('a');
    const b = await serve('b');
    assert.ok(!existsSync(join(root, 'data-a', 'jobs.sqlite')), 'no SQLite store beside PostgreSQL');

    const ids: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      const r = await call(a.base, 'POST', '/api/v1/jobs', TOKEN, { username: 'erin', notebook: 'nb.ipynb', parameters: { tag: `job${i}`, sleep_s: 1 } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      ids.push(r.body.id as string);
    }
    // Node B's API reads the shared store: it sees every job end.
    const ended = await waitFor(async () => {
      for (const id of ids) {
        const r = await call(b.base, 'GET', `/api/v1/jobs/${id}`, TOKEN);
        if (r.status !== 200 || ['queued', 'running'].includes(r.body.status as string)) return false;
      }
      return true;
    }, 180_000, 250);
    assert.ok(ended, 'every job ended');
    const rows = await adminQuery<{ id: string; status: string; worker_id: string; attempts: number; output_path: string | null; error: string | null }>(
      `SELECT id, status, worker_id, attempts, output_path, error FROM ${schema}.jobs ORDER BY created_at_ms, id`,
    );
    assert.deepEqual(rows.map((r) => r.id), ids);
    for (const [i, r] of rows.entries()) {
      assert.equal(r.status, 'succeeded', `job${i}: ${r.error}`);
      assert.equal(r.attempts, 1);
      const lines = readFileSync(join(home, 'runs', `job${i}.txt`), 'utf8').split('\n').filter(Boolean);
      assert.equal(lines.length, 1, `job${i} ran ${lines.length} times`);
      assert.ok(r.output_path && readFileSync(join(home, r.output_path), 'utf8').includes(`done job${i}`), `job${i}'s output notebook`);
    }
    const pids = new Set(rows.map((r) => Number(r.worker_id.split(':').at(-2))));
    assert.deepEqual([...pids].sort(), [a.pid, b.pid].sort(), 'both nodes ran jobs');
    // A graceful stop closes the pools and the LISTEN connection: exit 0.
    for (const c of started) c.kill('SIGTERM');
    const codes = await Promise.race([
      Promise.all(started.map((c) => exited(c).then(() => c.exitCode))),
      new Promise<null>((r) => setTimeout(() => r(null), 60_000).unref()),
    ]);
    assert.deepEqual(codes, [0, 0], 'both nodes stopped cleanly within 60 s');
  });

  it('a node older than the schema refuses to start and names the versions', async (t) => {
    assert.ok(existsSync(CLI), 'dist/ is not built: run npx tsc -p tsconfig.build.json');
    const schema = freshSchema(t);
    const newer = await PgJobStore.open({ url: PG_TEST_URL, schema, migrations: [...PG_MIGRATIONS, { version: 999, name: 'from the future', sql: 'SELECT 1' }] });
    await newer.close();
    const root = await mkdtemp(join(tmpdir(), 'hubmill-serve-pg-old-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--database-url', `${PG_TEST_URL}?schema=${schema}`], {
      cwd: ROOT,
      env: { ...process.env, HUBMILL_DATA_DIR: join(root, 'data'), HUBMILL_HOME_TEMPLATE: join(root, '{username}'), HUBMILL_POOL: 'python3:0', HUBMILL_API_TOKEN: TOKEN, JUPYTERHUB_API_URL: '', JUPYTERHUB_API_TOKEN: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    t.after(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
    await assert.rejects(waitForServeUrl(child, 60_000), (e: Error) => {
      assert.match(e.message, /exited with 2/);
      assert.match(e.message, /schema migrations this hubmill .* does not know \(999; this build knows ([\d, ]+)\)/);
      assert.ok(e.message.includes(`this build knows ${PG_MIGRATIONS.map((m) => m.version).join(', ')})`), e.message);
      return true;
    });
  });
});
