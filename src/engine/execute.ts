/**
 * Runs one notebook on one kernel with papermill's semantics: parameter injection,
 * metadata.papermill on the notebook and every cell, error marker cells, per-cell and
 * whole-run timeouts (interrupt, then kill), cancellation, dead-kernel detection,
 * scrapbook results, and debounced saving of the output file.
 *
 * `run` follows papermill's NotebookExecutionManager: notebook start, then per cell
 * cell start, the cell on the kernel (cell-execution.ts), cell exception, cell complete,
 * and the notebook's end; the bookkeeping of each hook is NotebookRun's (notebook-run.ts).
 */
import { dirname, resolve } from 'node:path';
import { AbortedError, HubmillError, KernelStartError } from '../errors.js';
import type { ExecutionKernel } from '../kernel/execution-kernel.js';
import { getKernelSpec } from '../kernel/kernelspec-discovery.js';
import { executeCell } from './cell-execution.js';
import { nowMicros } from './papermill-time.js';
import { freshKernels, type KernelSource } from './kernel-source.js';
import { NotebookRun, type RunFailure } from './notebook-run.js';
import { OutputCollector } from './outputs.js';
import { StopSignal } from './run-cell.js';
import type { RunOptions, RunResult } from './run-types.js';

export { stripAnsi } from './notebook-run.js';

/** The kernel of one run, from its source, given back exactly once. */
class HeldKernel {
  kernel: ExecutionKernel | null = null;
  constructor(readonly source: KernelSource) {}
  release(): Promise<void> {
    const k = this.kernel;
    this.kernel = null;
    if (!k) return Promise.resolve();
    return (this.source.release ? this.source.release(k) : k.shutdown()).catch(() => {});
  }
}

export async function executeNotebook(opts: RunOptions): Promise<RunResult> {
  const held = new HeldKernel(opts.kernels ?? freshKernels());
  try {
    return await run(opts, held);
  } catch (err) {
    // The engine owns the kernel it acquired: whatever failed, that kernel must not outlive the run.
    void held.release();
    throw err;
  }
}

/** The run's stop conditions, shared by kernel start and every cell: a cancel, the whole-run timer. */
class RunStops {
  readonly stop = new StopSignal();
  /** Aborted once the run stops: gives up a kernel start. */
  readonly signal: AbortSignal;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.stop.fire('cancelled');

  constructor(private readonly opts: RunOptions) {
    if (opts.signal?.aborted) this.stop.fire('cancelled');
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (opts.runTimeoutMs !== undefined && opts.runTimeoutMs > 0) {
      this.timer = setTimeout(() => this.stop.fire('run_timeout'), opts.runTimeoutMs);
    }
    const controller = new AbortController();
    void this.stop.wait().then(() => controller.abort());
    this.signal = controller.signal;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }
}

async function run(opts: RunOptions, held: HeldKernel): Promise<RunResult> {
  const startedUs = nowMicros();
  // The kernel as the caller resolved it (notebook/kernel.ts, read once): the engine does not read the notebook's.
  const kernelName = opts.kernelName.toLowerCase();
  const language = opts.language ?? (await getKernelSpec(kernelName).then((s) => s.language));
  const release = () => held.release();

  const nbRun = NotebookRun.start(opts, { kernelName, language, startedUs });
  if (opts.prepareOnly) {
    await nbRun.firstSave;
    return nbRun.end(null, release);
  }

  // Kernel: from the source (a fresh launch, a warm pool, a user's server), working in the notebook's folder.
  const stops = new RunStops(opts);
  const { stop } = stops;
  const cwd = opts.cwd ?? (opts.inputPath && opts.inputPath !== '-' ? dirname(resolve(opts.inputPath)) : process.cwd());
  let kernel: ExecutionKernel;
  try {
    if (stop.reason) throw new AbortedError('stopped before the kernel started');
    kernel = held.kernel = await held.source.acquire({ kernelName, cwd, signal: stops.signal });
    if (stop.reason) throw new AbortedError('stopped while the kernel started');
  } catch (err) {
    stops.dispose();
    await held.release();
    if (stop.reason) return nbRun.end({ ...nbRun.stopError(stop.reason, null), index: -1 }, release);
    if (err instanceof HubmillError && !(err instanceof KernelStartError)) throw err;
    const e = err as Error;
    return nbRun.end({ status: 'failed', error: { ename: e.name || 'KernelStartError', evalue: e.message, traceback: [], cell_index: null, execution_count: null }, index: -1 }, release);
  }
  try {
    await nbRun.firstSave;
  } catch (err) {
    stops.dispose();
    await held.release();
    throw err;
  }
  nbRun.kernelReady(kernel);

  const ctx = { run: nbRun, kernel, collector: new OutputCollector({ maxOutputBytes: opts.maxOutputBytes }), stop, cellTimeoutMs: opts.cellTimeoutMs, redactor: opts.redactor };
  let failure: RunFailure | null = null;
  const last = nbRun.cellsTotal - 1;
  for (let index = 0; index <= last; index++) {
    const t0 = nbRun.cellStart(index);
    const cell = await executeCell(ctx, index);
    if (cell.status === 'failed') nbRun.cellException(index);
    nbRun.cellComplete(index, t0, cell.status);
    if (cell.failure || cell.cleanExit) {
      failure = cell.failure;
      break;
    }
    if (stop.reason && index < last) {
      // Stopped between cells: nothing to interrupt, no cell failed, no markers.
      failure = { ...nbRun.stopError(stop.reason, index + 1), index: -1 };
      break;
    }
  }
  stops.dispose();
  const capped = ctx.collector.cap.warning();
  if (capped) nbRun.warnings.push(capped);
  return nbRun.end(failure, release);
}
