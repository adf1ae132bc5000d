/**
 * The fork server's spare child (issue 19, python/hubmill_spare.py):
 * after a quiet moment the server forks a child that prepares what no request decides
 * and waits; the next request is served by it. It must hold nothing of the server's
 * (descriptors, session) nor of any job, take every part of its request as a child
 * forked for that request would, and go when its server goes.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { describe, test } from 'node:test';
import { processAlive, waitFor } from '../helpers/notebooks.js';
import { fdTargets, forkedKernel, forkFixture, procStat, runJson } from './fork-helpers.js';

const WHICH_PATH = "from ipykernel.kernelapp import IPKernelApp; import json; print(json.dumps(getattr(IPKernelApp.instance(), '_hubmill_zygote', False)))";
const LOOK = "import json, os, random; print(json.dumps({'cwd': os.getcwd(), 'env': os.environ.get('HUBMILL_SPARE_TEST'), 'r': random.random()}))";

/** Live (not zombie) children of `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc').flatMap((name) => {
    if (!/^\d+$/.test(name)) return [];
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      return Number(f[1]) === pid && f[0] !== 'Z' ? [Number(name)] : [];
    } catch {
      return [];
    }
  });
}

/** The one child of the server that is not a live kernel, once it waits on its pipe (prepared): the spare. */
async function spareOf(serverPid: number, kernels: number[] = []): Promise<number> {
  let spare: number[] = [];
  const waiting = (pid: number) => {
    try {
      const wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8');
      // A kernel that hides wait channels answers "0": then asleep in its own session will do.
      if (wchan === '0') return procStat(pid).session === pid && procStat(pid).state === 'S';
      return /pipe/.test(wchan);
    } catch {
      return false;
    }
  };
  const found = await waitFor(() => (spare = childrenOf(serverPid).filter((p) => !kernels.includes(p))).length === 1 && waiting(spare[0]!), 20_000);
  assert.ok(found, `one spare child of the server, waiting on its pipe; children: ${childrenOf(serverPid).join(', ')}`);
  return spare[0]!;
}

describe('fork server: the spare child', () => {
  const fx = forkFixture('hubmill-spare-');
  const servers = fx.servers;

  test('a spare waits with none of the server\'s descriptors, in its own session; the next request is served by it, as asked', async () => {
    const s = servers();
    const server = (await s.server(fx.spec))!;
    assert.equal(server.hello?.spare, true);
    const spare = await spareOf(server.pid!);
    const st = procStat(spare);
    assert.equal(st.pgrp, spare, 'its own process group');
    assert.equal(st.session, spare, 'its own session');
    // Its stdin and stdout are /dev/null, its stderr still the server's until a request names its own, and the
    // only other descriptor is the pipe its request comes through: not the server's channel to hubmill (fd 3).
    const fds = fdTargets(spare);
    const serverErr = readlinkSync(`/proc/${server.pid}/fd/2`);
    const channel = readlinkSync(`/proc/${server.pid}/fd/3`);
    assert.equal(readlinkSync(`/proc/${spare}/fd/0`), '/dev/null');
    assert.equal(readlinkSync(`/proc/${spare}/fd/1`), '/dev/null');
    assert.ok(!fds.includes(channel), `the server's channel ${channel} is not in the spare: ${fds.join(', ')}`);
    const pipes = fds.filter((t) => t.startsWith('pipe:'));
    assert.equal(pipes.length, 1, `one pipe (its request's): ${fds.join(', ')}`);
    for (const t of fds) assert.ok(t === '/dev/null' || t === serverErr || t === pipes[0], `unexpected descriptor in the spare: ${t} (${fds.join(', ')})`);

    const a = await forkedKernel(s, fx.spec, { cwd: fx.dir });
    let b: Awaited<ReturnType<typeof forkedKernel>> | undefined;
    try {
      assert.equal(a.pid, spare, 'the request was served by the spare');
      const lookA = await runJson<{ cwd: string; env: string | null; r: number }>(a, LOOK);
      assert.equal(lookA.cwd, fx.dir);
      assert.equal(lookA.env, null);
      assert.equal(await runJson<boolean>(a, WHICH_PATH), server.hello?.zygote, 'a spare takes the zygote when the request fits it');
      // A request that does not fit the zygote (its own environment) is served by the next spare too, with a fresh IPKernelApp.
      const next = await spareOf(server.pid!, [a.pid!]);
      assert.notEqual(next, spare);
      b = await forkedKernel(s, fx.spec, { cwd: fx.dir, env: { HUBMILL_SPARE_TEST: 'b' } });
      assert.equal(b.pid, next);
      const lookB = await runJson<{ cwd: string; env: string | null; r: number }>(b, LOOK);
      assert.equal(lookB.env, 'b');
      assert.equal(lookB.cwd, fx.dir);
      assert.notEqual(lookB.r, lookA.r, 'each spare seeds its own random numbers');
      assert.equal(await runJson<boolean>(b, WHICH_PATH), false, 'a job environment differs from the server: no zygote');
    } finally {
      await Promise.all([a.shutdown(), b?.shutdown()]);
    }
  });

  test('spare: false keeps no child between requests', async () => {
    const s = servers({ spare: false });
    const server = (await s.server(fx.spec))!;
    assert.equal(server.hello?.spare, false);
    const k = await forkedKernel(s, fx.spec, { cwd: fx.dir });
    await k.shutdown();
    assert.ok(await waitFor(() => childrenOf(server.pid!).length === 0, 10_000), `children: ${childrenOf(server.pid!).join(', ')}`);
  });

  test('a spare goes when its server is killed', async () => {
    const s = servers();
    const server = (await s.server(fx.spec))!;
    const spare = await spareOf(server.pid!);
    process.kill(server.pid!, 'SIGKILL');
    assert.ok(await waitFor(() => !processAlive(spare), 10_000), 'the spare exited once its request pipe closed');
  });
});
