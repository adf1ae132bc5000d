/**
 * Two `hubmill serve` processes (the built dist/cli/index.js) on one data dir
 * and one set of homes, with real python3 kernels. Jobs are submitted to both;
 * one process is restarted while jobs run in both (SIGTERM, and SIGKILL), and no
 * job runs twice: each notebook appends its kernel's pid to a file named after
 * the job's own tag before it sleeps, so a second run would leave a second line.
 * The live process's running jobs must end normally, never be "recovered" by the
 * restarted one.
 *
 * Needs a current build: `npx tsc -p tsconfig.build.json` (the test refuses a
 * dist/ older than src/).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { call } from '../helpers/http.js';
import { processAlive, waitFor } from '../helpers/notebooks.js';
import { waitForServeUrl } from '../../bench/lib/serve-banner.js';
import { pidRecordingNotebookJson } from '../helpers/run-records.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'index.js');
const TOKEN = 'two-processes-token-0123456789';
const JOBS = 8;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function assertBuilt(): void {
  assert.ok(existsSync(CLI), 'dist/ is not built: run npx tsc -p tsconfig.build.json');
  assert.ok(statSync(CLI).mtimeMs >= newestMtime(join(ROOT, 'src')), 'dist/ is older than src/: run npx tsc -p tsconfig.build.json');
}

const NOTEBOOK = pidRecordingNotebookJson();

interface Serve {
  child: ChildProcess;
  base: string;
  pid: number;
}

/** Starts `hubmill serve` on a free port (port 0: the kernel picks, no race) and waits for its banner. */
async function serve(env: Record<string, string>, started: ChildProcess[]): Promise<Serve> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  started.push(child);
  const base = await waitForServeUrl(child);
  return { child, base, pid: child.pid! };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
}

interface JobRow {
  id: string;
  status: string;
  worker_id: string | null;
  attempts: number;
  finished_at_ms: number | null;
  error: string | null;
  parameters: string;
}

async function scenario(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  assertBuilt();
  const root = await mkdtemp(join(tmpdir(), `hubmill-two-${signal.toLowerCase()}-`));
  const home = join(root, 'homes', 'erin');
  await mkdir(join(home, 'runs'), { recursive: true });
  await writeFile(join(home, 'nb.ipynb'), NOTEBOOK);
  const leaseS = 3;
  const env = {
    HUBMILL_HOME_TEMPLATE: join(root, 'homes', '{username}'),
    HUBMILL_DATA_DIR: join(root, 'data'),
    HUBMILL_POOL: 'python3:0',
    HUBMILL_CONCURRENCY: '2',
    HUBMILL_LEASE_S: String(leaseS),
    HUBMILL_SHUTDOWN_GRACE_S: '60',
    HUBMILL_LOG_LEVEL: 'warn',
    HUBMILL_API_TOKEN: TOKEN,
    JUPYTERHUB_API_URL: '',
    JUPYTERHUB_API_TOKEN: '',
  };
  const started: ChildProcess[] = [];
  const db = () => new Database(join(root, 'data', 'jobs.sqlite'), { readonly: true, fileMustExist: true });
  const rows = (): JobRow[] => {
    const d = db();
    try {
      return d.prepare('SELECT id, status, worker_id, attempts, finished_at_ms, error, parameters FROM jobs').all() as JobRow[];
    } finally {
      d.close();
    }
  };
  const pidOf = (worker: string | null) => Number(worker?.split(':').at(-2));
  const linesOf = (tag: string): string[] => {
    const f = join(home, 'runs', `${tag}.txt`);
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
  };
  try {
    const a = await serve(env, started);
    const b = await serve(env, started);
    const tags: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      const tag = `job${i}`;
      tags.push(tag);
      const r = await call(i % 2 === 0 ? a.base : b.base, 'POST', '/api/v1/jobs', TOKEN, { username: 'erin', notebook: 'nb.ipynb', parameters: { tag, sleep_s: 4 } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
    }
    // Both processes run jobs before the restart.
    const bothRunning = await waitFor(() => {
      const running = rows().filter((r) => r.status === 'running');
      return running.some((r) => pidOf(r.worker_id) === a.pid) && running.some((r) => pidOf(r.worker_id) === b.pid);
    }, 90_000, 100);
    assert.ok(bothRunning, `both processes should run jobs: ${JSON.stringify(rows().map((r) => [r.status, r.worker_id]))}`);
    const onB = rows().filter((r) => r.status === 'running' && pidOf(r.worker_id) === b.pid).map((r) => r.id);
    const onA = rows().filter((r) => r.status === 'running' && pidOf(r.worker_id) === a.pid).map((r) => r.id);

    // Restart A on the same data dir.
    const killedAt = Date.now();
    process.kill(a.pid, signal);
    const gone = await Promise.race([exited(a.child).then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 90_000).unref())]);
    assert.ok(gone, `process A did not exit within 90 s of ${signal}`);
    const a2 = await serve(env, started);
    // The restarted process leaves B's running jobs alone.
    for (const id of onB) {
      const r = rows().find((x) => x.id === id)!;
      assert.ok(r.status === 'running' || r.status === 'succeeded', `B's job ${id} is ${r.status} just after A restarted`);
    }

    const allDone = await waitFor(() => rows().every((r) => !['queued', 'running'].includes(r.status)), 150_000, 200);
    const final = rows();
    assert.ok(allDone, `jobs still queued or running: ${JSON.stringify(final.map((r) => [r.id, r.status, r.worker_id]))}`);
    assert.equal(final.length, JOBS);

    for (const r of final) {
      const tag = (JSON.parse(r.parameters) as { tag: string }).tag;
      const lines = linesOf(tag);
      assert.ok(lines.length <= 1, `job ${tag} ran ${lines.length} times (${r.status})`);
      assert.equal(r.attempts, 1, `job ${tag} was claimed ${r.attempts} times`);
      if (r.status === 'succeeded') assert.equal(lines.length, 1, `succeeded job ${tag} left ${lines.length} lines`);
    }
    for (const id of onB) assert.equal(final.find((r) => r.id === id)?.status, 'succeeded', `B's job ${id} ended normally`);
    const byA2 = final.filter((r) => pidOf(r.worker_id) === a2.pid);
    if (signal === 'SIGTERM') {
      // A graceful stop lets A's running jobs finish; nothing is interrupted.
      assert.deepEqual(final.filter((r) => r.status !== 'succeeded').map((r) => [r.id, r.status, r.error]), []);
      for (const id of onA) assert.equal(final.find((r) => r.id === id)?.worker_id?.split(':').at(-2), String(a.pid));
    } else {
      // A's jobs are reclaimed (failed, not re-run) only after their lease expired; all others succeed.
      for (const r of final) {
        if (onA.includes(r.id)) {
          assert.equal(r.status, 'failed', `A's job ${r.id}`);
          assert.equal((JSON.parse(r.error ?? '{}') as { ename?: string }).ename, 'JobInterrupted');
          assert.ok(r.finished_at_ms! >= killedAt + leaseS * 1000 - 1000, `A's job ${r.id} reclaimed ${r.finished_at_ms! - killedAt} ms after the kill, before its ${leaseS} s lease expired`);
        } else {
          assert.equal(r.status, 'succeeded', `job ${r.id}: ${r.error}`);
        }
      }
    }
    // Jobs queued at the restart were taken by the live processes, the restarted one included (when it got any).
    assert.ok(byA2.every((r) => r.status === 'succeeded'));
  } finally {
    // Every process this test started, and the kernels they may have left, are stopped on every path.
    for (const c of started) {
      if (c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(-c.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
        await Promise.race([exited(c), new Promise((r) => setTimeout(r, 10_000).unref())]);
      }
    }
    for (const tag of Array.from({ length: JOBS }, (_, i) => `job${i}`)) {
      for (const pid of linesOf(tag).map(Number)) {
        if (processAlive(pid)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    }
    await rm(root, { recursive: true, force: true });
  }
}

describe('two serve processes on one data dir', { timeout: 400_000 }, () => {
  it('a process restarted with SIGTERM: no job runs twice, the live process keeps its jobs', () => scenario('SIGTERM'));
  it('a process killed with SIGKILL and restarted: its jobs are reclaimed only after the lease, none runs twice', () => scenario('SIGKILL'));
});
