/**
 * KernelPool's own rules, with a fake launcher (the real kernels are in
 * kernel-client.test.ts and fork-server-lifecycle.test.ts): the warm-up request
 * and when a refill starts, on a fake clock (pool-sizing.test.ts has the sizing rule itself).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ExecuteOptions } from '../../src/kernel/execution-kernel.js';
import type { KernelLauncher, PoolableKernel } from '../../src/kernel/pool-launcher.js';
import { KernelPool } from '../../src/kernel/pool.js';
import { DeadKernelError } from '../../src/errors.js';

let nextId = 0;

class FakeKernel extends EventEmitter implements PoolableKernel {
  readonly id = `fake-${++nextId}`;
  readonly pid = undefined;
  readonly info = null;
  readonly spec: { name: string; language: string };
  readonly requests: Array<{ code: string; opts: ExecuteOptions }> = [];
  private dead = false;
  constructor(
    readonly language: string,
    private readonly failExecute = false,
    readonly cwd: string | undefined = undefined,
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
    async startWarm(_name, o) {
      const k = new FakeKernel(language, opts.failExecute, o.cwd);
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

const flush = () => new Promise<void>((r) => setImmediate(r));

/** A launcher whose warm starts take `refillMs` of a fake clock; `advance` moves the clock in 10 ms steps. */
function simulatedLauncher(clock: { t: number }, refillMs: number) {
  const started: FakeKernel[] = [];
  const pending: Array<{ at: number; done: () => void }> = [];
  const launcher: KernelLauncher<FakeKernel> = {
    startWarm: () =>
      new Promise((resolve) => {
        const k = new FakeKernel('R');
        started.push(k);
        pending.push({ at: clock.t, done: () => resolve({ kernel: k, preloaded: false }) });
      }),
    async start() {
      throw new Error('the pool launched a kernel of its own');
    },
  };
  const advance = async (ms: number) => {
    const end = clock.t + ms;
    while (clock.t < end) {
      clock.t = Math.min(end, clock.t + 10);
      for (const p of pending.filter((x) => x.at + refillMs <= clock.t)) {
        pending.splice(pending.indexOf(p), 1);
        p.done();
      }
      await flush();
      await flush();
    }
  };
  return { launcher, advance, started };
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

  test("followJobFolders: refills start in the last job's folder while it exists, and a kernel already there goes first", async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'hubmill-pool-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const [a, b] = [join(root, 'a'), join(root, 'b')];
    mkdirSync(a);
    mkdirSync(b);
    const { launcher, started } = fakeLauncher('python');
    const pool = new KernelPool<FakeKernel>({ sizes: { k: 2 }, launcher, cwd: '/srv', followJobFolders: true });
    pool.start();
    try {
      assert.ok(await pool.waitFull(5000));
      assert.deepEqual(started.map((k) => k.cwd), ['/srv', '/srv']);
      const first = await pool.acquire('k', { cwd: a });
      assert.equal(first.cwd, '/srv', 'none in the folder yet: the oldest');
      assert.ok(await pool.waitFull(5000));
      assert.equal(started.at(-1)!.cwd, a, "the refill starts in the job's folder");
      const second = await pool.acquire('k', { cwd: a });
      assert.equal(second.cwd, a, 'the kernel already in the folder, before an older one elsewhere');
      assert.ok(await pool.waitFull(5000));
      await pool.acquire('k', { cwd: b });
      assert.ok(await pool.waitFull(5000));
      assert.equal(started.at(-1)!.cwd, b);
      // A folder removed since its job: the next kernel starts in the pool's own.
      rmSync(b, { recursive: true });
      await pool.acquire('k', { cwd: b });
      assert.ok(await pool.waitFull(5000));
      assert.equal(started.at(-1)!.cwd, '/srv');
    } finally {
      await pool.close();
    }
  });

  test("without followJobFolders, or with preload code, warm kernels always start in the pool's folder", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hubmill-pool-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    for (const extra of [{}, { followJobFolders: true, preload: { K: 'import json' } }]) {
      const { launcher, started } = fakeLauncher('python');
      const pool = new KernelPool<FakeKernel>({ sizes: { k: 1 }, launcher, cwd: '/srv', ...extra });
      pool.start();
      try {
        assert.ok(await pool.waitFull(5000));
        await pool.acquire('k', { cwd: dir });
        assert.ok(await pool.waitFull(5000));
        assert.deepEqual(started.map((k) => k.cwd), ['/srv', '/srv'], JSON.stringify(extra));
      } finally {
        await pool.close();
      }
    }
  });

  test('at 5 jobs/s with a 300 ms refill, a fixed pool of 1 makes jobs wait; the sized pool keeps one idle for every job', async () => {
    const run = async (max: number) => {
      const clock = { t: 0 };
      const { launcher, advance } = simulatedLauncher(clock, 300);
      const pool = new KernelPool<FakeKernel>({ sizes: { k: 1 }, max, launcher, now: () => clock.t });
      pool.start();
      try {
        await advance(1000);
        let waited = 0;
        for (let i = 0; i < 50; i++) {
          await advance(200);
          let got: FakeKernel | null = null;
          void pool.acquire('k').then((k) => (got = k));
          await flush();
          if (got === null) {
            if (i >= 10) waited++;
            while (got === null) await advance(10);
          }
          (got as FakeKernel).die(); // the job ran and gave its kernel back
        }
        return { waited, target: pool.stats().k!.target };
      } finally {
        await pool.close();
      }
    };
    const fixed = await run(1);
    assert.ok(fixed.waited >= 20, `a fixed pool of 1 cannot refill every 200 ms: ${fixed.waited} of 40 jobs waited`);
    assert.equal(fixed.target, 1);
    const sized = await run(8);
    assert.equal(sized.waited, 0, 'after the first 2 s no job waits for a kernel');
    assert.equal(sized.target, 3, 'ceil(5/s × 0.3 s) + 1');
  });

  test('a refill starts as soon as a job takes a kernel (no deferral), and never beyond the target', async () => {
    const clock = { t: 0 };
    const { launcher, advance, started } = simulatedLauncher(clock, 50);
    const pool = new KernelPool<FakeKernel>({ sizes: { k: 2 }, max: 2, launcher, now: () => clock.t });
    pool.start();
    try {
      await advance(100);
      assert.equal(started.length, 2);
      const a = await pool.acquire('k');
      assert.equal(started.length, 3, 'refill started with the acquisition, while the job still holds its kernel');
      assert.ok(a.alive);
      await advance(100);
      assert.deepEqual(pool.stats().k, { idle: 2, starting: 0, target: 2 });
      a.die();
      await advance(100);
      assert.equal(started.length, 3, 'a kernel given back starts nothing more');
    } finally {
      await pool.close();
    }
  });
});
