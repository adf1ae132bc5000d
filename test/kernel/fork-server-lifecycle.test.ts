/**
 * Forked kernels keep the contract of launched ones: interrupt, death
 * detection, crash containment, no orphans; and hubmill falls back to a
 * normal launch when the fork server is missing or dies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DeadKernelError, KernelStartError } from '../../src/errors.js';
import { forkableSpec } from '../../src/kernel/fork-server.js';
import { ForkServers } from '../../src/kernel/fork-servers.js';
import { getKernelSpec, type KernelSpec } from '../../src/kernel/kernelspec-discovery.js';
import { KernelClient } from '../../src/kernel/kernel-client.js';
import { KernelPool } from '../../src/kernel/pool.js';
import { processAlive, tempDir, waitFor } from '../helpers/notebooks.js';
import { forkedKernel, procStat, run, runJson } from './fork-helpers.js';

describe('forked kernels: lifecycle', () => {
  let servers: ForkServers;
  let spec: KernelSpec;
  let dir: string;

  before(async () => {
    spec = await getKernelSpec('python3');
    servers = new ForkServers();
    dir = await tempDir('hubmill-forklife-');
  });
  after(async () => {
    await servers.close();
  });

  test('only Python ipykernel kernelspecs are forked', async () => {
    assert.deepEqual(forkableSpec(spec)?.interpreter, ['/usr/bin/python3']);
    assert.equal(forkableSpec(await getKernelSpec('ir')), null);
    assert.equal(forkableSpec({ ...spec, argv: ['/usr/bin/python3', '-m', 'other_kernel', '-f', '{connection_file}'] }), null);
  });

  test("the kernelspec's arguments are parsed once in the server and still reach every child", async () => {
    assert.equal((await servers.server(spec))?.hello?.args_parsed, true, 'the standard python3 kernelspec takes the parsed arguments');
    // Options of the kernelspec's own reach the child through the server's parse (IPKernelApp's and the shell's).
    const withArgs: KernelSpec = { ...spec, name: 'python3-hubmill-args', argv: [...spec.argv, '--HistoryManager.enabled=False', '--IPKernelApp.log_level=ERROR'] };
    const own = new ForkServers();
    try {
      assert.equal((await own.server(withArgs))?.hello?.args_parsed, true);
      const [a, b] = [await forkedKernel(own, withArgs, { cwd: dir }), await forkedKernel(own, withArgs, { cwd: dir })];
      try {
        for (const k of [a, b]) {
          const r = await runJson(k, 'import json, sys; from ipykernel.kernelapp import IPKernelApp as A; app = A.instance(); print(json.dumps({"history": get_ipython().history_manager.enabled, "log": app.log_level, "conn": app.connection_file, "argv": sys.argv[1:]}))');
          assert.equal(r.history, false);
          assert.equal(r.log, 40);
          // Each child has its own connection file (the one hubmill wrote for it), none has the placeholder.
          assert.ok(String(r.conn).endsWith('.json') && !String(r.conn).includes('{'), String(r.conn));
        }
        const conns = await Promise.all([a, b].map((k) => runJson(k, 'import json; from ipykernel.kernelapp import IPKernelApp as A; print(json.dumps({"conn": A.instance().connection_file}))')));
        assert.notEqual(conns[0]!.conn, conns[1]!.conn);
      } finally {
        await Promise.all([a.shutdown(), b.shutdown()]);
      }
    } finally {
      await own.close();
    }
  });

  test("a child's sys.argv[0] is the launcher a launched kernel would run, and one in the start folder shadows it", async () => {
    const launched = await KernelClient.launch(spec, { cwd: dir });
    const installed = await runJson<{ argv0: string }>(launched, 'import json, sys; print(json.dumps({"argv0": sys.argv[0]}))').finally(() => launched.shutdown());
    const k = await forkedKernel(servers, spec, { cwd: dir });
    const own = await tempDir('hubmill-forklauncher-');
    writeFileSync(join(own, 'ipykernel_launcher.py'), '# not run: the path only names the launcher\n');
    const shadowed = await forkedKernel(servers, spec, { cwd: own });
    try {
      assert.equal((await runJson<{ argv0: string }>(k, 'import json, sys; print(json.dumps({"argv0": sys.argv[0]}))')).argv0, installed.argv0);
      assert.equal((await runJson<{ argv0: string }>(shadowed, 'import json, sys; print(json.dumps({"argv0": sys.argv[0]}))')).argv0, join(own, 'ipykernel_launcher.py'));
    } finally {
      await Promise.all([k.shutdown(), shadowed.shutdown()]);
    }
  });

  test("a child's exit flushes what the user left buffered in open files (its own and io.IOBase subclasses)", async () => {
    const k = await forkedKernel(servers, spec, { cwd: dir });
    const code = [
      'import io',
      `f = open(${JSON.stringify(join(dir, 'left-open.txt'))}, 'w')`,
      "f.write('buffered text')",
      'class Mine(io.RawIOBase):',
      '    def writable(self): return True',
      `    def flush(self): open(${JSON.stringify(join(dir, 'mine-flushed.txt'))}, 'w').close()`,
      'm = Mine()',
      // Held by a module, so IPython's reset of the namespace at exit does not free (and so flush) them.
      'import json',
      'json._hubmill_kept = [f, m]',
    ].join('\n');
    await run(k, code);
    await k.shutdown({ graceMs: 30_000 }); // returns once the kernel's process is gone (a loaded machine may be slow)
    assert.equal(readFileSync(join(dir, 'left-open.txt'), 'utf8'), 'buffered text');
    assert.ok(existsSync(join(dir, 'mine-flushed.txt')), 'the io.IOBase subclass was flushed at exit');
  });

  test('the exit lets the control thread finish its reply to shutdown_request before IOPub stops', async () => {
    // After its handler, the control thread flushes sys.stdout through the IOPub thread (each flush waits up
    // to 10 s for it). An exit that stopped IOPub while the control thread was still busy could leave those
    // flushes unanswered: the kernel sat out 20 s and was killed before it flushed the user's files.
    const k = await forkedKernel(servers, spec, { cwd: dir });
    const seen = join(dir, 'at-atexit.txt');
    const code = [
      'import atexit, sys, threading, time',
      'from ipykernel.kernelapp import IPKernelApp',
      'app = IPKernelApp.instance()',
      // A slow control thread: 0.5 s between its shutdown_reply and its flushes.
      'flush = sys.stdout.flush',
      'def slow_flush():',
      "    if threading.current_thread() is app.control_thread:",
      '        time.sleep(0.5)',
      '    flush()',
      'sys.stdout.flush = slow_flush',
      // Registered last, so run first of the atexit handlers: before the one that stops IOPub.
      'def at_exit():',
      `    with open(${JSON.stringify(seen)}, 'w') as f:`,
      "        f.write('control %s, iopub %s' % (app.control_thread.is_alive(), app.iopub_thread.thread.is_alive()))",
      'atexit.register(at_exit)',
    ].join('\n');
    await run(k, code);
    await k.shutdown({ graceMs: 15_000 }); // under the 20 s the flushes could wait, far above a normal exit
    assert.equal(readFileSync(seen, 'utf8'), 'control False, iopub True');
  });

  test('a crash of one child touches neither the server nor the other children', async () => {
    const [a, b] = await Promise.all([forkedKernel(servers, spec, { cwd: dir }), forkedKernel(servers, spec, { cwd: dir })]);
    try {
      const server = await servers.server(spec);
      const t0 = Date.now();
      await assert.rejects(a.execute('import os; os._exit(7)', { timeoutMs: 30_000 }), (e: Error) => e instanceof DeadKernelError && /exit code 7/.test(e.message));
      assert.ok(Date.now() - t0 < 10_000, 'the death is reported by the server, not found by a timeout');
      assert.ok(server!.alive && processAlive(server!.pid!), 'server alive');
      assert.equal((await run(b, 'print(6 * 7)')).trim(), '42');
      const c = await forkedKernel(servers, spec, { cwd: dir });
      assert.equal(procStat(c.pid!).ppid, server!.pid, 'the same server forks the next kernel');
      await c.shutdown();
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
    }
  });

  test('a kill -9 of a child is a dead kernel, with the signal named', async () => {
    const k = await forkedKernel(servers, spec, { cwd: dir });
    try {
      const dead = new Promise<Error>((resolve) => k.once('dead', resolve));
      process.kill(k.pid!, 'SIGKILL');
      assert.match((await dead).message, /SIGKILL/);
      assert.equal(k.alive, false);
    } finally {
      await k.shutdown();
    }
  });

  test('interrupt stops a running cell of a forked kernel', async () => {
    const k = await forkedKernel(servers, spec, { cwd: dir });
    try {
      let busy!: () => void;
      const started = new Promise<void>((r) => (busy = r));
      // stopOnError false: ipykernel would otherwise abort the next request if it arrives while the error is handled.
      const p = k.execute('import time\nprint("sleeping", flush=True)\ntime.sleep(120)', {
        timeoutMs: 60_000,
        stopOnError: false,
        onIopub: (m) => m.header.msg_type === 'stream' && busy(),
      });
      await started;
      await k.interrupt();
      const reply = await p;
      assert.equal(reply.status, 'error');
      assert.equal(reply.ename, 'KeyboardInterrupt');
      assert.equal((await run(k, 'print("still here")')).trim(), 'still here');
    } finally {
      await k.shutdown();
    }
  });

  test('a child that fails to start reports its own stderr', async () => {
    await assert.rejects(
      forkedKernel(servers, spec, { cwd: join(dir, 'no-such-folder'), startTimeoutMs: 30_000 }),
      (e: Error) => e instanceof KernelStartError && /exited during start-up/.test(e.message) && /FileNotFoundError/.test(e.message),
    );
  });

  test('falls back to a normal launch when the server is missing, and restarts a killed server after a backoff', async () => {
    const missing = new ForkServers({ script: join(dir, 'missing.py') });
    try {
      const started = await missing.startProcess(spec, { cwd: dir });
      assert.equal(started.forked, false);
      const k = await KernelClient.launch(spec, { cwd: dir, startProcess: async () => started });
      assert.equal((await run(k, 'print(1 + 1)')).trim(), '2');
      await k.shutdown();
    } finally {
      await missing.close();
    }

    const own = new ForkServers({ backoffMs: 200 });
    try {
      const k = await forkedKernel(own, spec, { cwd: dir });
      const first = await own.server(spec);
      const exited = new Promise((r) => first!.once('exit', r));
      process.kill(first!.pid!, 'SIGKILL');
      await exited;
      // Without its server, the child's death is still noticed (by watching /proc).
      const dead = new Promise<Error>((resolve) => k.once('dead', resolve));
      process.kill(k.pid!, 'SIGKILL');
      await dead;
      await k.shutdown();
      const during = await own.startProcess(spec, { cwd: dir });
      assert.equal(during.forked, false, 'within the backoff: a normal launch');
      const launched = await KernelClient.launch(spec, { cwd: dir, startProcess: async () => during });
      await launched.shutdown();
      const again = await forkedKernel(own, spec, { cwd: dir });
      const second = await own.server(spec);
      assert.notEqual(second!.pid, first!.pid, 'a new server');
      await again.shutdown();
    } finally {
      await own.close();
    }
  });

  test('a preload that fails keeps the server from starting, says why, and kernels are launched normally', async () => {
    const warnings: string[] = [];
    const logger = { warn: (obj: { why?: string }) => warnings.push(obj.why ?? ''), info: () => {}, debug: () => {} } as unknown as import('pino').Logger;
    const broken = new ForkServers({ preload: { python3: 'raise ValueError("bad preload 7d1")' }, logger });
    try {
      const started = await broken.startProcess(spec, { cwd: dir });
      assert.equal(started.forked, false);
      const k = await KernelClient.launch(spec, { cwd: dir, startProcess: async () => started });
      await k.shutdown();
      assert.ok(warnings.some((w) => /bad preload 7d1/.test(w)), warnings.join('\n'));
    } finally {
      await broken.close();
    }
  });

  test('the pool keeps forked kernels ready, with the preload run once in the server', async () => {
    const pooled = new ForkServers({ preload: { python3: 'import os as _os\npreload_pid = _os.getpid()' } });
    const pool = new KernelPool({ sizes: { python3: 2 }, preload: { python3: 'import os as _os\npreload_pid = _os.getpid()' }, forkServers: pooled });
    pool.start();
    try {
      assert.ok(await pool.waitFull(120_000));
      const server = await pooled.server(spec);
      const k = await pool.acquire('python3');
      const r = await runJson(k, 'import json, os; print(json.dumps({"preload_pid": preload_pid, "pid": os.getpid(), "ppid": os.getppid()}))');
      assert.equal(r.ppid, server!.pid, 'forked');
      assert.equal(r.preload_pid, server!.pid, 'the preload ran in the server, not again in the kernel');
      assert.ok(await pool.waitFull(60_000), 'refilled');
      await k.shutdown();
    } finally {
      await pool.close();
      await pooled.close();
    }
  });

  test('kill -9 of hubmill leaves no fork server and no kernel behind', async () => {
    const holder = join(import.meta.dirname, '..', 'fixtures', 'kernels', 'fork-server-holder.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', holder], { stdio: ['ignore', 'pipe', 'inherit'] });
    let pids: { server: number; kernel: number; forked: boolean } | null = null;
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`holder exited early (${code})`)));
      });
      pids = JSON.parse(line) as { server: number; kernel: number; forked: boolean };
      assert.equal(pids.forked, true);
      assert.ok(processAlive(pids.server) && processAlive(pids.kernel));
      child.kill('SIGKILL');
      assert.ok(await waitFor(() => !processAlive(pids!.server) && !processAlive(pids!.kernel), 15_000), 'server and kernel gone');
    } finally {
      child.kill('SIGKILL');
      for (const pid of pids ? [pids.server, pids.kernel] : []) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // Gone, as it should be.
        }
      }
    }
  });
});
