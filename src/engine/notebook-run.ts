/**
 * Everything one run writes down as it goes, at the moments of papermill's
 * NotebookExecutionManager: `start` (notebook_start: markers out, parameters in,
 * metadata.papermill and metadata.hubmill, the first save), `cellStart`,
 * `cellException`, `cellComplete` and `end` (notebook end: times, status, error
 * markers, the final save, the result). It also emits the engine's events and
 * names failures (errors name the cell by its index in the input notebook, see
 * notebook/cell-ref.ts). What a cell does on the kernel is cell-execution.ts's.
 */
import { resolve } from 'node:path';
import type { ExecutionKernel } from '../kernel/execution-kernel.js';
import { describeCell } from '../notebook/cell-ref.js';
import { injectParameters, insertErrorMarkers, isErrorMarker, removeErrorMarkers } from '../notebook/inject.js';
import type { NotebookSink } from '../notebook/io.js';
import type { Cell, Notebook } from '../notebook/notebook-types.js';
import { HUBMILL_VERSION } from '../version.js';
import { nowMicros } from './papermill-time.js';
import { localFileSink } from './output-target.js';
import { cellCompleted, cellFailed, cellStarted, finishNotebookMetadata, resetCells, startNotebookMetadata } from './papermill-meta.js';
import type { StopReason } from './run-cell.js';
import { DebouncedSaver } from './saver.js';
import { collectScraps } from './scrapbook.js';
import type { EngineEvent, RunError, RunOptions, RunResult, RunStatus } from './run-types.js';
import { cloneJson } from '../notebook/exact-json.js';

const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

export const stripAnsi = (s: string): string => s.replace(ANSI, '');

type Json = Record<string, unknown>;

/** How a run ends before its last cell: `index` is the working cell that failed (error markers go there), -1 for none. */
export interface RunFailure {
  status: RunStatus;
  error: RunError;
  index: number;
}

export type CellStatus = 'completed' | 'failed' | 'skipped';

export class NotebookRun {
  /** The output notebook (a copy of the input, prepared). */
  readonly out: Notebook;
  readonly kernelName: string;
  readonly warnings: string[];
  readonly cellsTotal: number;
  cellsDone = 0;
  /** The first save, started by `start`; `run_started` is emitted once it is written. */
  readonly firstSave: Promise<void>;
  private readonly saver: DebouncedSaver;
  private readonly startedUs: number;
  private readonly pm: Json;
  private readonly outMeta: Json;
  private readonly sink: NotebookSink | null;
  /** `origins[i]` is the index in the input notebook of working cell i (null for the cell hubmill injects). */
  private readonly origins: Array<number | null>;

  private constructor(
    private readonly opts: RunOptions,
    prepared: { out: Notebook; origins: Array<number | null>; warnings: string[]; kernelName: string; language: string | undefined; startedUs: number },
  ) {
    this.out = prepared.out;
    this.origins = prepared.origins;
    this.warnings = prepared.warnings;
    this.kernelName = prepared.kernelName;
    this.startedUs = prepared.startedUs;
    this.cellsTotal = this.out.cells.length;
    this.outMeta = this.out.metadata as Json;
    // The output: the caller's sink (e.g. the user's server's Contents API), else a local file, else none.
    this.sink = opts.output ?? (opts.outputPath ? localFileSink(resolve(opts.outputPath)) : null);
    this.pm = startNotebookMetadata(opts.notebook, { parameters: opts.parameters, inputPath: opts.inputPath, outputPath: opts.output?.path ?? opts.outputPath, startUs: this.startedUs });
    const sink = this.sink;
    this.saver = new DebouncedSaver(async (final) => {
      // A run whose job was taken over (its lease lost) must not overwrite the output of the run that counts.
      if (sink && (await (opts.mayWrite?.() ?? true))) await sink.write(this.out, { final });
    }, opts.saveIntervalMs ?? 1000);
    this.outMeta.papermill = this.pm;
    this.outMeta.hubmill = {
      version: HUBMILL_VERSION,
      kernel_name: this.kernelName,
      warnings: this.warnings,
      // Documented differences from papermill (README) that a reader of this file may care about.
      differences: ['raises-exception cells do not fail the run'],
      ...opts.hubmillMetadata,
    };
    if (!this.outMeta.kernelspec) this.outMeta.kernelspec = { name: this.kernelName, language: prepared.language, display_name: this.kernelName };
    resetCells(this.out, opts.reportMode === true);
    this.firstSave = this.saver.flush();
    const outputPath = sink?.path ?? null;
    this.firstSave.then(
      () => this.emit({ type: 'run_started', cellsTotal: this.cellsTotal, kernelName: this.kernelName, outputPath }),
      () => undefined,
    );
  }

  /**
   * papermill's notebook_start. Markers from an earlier run go, parameters come in, the
   * metadata is set and every cell reset to pending; the first save starts (it is written
   * while the kernel is acquired: run_started says the file exists).
   */
  static start(opts: RunOptions, kernel: { kernelName: string; language: string | undefined; startedUs: number }): NotebookRun {
    const nb: Notebook = cloneJson(opts.notebook);
    const origins: Array<number | null> = [];
    nb.cells.forEach((c, i) => {
      if (!isErrorMarker(c)) origins.push(i);
    });
    removeErrorMarkers(nb);
    const warnings: string[] = [];
    let out = nb;
    if (Object.keys(opts.parameters).length > 0) {
      const injected = injectParameters(nb, opts.parameters, { kernelName: kernel.kernelName, language: kernel.language });
      out = injected.notebook;
      warnings.push(...injected.warnings);
      if (injected.injected && !injected.injected.replaced) origins.splice(injected.injected.index, 0, null);
    }
    return new NotebookRun(opts, { out, origins, warnings, kernelName: kernel.kernelName, language: kernel.language, startedUs: kernel.startedUs });
  }

  /** Tells the caller's listener; a listener's bug must not break the run. */
  emit(e: EngineEvent): void {
    try {
      this.opts.onEvent?.(e);
    } catch {
      // Ignored on purpose.
    }
  }

  /** The kernel answered kernel_info: its language_info goes into the notebook, as papermill does. */
  kernelReady(kernel: ExecutionKernel): void {
    if (kernel.info?.language_info) this.outMeta.language_info = kernel.info.language_info;
  }

  /** Something in the output notebook changed: save it within the save interval. */
  changed(): void {
    this.saver.touch();
  }

  /** papermill's cell_start; returns the cell's start time (µs). */
  cellStart(index: number): number {
    const cell = this.out.cells[index]!;
    const t0 = nowMicros();
    cellStarted(cell, t0);
    this.emit({ type: 'cell_started', index, cellId: cell.id as string | undefined, executionIndex: index });
    return t0;
  }

  /** papermill's cell_exception: the cell and the notebook are marked failed. */
  cellException(index: number): void {
    cellFailed(this.out.cells[index]!, this.pm);
  }

  /** papermill's cell_complete: end time, status, progress event, a save soon. */
  cellComplete(index: number, t0: number, status: CellStatus): void {
    const t1 = nowMicros();
    cellCompleted(this.out.cells[index]!, t0, t1);
    this.cellsDone++;
    this.emit({ type: 'cell_finished', index, status, durationMs: Math.round((t1 - t0) / 1000), cellsDone: this.cellsDone });
    this.saver.touch();
  }

  /** The error for a working cell: its input index and execution count, a message naming both. */
  cellError(index: number, ename: string, evalue: (where: string) => string, traceback: string[] = []): RunError {
    const cell: Cell = this.out.cells[index]!;
    const count = (cell as Json).execution_count as number | null | undefined;
    const cellIndex = this.origins[index] ?? null;
    const executionCount = count ?? null;
    return { ename, evalue: evalue(describeCell(cellIndex, executionCount)), traceback: traceback.map(stripAnsi), cell_index: cellIndex, execution_count: executionCount };
  }

  /** A stop (cancel, whole-run timeout) in working cell `index`, or before the first cell when null. */
  stopError(reason: StopReason, index: number | null): { status: RunStatus; error: RunError } {
    const tell = (where: string) =>
      reason === 'cancelled' ? `Run cancelled ${where}` : `Run exceeded its time limit of ${((this.opts.runTimeoutMs ?? 0) / 1000).toString()} s ${where}`;
    const ename = reason === 'cancelled' ? 'Cancelled' : 'RunTimeoutError';
    const status: RunStatus = reason === 'cancelled' ? 'cancelled' : 'timed_out';
    if (index === null) return { status, error: { ename, evalue: tell('before the first cell'), traceback: [], cell_index: null, execution_count: null } };
    return { status, error: this.cellError(index, ename, (where) => tell(`in ${where}`)) };
  }

  /**
   * The notebook's end: error markers before the failed cell, end time and status, the
   * final save; then the kernel is given back (in the background: callers that must
   * outlive it, the CLI, await `kernelClosed`) and run_finished is emitted.
   */
  async end(failure: RunFailure | null, releaseKernel: () => Promise<void>): Promise<RunResult> {
    const redactor = this.opts.redactor;
    // Messages were redacted as they arrived; this catches what came another way (a dead kernel's stderr in an error).
    if (failure && redactor) failure = { ...failure, error: redactor.deep(failure.error) };
    if (failure && failure.index >= 0) insertErrorMarkers(this.out, failure.index, failure.error.execution_count ?? null);
    if (redactor) this.out.cells = redactor.deep(this.out.cells);
    const status: RunStatus = failure?.status ?? 'succeeded';
    const error = failure?.error ?? null;
    const finishedUs = nowMicros();
    const startedAtMs = Math.floor(this.startedUs / 1000);
    const finishedAtMs = Math.floor(finishedUs / 1000);
    // `exception` is papermill's: true once a cell failed (a clean SystemExit included), else null,
    // even when the run failed outside any cell; metadata.hubmill.status says how the run ended.
    finishNotebookMetadata(this.pm, this.startedUs, finishedUs);
    (this.outMeta.hubmill as Json).status = status;
    this.saver.stop();
    try {
      await this.saver.flush(true);
    } finally {
      this.sink?.close();
    }
    const kernelClosed = releaseKernel();
    this.emit({ type: 'run_finished', status, error, durationMs: finishedAtMs - startedAtMs });
    return {
      status,
      notebook: this.out,
      error,
      cellsTotal: this.cellsTotal,
      cellsDone: this.cellsDone,
      results: collectScraps(this.out),
      startedAtMs,
      finishedAtMs,
      kernelName: this.kernelName,
      warnings: this.warnings,
      kernelClosed,
    };
  }
}
