/**
 * Zygote kernels (issue 19): the fork server builds IPKernelApp up to its sockets
 * and the kernel's shell once, and a child finishes them (python/hubmill_zygote.py).
 * On the installed ipykernel: which path the server takes must agree with its
 * internals check, a zygote kernel must look like a normally launched one, and the
 * guard must send the server back to today's path when the internals differ or the
 * self-check fails. The isolation tests (fork-server-isolation.test.ts) run on
 * whatever path the installed ipykernel takes.
 */
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { before, describe, test } from 'node:test';
import { forkServerScript } from '../../src/kernel/fork-server.js';
import type { KernelSpec } from '../../src/kernel/kernelspec-discovery.js';
import { KernelClient } from '../../src/kernel/kernel-client.js';
import { forkedKernel, forkFixture, runJson } from './fork-helpers.js';

const WHICH_PATH = "from ipykernel.kernelapp import IPKernelApp; import json; print(json.dumps(getattr(IPKernelApp.instance(), '_hubmill_zygote', False)))";

/** What a kernel looks like from inside, minus what is each kernel's own (pids, ids, ports). */
const LOOK = [
  'import json, os, sys',
  'ip = get_ipython()',
  'print(json.dumps({',
  "  'shell': type(ip).__name__, 'parent': type(ip.parent).__name__, 'kernel_is_parent': ip.kernel is ip.parent,",
  "  'names': sorted(k for k in ip.user_ns if not k.startswith('_')), 'hidden': sorted(ip.user_ns_hidden),",
  "  'dh': [str(d) for d in ip.user_ns['_dh']], 'starting_dir': ip.starting_dir, 'cwd': os.getcwd(),",
  "  'in': ip.user_ns['In'], 'in_is_history': ip.user_ns['In'] is ip.history_manager.input_hist_parsed,",
  // PYDEVD_USE_FRAME_EVAL: set by importing debugpy, which a forked kernel's server did before the job's environment replaced its own
  // (on both paths, as before the zygote).
  "  'env': sorted((k, v) for k, v in os.environ.items() if k not in ('JPY_PARENT_PID', 'PYDEVD_USE_FRAME_EVAL')), 'path': sys.path,",
  "  'formatters': sorted(ip.display_formatter.active_types), 'magics': len(ip.magics_manager.lsmagic()['line']),",
  "  'stdout': type(sys.stdout).__name__, 'displayhook': type(sys.displayhook).__name__, 'session_pid': ip.kernel.session.pid == os.getpid(),",
  '}))',
].join('\n');

describe('zygote kernels', () => {
  const fx = forkFixture('hubmill-zygote-');
  const servers = fx.servers;
  let spec: KernelSpec;
  let dir: string;
  before(() => {
    ({ spec, dir } = fx);
  });

  test('the server builds the zygote exactly when the installed ipykernel matches, and a zygote kernel looks like a launched one', async () => {
    const mismatch = execFileSync(spec.argv[0]!, ['-c', 'import sys; sys.path.insert(0, sys.argv[1]); import hubmill_zygote; print(hubmill_zygote.mismatch())', dirname(forkServerScript())], { encoding: 'utf8' }).trim();
    const s = servers();
    const server = await s.server(spec);
    assert.ok(server, 'the fork server started');
    assert.equal(server.hello?.zygote, mismatch === 'None', `internals check: ${mismatch}; server: ${server.hello?.zygote_why}`);
    assert.equal(server.hello?.threads, 1);
    // The pages the self-check child wrote are copied in bulk at each zygote child's start (Linux 5.14+).
    if (server.hello?.zygote) {
      const [major, minor] = execFileSync('uname', ['-r'], { encoding: 'utf8' }).split('.').map(Number);
      if (major! > 5 || (major === 5 && minor! >= 14)) assert.equal(server.hello?.prefault_why, null);
      if (server.hello?.prefault_why === null) assert.ok(server.hello.prefault_pages! > 100, `prefault pages: ${server.hello.prefault_pages}`);
    }
    const k = await forkedKernel(s, spec, { cwd: dir });
    const launched = await KernelClient.launch(spec, { cwd: dir, startTimeoutMs: 60_000 });
    try {
      const [z, l] = await Promise.all([runJson(k, LOOK), runJson(launched, LOOK)]);
      for (const key of Object.keys(l)) assert.deepEqual(z[key], l[key], key);
      assert.equal(await runJson<boolean>(k, WHICH_PATH), server.hello?.zygote, 'the warm kernel took the zygote when there is one');
      assert.deepEqual(z.dh, [dir]);
      assert.equal(z.starting_dir, dir);
      assert.equal(z.session_pid, true);
    } finally {
      await Promise.all([k.shutdown(), launched.shutdown()]);
    }
  });

  test('two zygote kernels have their own session id and key, and a job with its own environment gets a fresh IPKernelApp', async () => {
    const s = servers();
    const [a, b] = await Promise.all([forkedKernel(s, spec, { cwd: dir }), forkedKernel(s, spec, { cwd: dir })]);
    const own = await forkedKernel(s, spec, { cwd: dir, env: { HUBMILL_ZYGOTE_TEST: '1' } });
    try {
      const ids = "import json; k = get_ipython().kernel; print(json.dumps([k.session.session, k.session.key.decode()]))";
      const [ia, ib] = await Promise.all([runJson<string[]>(a, ids), runJson<string[]>(b, ids)]);
      assert.notEqual(ia[0], ib[0], 'session ids');
      assert.notEqual(ia[1], ib[1], 'keys');
      assert.equal(await runJson<boolean>(own, WHICH_PATH), false, 'a job environment differs from the server: no zygote');
      assert.equal(await runJson<string>(own, "import json, os; print(json.dumps(os.environ['HUBMILL_ZYGOTE_TEST']))"), '1');
    } finally {
      await Promise.all([a.shutdown(), b.shutdown(), own.shutdown()]);
    }
  });

  test('an ipykernel whose IPKernelApp.initialize differs: the server says why and its kernels take the ordinary path', async () => {
    const preload = [
      'import ipykernel.kernelapp as _ka',
      '_orig_initialize = _ka.IPKernelApp.initialize',
      'def _initialize(self, argv=None):',
      '    self.init_hubmill_extra_step = True',
      '    return _orig_initialize(self, argv)',
      '_ka.IPKernelApp.initialize = _initialize',
    ].join('\n');
    const s = servers({ preload: { python3: preload } });
    const server = await s.server(spec);
    assert.equal(server?.hello?.zygote, false);
    assert.match(String(server?.hello?.zygote_why), /IPKernelApp\.initialize/);
    const k = await forkedKernel(s, spec, { cwd: dir });
    try {
      assert.equal(await runJson<boolean>(k, WHICH_PATH), false);
      assert.equal(await runJson<boolean>(k, "import json; print(json.dumps(get_ipython().kernel.shell is get_ipython()))"), true);
    } finally {
      await k.shutdown();
    }
  });

  test('a self-check child whose kernel is not wired as expected (one session id for all): the server falls back', async () => {
    const s = servers({ preload: { python3: "import jupyter_client.session as _s\n_s.new_id = lambda: 'one-id-for-all'" } });
    const server = await s.server(spec);
    assert.equal(server?.hello?.zygote, false);
    assert.match(String(server?.hello?.zygote_why), /self-check/);
    const k = await forkedKernel(s, spec, { cwd: dir });
    try {
      assert.equal(await runJson<boolean>(k, WHICH_PATH), false);
    } finally {
      await k.shutdown();
    }
  });

  test('zygote: false turns it off', async () => {
    const server = await servers({ zygote: false }).server(spec);
    assert.equal(server?.hello?.zygote, false);
    assert.match(String(server?.hello?.zygote_why), /turned off/);
    assert.equal(server?.hello?.prefault_pages, 0);
  });
});
