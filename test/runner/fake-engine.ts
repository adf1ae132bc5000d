// A stand-in for executeNotebook driven by the notebook's metadata.fake:
// 'ok' (default), 'fail', 'throw', 'block' (until released or aborted).
import type { RunOptions, RunResult } from '../../src/engine/run-types.js';
import { KernelStartError } from '../../src/errors.js';

export interface FakeCall {
  opts: RunOptions;
  release: () => void;
}

export class FakeEngine {
  calls: FakeCall[] = [];
  active = 0;
  maxActive = 0;
  private waiters: Array<() => void> = [];

  /** Resolves once `n` calls have started. */
  started(n: number): Promise<void> {
    if (this.calls.length >= n) return Promise.resolve();
    return new Promise((r) => {
      const check = () => {
        if (this.calls.length >= n) r();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  execute = async (opts: RunOptions): Promise<RunResult> => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    this.calls.push({ opts, release });
    for (const w of this.waiters.splice(0)) w();
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      return await this.run(opts, released);
    } finally {
      this.active--;
    }
  };

  private async run(opts: RunOptions, released: Promise<void>): Promise<RunResult> {
    const mode = ((opts.notebook.metadata as Record<string, unknown>).fake as string | undefined) ?? 'ok';
    const startedAtMs = Date.now();
    const cellsTotal = opts.notebook.cells.length;
    const base = { notebook: opts.notebook, cellsTotal, startedAtMs, kernelName: opts.kernelName ?? 'python3', warnings: [], kernelClosed: Promise.resolve() };
    opts.onEvent?.({ type: 'run_started', cellsTotal, kernelName: base.kernelName, outputPath: opts.outputPath });
    if (mode === 'throw') throw new KernelStartError('kernel python3 did not start (fake)');
    if (mode === 'block') {
      opts.onEvent?.({ type: 'cell_started', index: 0, cellId: 'cell-0', executionIndex: 0 });
      const aborted = new Promise<void>((r) => {
        if (opts.signal?.aborted) r();
        opts.signal?.addEventListener('abort', () => r(), { once: true });
      });
      await Promise.race([released, aborted]);
      if (opts.signal?.aborted) {
        return {
          ...base,
          status: 'cancelled',
          error: { ename: 'Cancelled', evalue: 'Run cancelled in cell 0', traceback: [], cell_index: 0 },
          cellsDone: 0,
          results: {},
          finishedAtMs: Date.now(),
        };
      }
    }
    let done = 0;
    for (let i = 0; i < cellsTotal; i++) {
      if (mode === 'block' && i === 0) {
        // already started
      } else {
        opts.onEvent?.({ type: 'cell_started', index: i, cellId: `cell-${i}`, executionIndex: i });
      }
      opts.onEvent?.({ type: 'output', index: i, output: { output_type: 'stream', name: 'stdout', text: `cell ${i}\n` }, appended: false });
      done++;
      if (mode === 'fail' && i === 1) {
        opts.onEvent?.({ type: 'cell_finished', index: i, status: 'failed', durationMs: 1, cellsDone: done });
        return {
          ...base,
          status: 'failed',
          error: { ename: 'ValueError', evalue: 'boom', traceback: ['Traceback', 'ValueError: boom'], cell_index: 3 },
          cellsDone: done,
          results: {},
          finishedAtMs: Date.now(),
        };
      }
      opts.onEvent?.({ type: 'cell_finished', index: i, status: 'completed', durationMs: 1, cellsDone: done });
    }
    return { ...base, status: 'succeeded', error: null, cellsDone: done, results: { answer: 42 }, finishedAtMs: Date.now() };
  }
}
