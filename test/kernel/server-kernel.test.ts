// ServerKernel's waits against a real Jupyter Server: the same error vocabulary as a local KernelClient
// (TimeoutError, AbortedError, DeadKernelError) from the shared layer in src/kernel/pending-requests.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AbortedError, DeadKernelError, TimeoutError } from '../../src/errors.js';
import { ServerKernel } from '../../src/kernel/server-kernel.js';
import { hasJupyterServer, startJupyterServer, type JupyterServer } from '../helpers/jupyter-server.js';

describe('ServerKernel waits (a real Jupyter Server)', { skip: !hasJupyterServer && 'no jupyter_server', timeout: 120_000 }, () => {
  let server: JupyterServer;
  const kernels: ServerKernel[] = [];
  const start = async () => {
    const k = await ServerKernel.start({ baseUrl: server.url, token: server.token, kernelName: 'python3', startTimeoutMs: 60_000, probeIntervalMs: 500 });
    kernels.push(k);
    return k;
  };

  before(async () => {
    server = await startJupyterServer();
  });
  after(async () => {
    await Promise.all(kernels.map((k) => k.shutdown().catch(() => undefined)));
    await server?.stop();
  });

  test('a timed-out or aborted execute rejects at once; its late reply answers no later request', async () => {
    const k = await start();
    const t0 = Date.now();
    await assert.rejects(k.execute('import time; time.sleep(1.5); "late 1"', { timeoutMs: 100 }), (e: Error) => e instanceof TimeoutError && /execute_request timed out after 100 ms/.test(e.message));
    assert.ok(Date.now() - t0 < 1400, `the timeout waited for the cell: ${Date.now() - t0} ms`);
    const ac = new AbortController();
    const aborted = k.execute('time.sleep(0.5); "late 2"', { signal: ac.signal, timeoutMs: 20_000, onIopub: (m) => m.header.msg_type === 'execute_input' && ac.abort() });
    await assert.rejects(aborted, (e: Error) => e instanceof AbortedError && /execute_request aborted/.test(e.message));
    const results: unknown[] = [];
    const reply = await k.execute('"mine"', { timeoutMs: 20_000, onIopub: (m) => m.header.msg_type === 'execute_result' && results.push((m.content as { data: Record<string, unknown> }).data['text/plain']) });
    assert.equal(reply.status, 'ok');
    assert.deepEqual(results, ["'mine'"]);
    assert.equal(k.alive, true);
  });

  test('the kernel deleted in the server rejects the running execute and every later one with DeadKernelError', async () => {
    const k = await start();
    let started!: () => void;
    const executing = new Promise<void>((r) => (started = r));
    const running = k.execute('import time; time.sleep(60)', { timeoutMs: 60_000, onIopub: (m) => m.header.msg_type === 'execute_input' && started() });
    await executing;
    const t0 = Date.now();
    const del = await server.api('DELETE', `/api/kernels/${k.id}`);
    assert.equal(del.status, 204);
    await assert.rejects(running, DeadKernelError);
    assert.ok(Date.now() - t0 < 15_000, `death noticed after ${Date.now() - t0} ms`);
    assert.equal(k.alive, false);
    await assert.rejects(k.execute('1+1'), DeadKernelError);
  });
});
