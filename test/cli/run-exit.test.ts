/**
 * How `hubmill run` ends (issue 19): once the output is saved and the kernel has
 * answered shutdown_request, the CLI exits without waiting for the kernel's
 * Python teardown. The kernel still finishes on its own (its atexit code runs),
 * is gone within a bounded time even when its teardown hangs, takes the
 * processes it left in its group with it, and leaves no connection file and no
 * held port behind.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { code, makeNotebook, processAlive, tempDir, waitFor, writeNotebook } from '../helpers/notebooks.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'index.js');
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does it)`);

/** Bounded: the watchdog's grace (2 s), SIGTERM, 1 s, SIGKILL, and room for a loaded machine. */
const GONE_WITHIN_MS = 8000;

function hubmill(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A cell that prints the kernel's pid, its connection file and ports, and a child left in its group. */
const REPORT = [
  'import os, json, subprocess, ipykernel',
  'cf = ipykernel.get_connection_file()',
  'c = json.load(open(cf))',
  'child = subprocess.Popen(["sleep", "300"])',
  'print(json.dumps({"pid": os.getpid(), "child": child.pid, "file": cf, "ports": [c[k] for k in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")]}))',
].join('\n');

async function runReporting(extraCell: string): Promise<{ dir: string; pid: number; child: number; file: string; ports: number[] }> {
  const dir = await tempDir();
  const input = await writeNotebook(dir, 'in.ipynb', makeNotebook([code(REPORT), code(extraCell)]));
  const r = hubmill(['run', input, join(dir, 'o.ipynb'), '--no-progress-bar']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /error|warning/i);
  const out = JSON.parse(await readFile(join(dir, 'o.ipynb'), 'utf8'));
  const text = (out.cells[0].outputs[0].text as string[] | string);
  return { dir, ...JSON.parse(Array.isArray(text) ? text.join('') : text) };
}

describe('hubmill run does not wait for the kernel teardown, and leaves nothing behind', () => {
  test('the kernel finishes on its own (atexit code runs), its group and ports go, its connection file is gone at exit', async () => {
    const dir0 = await tempDir();
    const marker = join(dir0, 'atexit-ran');
    // The handler takes 0.7 s: ipykernel's parent poller (JPY_PARENT_PID) would os._exit the kernel at its
    // next one-second tick after the CLI's exit; hubmill run's kernels go without it (launcher.ts parentPoller).
    const k = await runReporting(`import atexit, time\natexit.register(lambda: (time.sleep(0.7), open(${JSON.stringify(marker)}, "w").write("ok")))`);
    // The CLI has exited: the connection file is removed at once.
    assert.ok(!existsSync(k.file), `connection file ${k.file} left behind`);
    assert.ok(await waitFor(() => !processAlive(k.pid), GONE_WITHIN_MS, 50), `kernel ${k.pid} outlived the CLI`);
    assert.ok(await waitFor(() => !processAlive(k.child), GONE_WITHIN_MS, 50), `the kernel's child ${k.child} outlived it`);
    assert.equal(existsSync(marker) ? await readFile(marker, 'utf8') : null, 'ok', "the kernel's atexit code did not run");
    for (const port of k.ports) assert.ok(await waitFor(() => bindable(port), 2000, 50), `port ${port} still held`);
  });

  test('a kernel whose teardown hangs is still gone within a bounded time', async () => {
    const k = await runReporting('import atexit, time\natexit.register(lambda: time.sleep(300))');
    assert.ok(!existsSync(k.file), `connection file ${k.file} left behind`);
    assert.ok(await waitFor(() => !processAlive(k.pid), GONE_WITHIN_MS, 50), `kernel ${k.pid} outlived the CLI`);
    assert.ok(await waitFor(() => !processAlive(k.child), GONE_WITHIN_MS, 50), `the kernel's child ${k.child} outlived it`);
    for (const port of k.ports) assert.ok(await waitFor(() => bindable(port), 2000, 50), `port ${port} still held`);
  });

  test('a failing run still exits 1 with its message and leaves no kernel', async () => {
    const dir = await tempDir();
    const pidFile = join(dir, 'pid');
    const input = await writeNotebook(dir, 'in.ipynb', makeNotebook([code(`import os\nopen(${JSON.stringify(pidFile)}, "w").write(str(os.getpid()))\nraise ValueError("boom")`)]));
    const r = hubmill(['run', input, join(dir, 'o.ipynb'), '--no-progress-bar']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /ValueError: boom/);
    const pid = Number(await readFile(pidFile, 'utf8'));
    assert.ok(await waitFor(() => !processAlive(pid), GONE_WITHIN_MS, 50), `kernel ${pid} outlived the CLI`);
  });
});
