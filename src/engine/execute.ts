/**
 * Runs one notebook on one kernel with papermill's semantics: parameter injection,
 * metadata.papermill on the notebook and every cell, error marker cells, per-cell and
 * whole-run timeouts (interrupt, then kill), cancellation, dead-kernel detection,
 * scrapbook results, and debounced saving of the output file.
 *
 * Errors name the failing cell by its index in the input notebook (cells hubmill adds
 * are not counted) and its execution count: see notebook/cell-ref.ts.
 */
import { dirname, resolve } from 'node:path';
import { AbortedError, HubmillError, KernelStartError } from '../errors.js';
import type { ExecutionKernel } from '../kernel/execution-kernel.js';
import { getKernelSpec } from '../kernel/kernelspecs.js';
import type { Message } from '../kernel/messages.js';
import { describeCell } from '../notebook/cell-ref.js';
import { injectParameters, insertErrorMarkers, isErrorMarker, removeErrorMarkers } from '../notebook/inject.js';
import { sourceText } from '../notebook/read.js';
import type { Cell, Notebook, Output } from '../notebook/types.js';
import { HUBMILL_VERSION } from '../version.js';
import { isoformatUtc, nowMicros } from './clock.js';
import { freshKernels, type KernelSource } from './kernel-source.js';
import { OutputCollector } from './outputs.js';
import { localFileSink } from './output-target.js';
import { cellCompleted, cellFailed, cellStarted, finishNotebookMetadata, resetCells, startNotebookMetadata } from './papermill-meta.js';
import { runCell, StopSignal, type StopReason } from './run-cell.js';
import { DebouncedSaver } from './saver.js';
import { collectScraps } from './scrapbook.js';
import type { EngineEvent, RunError, RunOptions, RunResult, RunStatus } from './types.js';

const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

export const stripAnsi = (s: string): string => s.replace(ANSI, '');

type Json = Record<string, unknown>;

function tags(cell: Cell): string[] {
  const t = (cell.metadata as Json).tags;
  return Array.isArray(t) ? (t as string[]) : [];
}

/** papermill's rule: a SystemExit with no code or code 0 ends the run without failing it. */
function isCleanExit(ename: string | undefined, evalue: string | undefined): boolean {
  return ename === 'SystemExit' && (evalue === '' || evalue === '0');
}

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

async function run(opts: RunOptions, held: HeldKernel): Promise<RunResult> {
  const startedUs = nowMicros();
  const startedAtMs = Math.floor(startedUs / 1000);
  const emit = (e: EngineEvent) => {
    try {
      opts.onEvent?.(e);
    } catch {
      // A listener's bug must not break the run.
    }
  };
  const nb: Notebook = structuredClone(opts.notebook);
  // The kernel as the caller resolved it (notebook/kernel.ts, read once): the engine does not read the notebook's.
  const kernelName = opts.kernelName.toLowerCase();
  const language = opts.language ?? (await getKernelSpec(kernelName).then((s) => s.language));

  // Markers from an earlier run go, parameters come in. `origins[i]` is the index in the
  // input notebook of working cell i (null for the cell we inject): errors report that.
  const origins: Array<number | null> = [];
  nb.cells.forEach((c, i) => {
    if (!isErrorMarker(c)) origins.push(i);
  });
  removeErrorMarkers(nb);
  const warnings: string[] = [];
  let out = nb;
  if (Object.keys(opts.parameters).length > 0) {
    const injected = injectParameters(nb, opts.parameters, { kernelName, language });
    out = injected.notebook;
    warnings.push(...injected.warnings);
    if (injected.injected && !injected.injected.replaced) origins.splice(injected.injected.index, 0, null);
  }
  const outMeta = out.metadata as Json;
  // The output: the caller's sink (e.g. the user's server's Contents API), else a local file, else none.
  const sink = opts.output ?? (opts.outputPath ? localFileSink(resolve(opts.outputPath)) : null);
  const pm = startNotebookMetadata(opts.notebook, { parameters: opts.parameters, inputPath: opts.inputPath, outputPath: opts.output?.path ?? opts.outputPath, startUs: startedUs });
  outMeta.papermill = pm;
  outMeta.hubmill = {
    version: HUBMILL_VERSION,
    kernel_name: kernelName,
    warnings,
    // Documented differences from papermill (README) that a reader of this file may care about.
    differences: ['raises-exception cells do not fail the run'],
    ...opts.hubmillMetadata,
  };
  if (!outMeta.kernelspec) outMeta.kernelspec = { name: kernelName, language, display_name: kernelName };
  resetCells(out, opts.reportMode === true);

  const outputPath = sink?.path ?? null;
  const saver = new DebouncedSaver(async (final) => {
    // A run whose job was taken over (its lease lost) must not overwrite the output of the run that counts.
    if (sink && (await (opts.mayWrite?.() ?? true))) await sink.write(out, { final });
  }, opts.saveIntervalMs ?? 1000);

  const cellsTotal = out.cells.length;
  let cellsDone = 0;
  const finish = async (status: RunStatus, error: RunError | null): Promise<RunResult> => {
    const finishedUs = nowMicros();
    const finishedAtMs = Math.floor(finishedUs / 1000);
    // `exception` is papermill's: true once a cell failed (a clean SystemExit included), else null,
    // even when the run failed outside any cell; metadata.hubmill.status says how the run ended.
    finishNotebookMetadata(pm, startedUs, finishedUs);
    (outMeta.hubmill as Json).status = status;
    saver.stop();
    try {
      await saver.flush(true);
    } finally {
      sink?.close();
    }
    // The kernel shuts down in the background: callers that must outlive it (the CLI) await kernelClosed.
    const kernelClosed = held.release();
    emit({ type: 'run_finished', status, error, durationMs: finishedAtMs - startedAtMs });
    return {
      status,
      notebook: out,
      error,
      cellsTotal,
      cellsDone,
      results: collectScraps(out),
      startedAtMs,
      finishedAtMs,
      kernelName,
      warnings,
      kernelClosed,
    };
  };

  // The first save is written while the kernel is acquired; run_started says the file exists, and a
  // failed save still fails the run before any cell.
  const firstSave = saver.flush();
  firstSave.then(
    () => emit({ type: 'run_started', cellsTotal, kernelName, outputPath }),
    () => undefined,
  );
  if (opts.prepareOnly) {
    await firstSave;
    return finish('succeeded', null);
  }

  // Stop conditions shared by kernel start and every cell.
  const stop = new StopSignal();
  const onAbort = () => stop.fire('cancelled');
  if (opts.signal?.aborted) stop.fire('cancelled');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let runTimer: NodeJS.Timeout | undefined;
  if (opts.runTimeoutMs !== undefined && opts.runTimeoutMs > 0) {
    runTimer = setTimeout(() => stop.fire('run_timeout'), opts.runTimeoutMs);
  }
  const stopController = new AbortController();
  void stop.wait().then(() => stopController.abort());
  const cleanupStops = () => {
    clearTimeout(runTimer);
    opts.signal?.removeEventListener('abort', onAbort);
  };

  /** The error for a working cell: its input index and execution count, a message naming both. */
  const cellError = (index: number, ename: string, evalue: (where: string) => string, traceback: string[] = []): RunError => {
    const count = (out.cells[index] as Json).execution_count as number | null | undefined;
    const cellIndex = origins[index] ?? null;
    const executionCount = count ?? null;
    return { ename, evalue: evalue(describeCell(cellIndex, executionCount)), traceback: traceback.map(stripAnsi), cell_index: cellIndex, execution_count: executionCount };
  };
  /** A stop (cancel, whole-run timeout) in working cell `index`, or before the first cell when null. */
  const stopError = (reason: StopReason, index: number | null): { status: RunStatus; error: RunError } => {
    const tell = (where: string) =>
      reason === 'cancelled' ? `Run cancelled ${where}` : `Run exceeded its time limit of ${((opts.runTimeoutMs ?? 0) / 1000).toString()} s ${where}`;
    const ename = reason === 'cancelled' ? 'Cancelled' : 'RunTimeoutError';
    const status: RunStatus = reason === 'cancelled' ? 'cancelled' : 'timed_out';
    if (index === null) return { status, error: { ename, evalue: tell('before the first cell'), traceback: [], cell_index: null, execution_count: null } };
    return { status, error: cellError(index, ename, (where) => tell(`in ${where}`)) };
  };

  // Kernel: from the source (a fresh launch, a warm pool, a user's server), working in the notebook's folder.
  const cwd = opts.cwd ?? (opts.inputPath && opts.inputPath !== '-' ? dirname(resolve(opts.inputPath)) : process.cwd());
  let kernel: ExecutionKernel;
  try {
    if (stop.reason) throw new AbortedError('stopped before the kernel started');
    kernel = held.kernel = await held.source.acquire({ kernelName, cwd, signal: stopController.signal });
    if (stop.reason) throw new AbortedError('stopped while the kernel started');
  } catch (err) {
    cleanupStops();
    await held.release();
    if (stop.reason) {
      const s = stopError(stop.reason, null);
      return finish(s.status, s.error);
    }
    if (err instanceof HubmillError && !(err instanceof KernelStartError)) throw err;
    const e = err as Error;
    return finish('failed', { ename: e.name || 'KernelStartError', evalue: e.message, traceback: [], cell_index: null, execution_count: null });
  }
  try {
    await firstSave;
  } catch (err) {
    cleanupStops();
    await held.release();
    throw err;
  }
  if (kernel.info?.language_info) outMeta.language_info = kernel.info.language_info;

  const collector = new OutputCollector();
  /** The run's end before the last cell: a failure (`index` -1 when between cells), or a clean SystemExit. */
  let failure: { status: RunStatus; error: RunError; index: number } | null = null;
  let cleanExit = false;

  for (let index = 0; index < out.cells.length; index++) {
    const cell = out.cells[index]!;
    const t0 = nowMicros();
    cellStarted(cell, t0);
    emit({ type: 'cell_started', index, cellId: cell.id as string | undefined, executionIndex: index });
    const code = cell.cell_type === 'code' ? sourceText(cell) : '';
    const runnable = cell.cell_type === 'code' && code.trim() !== '' && !tags(cell).includes('skip-execution');
    let cellStatus: 'completed' | 'failed' | 'skipped' = runnable ? 'completed' : 'skipped';

    if (runnable) {
      const outputs = (cell as Json).outputs as Output[];
      const state = { clearPending: false };
      const timing: Json = {};
      const raises = tags(cell).includes('raises-exception');
      const onIopub = (msg: Message) => {
        const t = msg.header.msg_type;
        if (t === 'status') {
          const st = (msg.content as Json).execution_state;
          if (st === 'busy') timing['iopub.status.busy'] = msg.header.date;
          else if (st === 'idle') timing['iopub.status.idle'] = msg.header.date;
          return;
        }
        if (t === 'execute_input') {
          timing['iopub.execute_input'] = msg.header.date;
          // As nbclient: the count is known from here, so a cell whose kernel dies still has it.
          const n = (msg.content as Json).execution_count;
          if (typeof n === 'number') (cell as Json).execution_count = n;
          return;
        }
        const changed = collector.apply(outputs, state, msg);
        if (changed) {
          emit({ type: 'output', index, output: changed.output, appended: changed.appended });
          saver.touch();
        }
      };
      const outcome = await runCell(kernel, code, {
        onIopub,
        stopOnError: !raises,
        cellTimeoutMs: opts.cellTimeoutMs,
        stop,
      });
      // nbclient's form for this one: microseconds and `Z` (the iopub times are the kernel's own).
      timing['shell.execute_reply'] = isoformatUtc(nowMicros()).replace('+00:00', 'Z');
      (cell.metadata as Json).execution = timing;
      if (outcome.reply?.execution_count !== undefined && outcome.reply.execution_count !== null) {
        (cell as Json).execution_count = outcome.reply.execution_count;
      }
      if (outcome.kind === 'dead') {
        cellStatus = 'failed';
        const why = kernel.stderrSummary();
        failure = { status: 'failed', index, error: cellError(index, 'DeadKernelError', (where) => `Kernel died while executing ${where}${why}`) };
      } else if (outcome.kind === 'stopped') {
        cellStatus = 'failed';
        if (outcome.reason === 'cell_timeout') {
          const limit = ((opts.cellTimeoutMs ?? 0) / 1000).toString();
          const error = cellError(index, 'CellTimeoutError', (where) => `${where.charAt(0).toUpperCase()}${where.slice(1)} timed out after ${limit} s (execution timeout)`);
          failure = { status: 'timed_out', index, error };
        } else {
          failure = { ...stopError(outcome.reason ?? 'cancelled', index), index };
        }
      } else {
        const reply = outcome.reply!;
        if (reply.status === 'error') {
          if (isCleanExit(reply.ename, reply.evalue)) {
            // papermill: the cell failed (exception: true) but the run succeeds, and stops here.
            cellStatus = 'failed';
            cleanExit = true;
          } else if (!raises) {
            cellStatus = 'failed';
            const evalue = reply.evalue ?? '';
            failure = { status: 'failed', index, error: cellError(index, reply.ename ?? 'Error', () => evalue, reply.traceback ?? []) };
          }
        } else if (reply.status === 'aborted' || reply.status === 'abort') {
          cellStatus = 'failed';
          failure = { status: 'failed', index, error: cellError(index, 'ExecutionAborted', (where) => `The kernel aborted ${where}`) };
        }
      }
    }

    const t1 = nowMicros();
    if (cellStatus === 'failed') cellFailed(cell, pm);
    cellCompleted(cell, t0, t1);
    cellsDone++;
    emit({ type: 'cell_finished', index, status: cellStatus, durationMs: Math.round((t1 - t0) / 1000), cellsDone });
    saver.touch();
    if (failure || cleanExit) break;
    if (stop.reason && index < out.cells.length - 1) {
      // Stopped between cells: nothing to interrupt, no cell failed.
      failure = { ...stopError(stop.reason, index + 1), index: -1 };
      break;
    }
  }
  cleanupStops();

  if (failure) {
    if (failure.index >= 0) insertErrorMarkers(out, failure.index, failure.error.execution_count ?? null);
    return finish(failure.status, failure.error);
  }
  return finish('succeeded', null);
}
