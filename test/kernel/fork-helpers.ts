/** Shared by the fork-server tests: start forked kernels and read what they print. */
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync, readdirSync } from 'node:fs';
import { after, before } from 'node:test';
import { KernelClient, type KernelClientLaunchOptions } from '../../src/kernel/kernel-client.js';
import { ForkServers } from '../../src/kernel/fork-servers.js';
import { getKernelSpec, type KernelSpec } from '../../src/kernel/kernelspec-discovery.js';
import { tempDir } from '../helpers/notebooks.js';

/**
 * For a describe() block: `spec` (python3) and `dir` (a temp folder), set by its before hook, and
 * `servers(opts)`, fork servers that its after hook closes.
 */
export function forkFixture(dirPrefix: string): { spec: KernelSpec; dir: string; servers: (opts?: ConstructorParameters<typeof ForkServers>[0]) => ForkServers } {
  const opened: ForkServers[] = [];
  const fx = {
    spec: undefined as unknown as KernelSpec,
    dir: '',
    servers: (opts: ConstructorParameters<typeof ForkServers>[0] = {}) => {
      const s = new ForkServers(opts);
      opened.push(s);
      return s;
    },
  };
  before(async () => {
    fx.spec = await getKernelSpec('python3');
    fx.dir = await tempDir(dirPrefix);
  });
  after(async () => {
    await Promise.all(opened.map((s) => s.close()));
  });
  return fx;
}

/** Starts a kernel through the fork servers and fails the test unless it really was forked. */
export async function forkedKernel(servers: ForkServers, spec: KernelSpec, opts: KernelClientLaunchOptions = {}): Promise<KernelClient> {
  let forked = false;
  const k = await KernelClient.launch(spec, {
    startTimeoutMs: 60_000,
    ...opts,
    startProcess: async (s, o) => {
      const started = await servers.startProcess(s, o);
      forked = started.forked;
      return started;
    },
  });
  if (!forked) {
    await k.shutdown();
    assert.fail('the kernel was launched normally, not forked');
  }
  return k;
}

/** Runs code; returns its stdout, or throws with the traceback when the cell failed. */
export async function run(k: KernelClient, code: string, timeoutMs = 30_000): Promise<string> {
  let out = '';
  const reply = await k.execute(code, {
    timeoutMs,
    onIopub: (m) => {
      if (m.header.msg_type === 'stream') out += (m.content as { text: string }).text;
    },
  });
  if (reply.status === 'error') throw new Error(`${reply.ename}: ${reply.evalue}`);
  if (reply.status !== 'ok') throw new Error(`execute_reply status ${reply.status}`);
  return out;
}

/** Runs code that prints one JSON value, and parses it. */
export async function runJson<T = Record<string, unknown>>(k: KernelClient, code: string): Promise<T> {
  const out = await run(k, code);
  return JSON.parse(out.trim().split('\n').pop()!) as T;
}

/** Fields of /proc/PID/stat after the command name: state, ppid, pgrp, session. */
export function procStat(pid: number): { state: string; ppid: number; pgrp: number; session: number } {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]) };
}

/** What a process's file descriptors point at (pipe:[…], socket:[…], paths). */
export function fdTargets(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}
