import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { KernelClient } from '../../src/kernel/kernel-client.js';
import { findKernelSpecs, getKernelSpec, jupyterDataDirs } from '../../src/kernel/kernelspec-discovery.js';
import { KernelPool } from '../../src/kernel/pool.js';
import { WireCodec } from '../../src/kernel/wire.js';
import { AbortedError, DeadKernelError, KernelStartError, NoSuchKernelError, TimeoutError } from '../../src/errors.js';
import type { Message } from '../../src/kernel/messages.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, processAlive, waitFor } from '../helpers/notebooks.js';

describe('kernelspecs', () => {
  test('finds the Debian python3 and ir kernels', async () => {
    const specs = await findKernelSpecs();
    const names = specs.map((s) => s.name);
    assert.ok(names.includes('python3'), names.join(','));
    assert.ok(names.includes('ir'), names.join(','));
    const py = specs.find((s) => s.name === 'python3')!;
    assert.equal(py.language, 'python');
    assert.equal(py.interrupt_mode, 'signal');
  });

  test('JUPYTER_PATH wins and names are case-insensitive', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'kernels', 'MyKernel'), { recursive: true });
    await writeFile(join(dir, 'kernels', 'MyKernel', 'kernel.json'), JSON.stringify({ argv: ['x', '{connection_file}'], display_name: 'Mine', language: 'python', interrupt_mode: 'message' }));
    await mkdir(join(dir, 'kernels', 'broken'), { recursive: true });
    await writeFile(join(dir, 'kernels', 'broken', 'kernel.json'), '{not json');
    const env = { JUPYTER_PATH: dir };
    assert.equal(jupyterDataDirs({ env, home: '/nonexistent' })[0], dir);
    const spec = await getKernelSpec('mykernel', { env, home: '/nonexistent' });
    assert.equal(spec.display_name, 'Mine');
    assert.equal(spec.interrupt_mode, 'message');
    await assert.rejects(getKernelSpec('broken', { env, home: '/nonexistent' }), NoSuchKernelError);
  });

  test('read concurrently, the data dirs still win in order; a broken kernel.json hides nothing', async () => {
    const [first, second] = [await tempDir(), await tempDir()];
    const put = async (root: string, name: string, body: string) => {
      await mkdir(join(root, 'kernels', name), { recursive: true });
      await writeFile(join(root, 'kernels', name, 'kernel.json'), body);
    };
    const spec = (display: string) => JSON.stringify({ argv: ['x', '{connection_file}'], display_name: display, language: 'python' });
    await put(first, 'Dup', spec('first'));
    await put(second, 'dup', spec('second'));
    await put(first, 'shadow', '{not json');
    await put(second, 'shadow', spec('second shadow'));
    await put(second, 'only', spec('only second'));
    const specs = await findKernelSpecs({ env: { JUPYTER_PATH: [first, second].join(':') }, home: '/nonexistent' });
    const byName = new Map(specs.map((s) => [s.name, s.display_name]));
    assert.equal(byName.get('dup'), 'first');
    assert.equal(byName.get('shadow'), 'second shadow');
    assert.equal(byName.get('only'), 'only second');
    // Data dir order, then sorted entries, as before.
    assert.deepEqual(specs.slice(0, 3).map((s) => s.name), ['dup', 'only', 'shadow']);
  });

  test('unknown kernel names list what exists', async () => {
    await assert.rejects(getKernelSpec('no-such-kernel'), (e: Error) => e instanceof NoSuchKernelError && /available kernels: .*python3/.test(e.message));
  });
});

describe('kernel start failures', () => {
  async function specDir(argv: string[]) {
    const dir = await tempDir();
    await mkdir(join(dir, 'kernels', 'fake'), { recursive: true });
    await writeFile(join(dir, 'kernels', 'fake', 'kernel.json'), JSON.stringify({ argv, display_name: 'Fake', language: 'python' }));
    return getKernelSpec('fake', { env: { JUPYTER_PATH: dir }, home: '/nonexistent' });
  }

  test('a kernel that never answers hits the start timeout with a clear error', async () => {
    const spec = await specDir(['/bin/sleep', '30']);
    const t0 = Date.now();
    await assert.rejects(KernelClient.launch(spec, { startTimeoutMs: 1000 }), (e: Error) => e instanceof KernelStartError && /did not become ready within 1\.0 s/.test(e.message));
    assert.ok(Date.now() - t0 < 5000);
  });

  test('a kernel whose iopub lags behind its shell replies still becomes ready (loaded ipykernel)', async () => {
    const script = join(import.meta.dirname, '..', 'fixtures', 'kernels', 'late-iopub-kernel.mjs');
    const spec = await specDir([process.execPath, script, '{connection_file}']);
    const k = await KernelClient.launch(spec, { startTimeoutMs: 15_000 });
    try {
      assert.equal(k.info?.implementation, 'fake');
    } finally {
      await k.shutdown({ graceMs: 200 });
    }
  });

  test('a kernel that is alive but silent gets one fresh start within the same budget', async () => {
    const dir = await tempDir();
    const marker = join(dir, 'first-start-done');
    const fake = join(import.meta.dirname, '..', 'fixtures', 'kernels', 'late-iopub-kernel.mjs');
    // First start: stays silent. Second start: a working (fake) kernel.
    const spec = await specDir(['/bin/sh', '-c', `if [ -e '${marker}' ]; then exec '${process.execPath}' '${fake}' "$0"; else touch '${marker}'; exec sleep 60; fi`, '{connection_file}']);
    const t0 = Date.now();
    const k = await KernelClient.launch(spec, { startTimeoutMs: 30_000 });
    try {
      assert.equal(k.info?.implementation, 'fake');
      const took = Date.now() - t0;
      assert.ok(took >= 9_000 && took < 30_000, `took ${took} ms`);
    } finally {
      await k.shutdown({ graceMs: 200 });
    }
  });

  test('a kernel that exits at once is reported with its stderr', async () => {
    const spec = await specDir(['/bin/sh', '-c', 'echo "no such module: ipykernel_fake" >&2; exit 3', '{connection_file}']);
    await assert.rejects(KernelClient.launch(spec, { startTimeoutMs: 10_000 }), (e: Error) => e instanceof KernelStartError && /exited during start-up/.test(e.message) && /no such module/.test(e.message));
  });

  test('a kernel whose program does not exist fails to start, not hangs', async () => {
    const spec = await specDir(['/nonexistent/kernel-binary', '{connection_file}']);
    await assert.rejects(KernelClient.launch(spec, { startTimeoutMs: 10_000 }), KernelStartError);
  });
});

describe('wire codec', () => {
  test('signs, verifies and rejects tampered messages', () => {
    const c = new WireCodec('secret');
    const frames = c.encode(c.header('execute_request'), { code: '1' });
    const msg = c.decode(frames, 'shell');
    assert.equal(msg?.header.msg_type, 'execute_request');
    const tampered = [...frames];
    tampered[5] = Buffer.from(JSON.stringify({ code: 'evil' }));
    assert.equal(c.decode(tampered, 'shell'), null);
    assert.equal(new WireCodec('other').decode(frames, 'shell'), null);
  });
});

describe('KernelClient with a real ipykernel', () => {
  const clients: KernelClient[] = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.shutdown()));
  });

  test('executes, streams iopub in order, and reports language_info', async () => {
    const k = await KernelClient.launch(await getKernelSpec('python3'));
    clients.push(k);
    assert.equal(k.info?.language_info.name, 'python');
    const seen: Message[] = [];
    const reply = await k.execute('print("hi")\n6*7', { onIopub: (m) => seen.push(m), timeoutMs: 10_000 });
    assert.equal(reply.status, 'ok');
    const types = seen.map((m) => m.header.msg_type);
    assert.deepEqual(types, ['status', 'execute_input', 'stream', 'execute_result', 'status']);
  });

  test('refuses stdin: input() raises instead of hanging', async () => {
    const k = clients[0]!;
    // stopOnError false: ipykernel would otherwise abort an execute_request that reaches it just after
    // this error (its abort window closes on the next loop turn), such as the next test's.
    const reply = await k.execute('input("name? ")', { timeoutMs: 10_000, stopOnError: false });
    assert.equal(reply.status, 'error');
    assert.match(reply.ename ?? '', /StdinNotImplementedError/);
  });

  test('interrupt stops a sleeping cell and the kernel stays alive', async () => {
    const k = clients[0]!;
    // ipykernel ignores SIGINT until the cell is executing: interrupt once the cell's own code printed (bounded).
    let started!: () => void;
    const executing = new Promise<void>((r) => (started = r));
    const p = k.execute("import time; print('sleeping', flush=True); time.sleep(60)", {
      timeoutMs: 20_000,
      stopOnError: false,
      onIopub: (m) => m.header.msg_type === 'stream' && (m.content as { text: string }).text.includes('sleeping') && started(),
    });
    assert.equal(await Promise.race([executing.then(() => 'printed'), p.then(() => 'ended', () => 'failed')]), 'printed', 'the cell ended before it was interrupted');
    const t0 = Date.now();
    await k.interrupt();
    const reply = await p;
    assert.equal(reply.status, 'error');
    assert.equal(reply.ename, 'KeyboardInterrupt');
    assert.ok(Date.now() - t0 < 3000);
    assert.equal((await k.execute('1+1', { timeoutMs: 10_000 })).status, 'ok');
  });

  test('a timed-out or aborted execute rejects at once; its late reply answers no later request', async () => {
    const k = clients[0]!;
    const t0 = Date.now();
    await assert.rejects(k.execute('import time; time.sleep(1.5); "late 1"', { timeoutMs: 100 }), (e: Error) => e instanceof TimeoutError && /execute_request timed out after 100 ms/.test(e.message));
    assert.ok(Date.now() - t0 < 1400, `the timeout waited for the cell: ${Date.now() - t0} ms`);
    const ac = new AbortController();
    const aborted = k.execute('time.sleep(0.5); "late 2"', { signal: ac.signal, timeoutMs: 20_000, onIopub: (m) => m.header.msg_type === 'execute_input' && ac.abort() });
    await assert.rejects(aborted, (e: Error) => e instanceof AbortedError && /execute_request aborted/.test(e.message));
    // The kernel still runs both cells in order; the next request gets its own reply and outputs, not theirs.
    const results: unknown[] = [];
    const reply = await k.execute('"mine"', { timeoutMs: 20_000, onIopub: (m) => m.header.msg_type === 'execute_result' && results.push((m.content as { data: Record<string, unknown> }).data['text/plain']) });
    assert.equal(reply.status, 'ok');
    assert.deepEqual(results, ["'mine'"]);
  });

  test('a kernel that dies mid-cell is reported within two seconds, never a hang', async () => {
    const k = await KernelClient.launch(await getKernelSpec('python3'));
    clients.push(k);
    const t0 = Date.now();
    await assert.rejects(k.execute('import os; os._exit(1)', { timeoutMs: 30_000 }), DeadKernelError);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    assert.equal(k.alive, false);
  });

  test('shutdown ends the whole process group', async () => {
    const k = await KernelClient.launch(await getKernelSpec('python3'));
    const pid = k.pid!;
    let childPid = 0;
    await k.execute('import subprocess; p = subprocess.Popen(["sleep", "300"]); print(p.pid)', {
      timeoutMs: 10_000,
      onIopub: (m) => {
        if (m.header.msg_type === 'stream') childPid = Number(String((m.content as { text: string }).text).trim());
      },
    });
    await k.execute('pass', { timeoutMs: 5000 });
    await k.shutdown();
    assert.equal(processAlive(pid), false);
    if (childPid) assert.ok(await waitFor(() => !processAlive(childPid), 3000), 'child of the kernel survived');
  });
});

describe('KernelClient with a real IRkernel', () => {
  test('executes R and interrupts by signal', async () => {
    const k = await KernelClient.launch(await getKernelSpec('ir'));
    try {
      assert.equal(k.info?.language_info.name, 'R');
      const outs: string[] = [];
      const r = await k.execute('cat(1+1)', { timeoutMs: 20_000, onIopub: (m) => m.header.msg_type === 'stream' && outs.push((m.content as { text: string }).text) });
      assert.equal(r.status, 'ok');
      assert.equal(outs.join(''), '2');
      let started!: () => void;
      const executing = new Promise<void>((res) => (started = res));
      // The cell's first line printed: R runs the sleep now (IRkernel sends a line's output when it ends).
      const p = k.execute('cat("sleeping\\n")\nSys.sleep(60)', {
        timeoutMs: 20_000,
        onIopub: (m) => m.header.msg_type === 'stream' && (m.content as { text: string }).text.includes('sleeping') && started(),
      });
      assert.equal(await Promise.race([executing.then(() => 'printed'), p.then(() => 'ended', () => 'failed')]), 'printed', 'the cell ended before it was interrupted');
      await k.interrupt();
      const reply = await p;
      // IRkernel answers an interrupted cell with status 'abort' or 'error'.
      assert.notEqual(reply.status, 'ok');
    } finally {
      await k.shutdown();
    }
  });
});

describe('KernelPool', () => {
  test('hands out warm kernels once and refills in the background', async () => {
    const pool = new KernelPool({ sizes: { python3: 1 }, preload: { python3: 'warm_marker = 41' } });
    pool.start();
    // Kernels handed out are the test's to stop, on every path (a failed assertion must not leave one running).
    const taken: { shutdown(): Promise<unknown> }[] = [];
    try {
      assert.ok(await pool.waitFull(30_000));
      assert.equal(pool.stats().python3?.idle, 1);
      // Taken from the idle ones, not launched (no timing here: the machine's load would decide it); the
      // preload's marker below also shows it is the warm kernel.
      const k = await pool.acquire('python3');
      taken.push(k);
      assert.equal(pool.stats().python3?.idle, 0, 'the idle warm kernel was handed out');
      const outs: string[] = [];
      const reply = await k.execute('print(warm_marker + 1)', { timeoutMs: 5000, onIopub: (m) => m.header.msg_type === 'stream' && outs.push((m.content as { text: string }).text) });
      assert.equal(outs.join('').trim(), '42');
      // The pool's warm-up and preload requests left no trace a notebook could see: first count, empty history.
      assert.equal(reply.status === 'ok' && reply.execution_count, 1);
      outs.length = 0;
      await k.execute('print(len(In), len(Out), repr(_))', { timeoutMs: 5000, onIopub: (m) => m.header.msg_type === 'stream' && outs.push((m.content as { text: string }).text) });
      assert.equal(outs.join('').trim(), "3 0 ''");
      assert.ok(await pool.waitFull(30_000), 'pool refilled');
      const k2 = await pool.acquire('python3');
      taken.push(k2);
      assert.notEqual(k2.id, k.id);
    } finally {
      await Promise.all(taken.map((t) => t.shutdown()));
      await pool.close();
    }
  });
});
