/**
 * A forked kernel must never see anything of an earlier job, nor of the server
 * (issue 11). Each test runs a job that changes something, then a second job
 * from the same server that looks for it; with a reused or badly reset process
 * the second job would find it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ForkServers } from '../../src/kernel/fork-servers.js';
import { getKernelSpec, type KernelSpec } from '../../src/kernel/kernelspec-discovery.js';
import { KernelClient } from '../../src/kernel/kernel-client.js';
import { lookupRunAs } from '../../src/users/run-as.js';
import { tempDir } from '../helpers/notebooks.js';
import { fdTargets, forkedKernel, procStat, run, runJson } from './fork-helpers.js';

describe('fork server isolation', () => {
  let servers: ForkServers;
  let spec: KernelSpec;
  let dir: string;

  before(async () => {
    spec = await getKernelSpec('python3');
    // numpy in the preload puts numpy.random's state in the server, which every child inherits.
    servers = new ForkServers({ preload: { python3: 'import numpy' } });
    dir = await tempDir('hubmill-fork-');
  });
  after(async () => {
    await servers.close();
  });

  test('a child is a real ipykernel in its own process group, forked from a server that had one thread', async () => {
    const k = await forkedKernel(servers, spec, { cwd: dir });
    try {
      const server = await servers.server(spec);
      assert.equal(server?.hello?.threads, 1, 'the server must not start threads before forking');
      const st = procStat(k.pid!);
      assert.equal(st.ppid, server!.pid, 'child of the fork server');
      assert.equal(st.pgrp, k.pid, 'its own process group');
      assert.equal(k.info?.implementation, 'ipython');
      const r = await runJson(k, "import json, os, sys; print(json.dumps({'pid': os.getpid(), 'cwd': os.getcwd(), 'preloaded': 'numpy' in dir()}))");
      assert.equal(r.pid, k.pid);
      assert.equal(r.cwd, dir);
      assert.equal(r.preloaded, true, 'the preload\'s names are in the namespace, as in a warm kernel');
    } finally {
      await k.shutdown();
    }
  });

  test('module attributes, globals, imported modules, sys.path, cwd, environment and open files stay with their job', async () => {
    const other = await tempDir('hubmill-fork-other-');
    const a = await forkedKernel(servers, spec, { cwd: dir });
    const leakFile = join(dir, 'leak.txt');
    try {
      await run(
        a,
        [
          "import json, os, sys\nassert 'tabnanny' not in sys.modules\nimport tabnanny",
          'json.hubmill_leak = 1',
          'leaked_global = 42',
          "sys.path.append('/hubmill-leak')",
          `os.chdir(${JSON.stringify(other)})`,
          "os.environ['HUBMILL_LEAK'] = '1'",
          `leak = open(${JSON.stringify(leakFile)}, 'w')`,
        ].join('\n'),
      );
      // Job A is still alive while job B starts and looks around.
      const b = await forkedKernel(servers, spec, { cwd: dir });
      try {
        const seen = await runJson(
          b,
          [
            'import json, os, sys',
            'print(json.dumps({',
            "  'attr': hasattr(json, 'hubmill_leak'),",
            "  'global': 'leaked_global' in globals(),",
            "  'module': 'tabnanny' in sys.modules,",
            "  'path': '/hubmill-leak' in sys.path,",
            "  'cwd': os.getcwd(),",
            "  'env': 'HUBMILL_LEAK' in os.environ,",
            "  'server_env': sorted(k for k in os.environ if k.startswith('HUBMILL_FORKSERVER')),",
            "}))",
          ].join('\n'),
        );
        assert.deepEqual(seen, { attr: false, global: false, module: false, path: false, cwd: dir, env: false, server_env: [] });
        const bFds = fdTargets(b.pid!);
        assert.ok(!bFds.includes(leakFile), `job B must not hold job A's file: ${bFds.join(' ')}`);
        // Nothing of the server's own descriptors (its socket to hubmill, its wake-up pipe, its stderr pipe).
        const server = await servers.server(spec);
        const serverChannels = fdTargets(server!.pid!).filter((t) => /^(socket|pipe):/.test(t));
        assert.ok(serverChannels.length >= 3, serverChannels.join(' '));
        assert.deepEqual(bFds.filter((t) => serverChannels.includes(t)), [], 'the server\'s descriptors leaked into a kernel');
      } finally {
        await b.shutdown();
      }
      assert.ok(fdTargets(a.pid!).includes(leakFile), 'control: job A does hold its file');
    } finally {
      await a.shutdown();
    }
  });

  test('the job\'s environment is applied, and sys.path matches a normally launched kernel', async () => {
    const k = await forkedKernel(servers, spec, { cwd: dir, env: { HUBMILL_JOB_VAR: 'job-b' } });
    const launched = await KernelClient.launch(spec, { cwd: dir, startTimeoutMs: 60_000 });
    try {
      const code = "import json, os, sys; print(json.dumps({'var': os.environ.get('HUBMILL_JOB_VAR'), 'path': sys.path, 'parent': os.environ.get('JPY_PARENT_PID')}))";
      const forked = await runJson<{ var: string; path: string[]; parent: string }>(k, code);
      const normal = await runJson<{ var: string; path: string[] }>(launched, code);
      assert.equal(forked.var, 'job-b');
      assert.equal(normal.var, null);
      assert.deepEqual(forked.path, normal.path);
      assert.equal(Number(forked.parent), procStat(k.pid!).ppid);
    } finally {
      await Promise.all([k.shutdown(), launched.shutdown()]);
    }
  });

  test('two jobs never draw the same random numbers (random and numpy.random are reseeded)', async () => {
    const code = "import json, random, numpy; print(json.dumps([random.random(), numpy.random.rand()]))";
    const [a, b] = await Promise.all([forkedKernel(servers, spec, { cwd: dir }), forkedKernel(servers, spec, { cwd: dir })]);
    try {
      const [ra, rb] = await Promise.all([runJson<number[]>(a, code), runJson<number[]>(b, code)]);
      assert.notEqual(ra[0], rb[0], 'random.random()');
      assert.notEqual(ra[1], rb[1], 'numpy.random.rand()');
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
    }
  });

  const isRoot = process.getuid?.() === 0;
  test('a job run as another user cannot read what only root or user B can read', { skip: isRoot ? false : 'needs root (the service drops to the job\'s user only when it runs as root)' }, async () => {
    const nobody = await lookupRunAs('nobody');
    assert.ok(nobody, 'the nobody account exists');
    const home = await tempDir('hubmill-fork-home-');
    await chmod(home, 0o755);
    const rootOnly = join(home, 'root-only.txt');
    const userB = join(home, 'user-b.txt');
    await writeFile(rootOnly, 'secret', { mode: 0o600 });
    await writeFile(userB, 'secret of b', { mode: 0o600 });
    await chown(userB, 1, 1); // daemon: some other user
    const work = join(home, 'work');
    await mkdir(work);
    await chown(work, nobody.uid, nobody.gid);
    const k = await forkedKernel(servers, spec, { cwd: work, runAs: nobody });
    try {
      const r = await runJson(
        k,
        [
          'import json, os',
          'def can_read(p):',
          '    try:',
          '        open(p).read()',
          '        return True',
          '    except PermissionError:',
          '        return False',
          `print(json.dumps({'uid': os.getuid(), 'euid': os.geteuid(), 'gid': os.getgid(), 'groups': os.getgroups(), 'home': os.environ['HOME'],`,
          `  'root_only': can_read(${JSON.stringify(rootOnly)}), 'user_b': can_read(${JSON.stringify(userB)}), 'cwd': os.getcwd()}))`,
        ].join('\n'),
      );
      assert.equal(r.uid, nobody.uid);
      assert.equal(r.euid, nobody.uid);
      assert.equal(r.gid, nobody.gid);
      assert.ok(!(r.groups as number[]).includes(0), `no root group left: ${JSON.stringify(r.groups)}`);
      assert.equal(r.home, nobody.home);
      assert.equal(r.cwd, work);
      assert.equal(r.root_only, false);
      assert.equal(r.user_b, false);
    } finally {
      await k.shutdown();
    }
  });
});
