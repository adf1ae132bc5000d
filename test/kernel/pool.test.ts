/**
 * KernelPool's own rules, with a fake launcher (the real kernels are in
 * kernel-client.test.ts and fork-server-lifecycle.test.ts): the warm-up request
 * and when a refill starts.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import type { ExecuteOptions } from '../../src/kernel/execution-kernel.js';
import type { KernelLauncher, PoolableKernel } from '../../src/kernel/pool-launcher.js';
import { KernelPool } from '../../src/kernel/pool.js';
import { DeadKernelError } from '../../src/errors.js';

let nextId = 0;

class FakeKernel extends EventEmitter implements PoolableKernel {
  readonly id = `fake-${++nextId}`;
  readonly pid = undefined;
  readonly cwd = undefined;
  readonly info = null;
  readonly spec: { name: string; language: string };
  readonly requests: Array<{ code: string; opts: ExecuteOptions }> = [];
  private dead = false;
  constructor(
    readonly language: string,
    private readonly failExecute = false,
  ) {
    super();
    this.spec = { name: 'k', language };
  }
  get alive(): boolean {
    return !this.dead;
  }
  async execute(code: string, opts: ExecuteOptions = {}) {
    this.requests.push({ code, opts });
    if (this.failExecute) throw new Error('no answer');
    return { status: 'ok' as const, execution_count: 0, user_expressions: {} };
  }
  async interrupt(): Promise<void> {}
  async kill(): Promise<void> {
    this.die();
  }
  async shutdown(): Promise<void> {
    this.die();
  }
  stderrSummary(): string {
    return '';
  }
  onceDead(listener: (err: DeadKernelError) => void): void {
    if (this.dead) listener(new DeadKernelError('dead'));
    else this.once('dead', listener);
  }
  die(): void {
    if (this.dead) return;
    this.dead = true;
    this.emit('dead', new DeadKernelError('dead'));
  }
}

function fakeLauncher(language: string, opts: { failExecute?: boolean } = {}) {
  const started: FakeKernel[] = [];
  const launcher: KernelLauncher<FakeKernel> = {
    async startWarm() {
      const k = new FakeKernel(language, opts.failExecute);
      started.push(k);
      return { kernel: k, preloaded: false };
    },
    async start() {
      const k = new FakeKernel(language, opts.failExecute);
      started.push(k);
      return k;
    },
  };
  return { launcher, started };
}

/** Polls `cond` until it holds or `ms` passes. */
async function eventually(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return cond();
}

describe('KernelPool with a fake launcher', () => {
  test('a warm Python kernel gets one silent warm-up request before it joins the pool; other languages none', async () => {
    for (const [language, expected] of [['python', 1], ['R', 0]] as const) {
      const { launcher, started } = fakeLauncher(language);
      const pool = new KernelPool<FakeKernel>({ sizes: { k: 1 }, launcher });
      pool.start();
      try {
        assert.ok(await pool.waitFull(5000));
        assert.equal(started[0]!.requests.length, expected, language);
        for (const r of started[0]!.requests) {
          assert.equal(r.opts.silent, true, 'silent: no output, no execution count');
          assert.equal(r.opts.storeHistory, false, 'nothing in the history');
        }
      } finally {
        await pool.close();
      }
    }
  });

  test('a kernel whose warm-up fails still joins the pool', async () => {
    const { launcher, started } = fakeLauncher('python', { failExecute: true });
    const pool = new KernelPool<FakeKernel>({ sizes: { k: 1 }, launcher });
    pool.start();
    try {
      assert.ok(await pool.waitFull(5000));
      assert.equal((await pool.acquire('k')).id, started[0]!.id);
    } finally {
      await pool.close();
    }
  });

  test('with another kernel idle, the refill waits until the taken kernel is given back; the last idle one refills at once', async () => {
    const { launcher, started } = fakeLauncher('python');
    const pool = new KernelPool<FakeKernel>({ sizes: { k: 2 }, launcher, refillDeferMs: 60_000 });
    pool.start();
    try {
      assert.ok(await pool.waitFull(5000));
      assert.equal(started.length, 2);
      const a = await pool.acquire('k');
      // One idle kernel still covers the next job: no start competes with this job.
      await new Promise((r) => setImmediate(r));
      assert.equal(started.length, 2, 'no refill while the job holds its kernel');
      a.die(); // the job ended and its kernel was shut down
      assert.ok(await eventually(() => started.length === 3), 'refilled once the kernel was given back');
      assert.ok(await pool.waitFull(5000));
      const b = await pool.acquire('k');
      const c = await pool.acquire('k');
      assert.ok(await eventually(() => started.length >= 4), 'taking the last idle kernel refills at once');
      b.die();
      c.die();
      assert.ok(await pool.waitFull(5000));
      assert.equal(started.length, 5, 'never more than the target');
    } finally {
      await pool.close();
    }
  });

  test('a job that keeps its kernel past refillDeferMs gets the pool refilled anyway', async () => {
    const { launcher, started } = fakeLauncher('python');
    const pool = new KernelPool<FakeKernel>({ sizes: { k: 2 }, launcher, refillDeferMs: 20 });
    pool.start();
    try {
      assert.ok(await pool.waitFull(5000));
      const a = await pool.acquire('k');
      assert.ok(await eventually(() => started.length === 3), 'refilled after the bound');
      assert.ok(a.alive, 'while the job still holds its kernel');
      a.die();
      assert.ok(await pool.waitFull(5000));
      assert.equal(started.length, 3, 'the kernel given back later starts nothing more');
    } finally {
      await pool.close();
    }
  });
});
