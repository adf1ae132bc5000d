/**
 * Runs one notebook on one kernel with papermill's semantics: parameter injection,
 * metadata.papermill on the notebook and every cell, error marker cells, per-cell and
 * whole-run timeouts (interrupt, then kill), cancellation, dead-kernel detection,
 * scrapbook results, and debounced saving of the output file.
 */
import { dirname, resolve } from 'node:path';
import { AbortedError, DeadKernelError, HubmillError, KernelStartError, TimeoutError } from '../errors.js';
import type { ExecutionKernel } from '../kernel/execution-kernel.js';
import { getKernelSpec } from '../kernel/kernelspecs.js';
import type { ExecuteReplyContent, Message } from '../kernel/messages.js';
import { injectParameters, makeErrorMarkers, removeErrorMarkers } from '../notebook/inject.js';
import { sourceText } from '../notebook/read.js';
import type { Cell, CellPapermillMetadata, Notebook, Output } from '../notebook/types.js';
import { writeNotebookFile } from '../notebook/write.js';
import { HUBMILL_VERSION } from '../version.js';
import { freshKernels, type KernelSource } from './kernel-source.js';
import { OutputCollector } from './outputs.js';
import { OutputTarget } from './output-target.js';
import { DebouncedSaver } from './saver.js';
import { collectScraps } from './scrapbook.js';
import type { EngineEvent, RunError, RunOptions, RunResult, RunStatus } from './types.js';

/** How long an interrupted cell may take to stop before the kernel is killed. */
const INTERRUPT_GRACE_MS = 3000;
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

export const stripAnsi = (s: string): string => s.replace(ANSI, '');

type Json = Record<string, unknown>;

const nowIso = () => new Date().toISOString();

function cellMeta(cell: Cell): CellPapermillMetadata {
  return ((cell.metadata as Json).papermill ??= {}) as CellPapermillMetadata;
}

function tags(cell: Cell): string[] {
  const t = (cell.metadata as Json).tags;
  return Array.isArray(t) ? (t as string[]) : [];
}

/** Why the wait for a cell ended, other than a reply. */
type StopReason = 'cell_timeout' | 'run_timeout' | 'cancelled';

class StopSignal {
  reason: StopReason | null = null;
  private listeners: Array<() => void> = [];
  fire(reason: StopReason): void {
    if (this.reason) return;
    this.reason = reason;
    for (const l of this.listeners.splice(0)) l();
  }
  wait(): Promise<void> {
    if (this.reason) return Promise.resolve();
    return new Promise((r) => this.listeners.push(r));
  }
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
  const startedAtMs = Date.now();
  const emit = (e: EngineEvent) => {
    try {
      opts.onEvent?.(e);
    } catch {
      // A listener's bug must not break the run.
    }
  };
  const nb: Notebook = structuredClone(opts.notebook);
  const meta = nb.metadata as Json;
  const kernelspecMeta = (meta.kernelspec ?? {}) as Json;
  const kernelName = (opts.kernelName ?? (kernelspecMeta.name as string | undefined) ?? 'python3').toLowerCase();
  const language =
    opts.language ??
    (kernelspecMeta.language as string | undefined) ??
    ((meta.language_info as Json | undefined)?.name as string | undefined) ??
    (await getKernelSpec(kernelName).then((s) => s.language));

  // Parameters, markers from an earlier run, then papermill's metadata.
  removeErrorMarkers(nb);
  const warnings: string[] = [];
  let working = nb;
  if (Object.keys(opts.parameters).length > 0) {
    const injected = injectParameters(nb, opts.parameters, { kernelName, language });
    working = injected.notebook;
    warnings.push(...injected.warnings);
  }
  const out = working;
  const outMeta = out.metadata as Json;
  const pm: Json = {
    default_parameters: {},
    parameters: opts.parameters,
    environment_variables: {},
    version: HUBMILL_VERSION,
    input_path: opts.inputPath,
    output_path: opts.outputPath,
    start_time: null,
    end_time: null,
    duration: null,
    exception: null,
  };
  outMeta.papermill = pm;
  outMeta.hubmill = {
    version: HUBMILL_VERSION,
    kernel_name: kernelName,
    warnings,
    // Documented differences from papermill that a reader of this file may care about.
    differences: ['raises-exception cells do not fail the run', 'SystemExit(0) stops the run successfully'],
    ...opts.hubmillMetadata,
  };
  if (!outMeta.kernelspec) outMeta.kernelspec = { name: kernelName, language, display_name: kernelName };
  for (const cell of out.cells) {
    (cell.metadata as Json).papermill = { exception: null, start_time: null, end_time: null, duration: null, status: 'pending' };
    if (cell.cell_type === 'code') {
      (cell as Json).execution_count = null;
      (cell as Json).outputs = [];
      if (opts.reportMode) {
        const m = cell.metadata as Json;
        m.jupyter = { ...((m.jupyter as Json | undefined) ?? {}), source_hidden: true };
      }
    }
  }

  const outputPath = opts.outputPath ? resolve(opts.outputPath) : null;
  const target = outputPath ? new OutputTarget(outputPath) : null;
  const saver = new DebouncedSaver(async () => {
    if (target) await writeNotebookFile(target.writePath, out);
  }, opts.saveIntervalMs ?? 1000);

  const cellsTotal = out.cells.length;
  let cellsDone = 0;
  const finish = async (status: RunStatus, error: RunError | null): Promise<RunResult> => {
    const finishedAtMs = Date.now();
    pm.start_time = new Date(startedAtMs).toISOString();
    pm.end_time = new Date(finishedAtMs).toISOString();
    pm.duration = (finishedAtMs - startedAtMs) / 1000;
    pm.exception = error ? true : null;
    (outMeta.hubmill as Json).status = status;
    saver.stop();
    try {
      await saver.flush();
    } finally {
      target?.close();
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

  pm.start_time = new Date(startedAtMs).toISOString();
  await saver.flush();
  emit({ type: 'run_started', cellsTotal, kernelName, outputPath });
  if (opts.prepareOnly) return finish('succeeded', null);

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

  const stopError = (reason: StopReason, cellIndex: number | null): { status: RunStatus; error: RunError } => {
    const where = cellIndex === null ? 'before the first cell' : `in cell ${cellIndex}`;
    if (reason === 'cancelled') {
      return { status: 'cancelled', error: { ename: 'Cancelled', evalue: `Run cancelled ${where}`, traceback: [], cell_index: cellIndex } };
    }
    const limit = ((opts.runTimeoutMs ?? 0) / 1000).toString();
    return {
      status: 'timed_out',
      error: { ename: 'RunTimeoutError', evalue: `Run exceeded its time limit of ${limit} s ${where}`, traceback: [], cell_index: cellIndex },
    };
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
    return finish('failed', { ename: e.name || 'KernelStartError', evalue: e.message, traceback: [], cell_index: null });
  }
  if (kernel.info?.language_info) outMeta.language_info = kernel.info.language_info;

  const collector = new OutputCollector();
  let failure: { status: RunStatus; error: RunError; index: number } | null = null;
  let stopRunOk = false;

  for (let index = 0; index < out.cells.length; index++) {
    const cell = out.cells[index]!;
    const cm = cellMeta(cell);
    const t0 = Date.now();
    cm.status = 'running';
    cm.start_time = new Date(t0).toISOString();
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
      timing['shell.execute_reply'] = nowIso();
      (cell.metadata as Json).execution = timing;
      if (outcome.reply?.execution_count !== undefined && outcome.reply.execution_count !== null) {
        (cell as Json).execution_count = outcome.reply.execution_count;
      }
      const cellError = (ename: string, evalue: string, traceback: string[]): RunError => ({
        ename,
        evalue,
        traceback: traceback.map(stripAnsi),
        cell_index: index,
      });
      if (outcome.kind === 'dead') {
        cellStatus = 'failed';
        failure = {
          status: 'failed',
          index,
          error: cellError('DeadKernelError', `Kernel died while executing cell ${index}${kernel.stderrSummary()}`, []),
        };
      } else if (outcome.kind === 'stopped') {
        cellStatus = 'failed';
        if (outcome.reason === 'cell_timeout') {
          const limit = ((opts.cellTimeoutMs ?? 0) / 1000).toString();
          failure = {
            status: 'timed_out',
            index,
            error: cellError('CellTimeoutError', `Cell ${index} timed out after ${limit} s (execution timeout)`, []),
          };
        } else {
          const s = stopError(outcome.reason ?? "cancelled", index);
          failure = { ...s, index };
        }
      } else {
        const reply = outcome.reply!;
        if (reply.status === 'error') {
          const isExit = reply.ename === 'SystemExit' && (reply.evalue === '' || reply.evalue === '0' || reply.evalue === 'None');
          if (isExit) {
            stopRunOk = true;
          } else if (!raises) {
            cellStatus = 'failed';
            failure = {
              status: 'failed',
              index,
              error: cellError(reply.ename ?? 'Error', reply.evalue ?? '', reply.traceback ?? []),
            };
          }
        } else if (reply.status === 'aborted' || reply.status === 'abort') {
          cellStatus = 'failed';
          failure = { status: 'failed', index, error: cellError('ExecutionAborted', `The kernel aborted cell ${index}`, []) };
        }
      }
    }

    const t1 = Date.now();
    cm.end_time = new Date(t1).toISOString();
    cm.duration = (t1 - t0) / 1000;
    cm.status = cellStatus === 'failed' ? 'failed' : 'completed';
    if (cellStatus === 'failed') cm.exception = true;
    cellsDone++;
    emit({ type: 'cell_finished', index, status: cellStatus, durationMs: t1 - t0, cellsDone });
    saver.touch();
    if (failure || stopRunOk) break;
    if (stop.reason && index < out.cells.length - 1) {
      // Stopped between cells: nothing to interrupt.
      const s = stopError(stop.reason, index + 1);
      failure = { ...s, index: -1 };
      break;
    }
  }
  cleanupStops();

  if (failure) {
    let error = failure.error;
    if (failure.index >= 0) {
      const failed = out.cells[failure.index]!;
      const markers = makeErrorMarkers(failure.index, ((failed as Json).execution_count as number | null) ?? null);
      // Before the failing cell, then at the top; the failing cell moves down by two.
      out.cells.splice(failure.index, 0, markers[1]!);
      out.cells.unshift(markers[0]!);
      error = { ...error, cell_index: failure.index + 2 };
    }
    outMeta.papermill = pm;
    return finish(failure.status, error);
  }
  return finish('succeeded', null);
}

interface CellOutcome {
  kind: 'reply' | 'dead' | 'stopped';
  reply?: ExecuteReplyContent;
  reason?: StopReason;
}

/**
 * Executes one cell; on a cell timeout or a stop request, interrupts the kernel,
 * waits a little for it to stop, and kills it if it does not.
 */
async function runCell(
  kernel: ExecutionKernel,
  code: string,
  o: { onIopub: (m: Message) => void; stopOnError: boolean; cellTimeoutMs?: number; stop: StopSignal },
): Promise<CellOutcome> {
  const exec = kernel.execute(code, { onIopub: o.onIopub, stopOnError: o.stopOnError }).then(
    (reply): CellOutcome => ({ kind: 'reply', reply }),
    (err: Error): CellOutcome => {
      if (err instanceof DeadKernelError) return { kind: 'dead' };
      if (err instanceof AbortedError || err instanceof TimeoutError) return { kind: 'dead' };
      throw err;
    },
  );
  let cellTimer: NodeJS.Timeout | undefined;
  let cellTimedOut = false;
  const cellTimeout = new Promise<void>((r) => {
    if (o.cellTimeoutMs !== undefined && o.cellTimeoutMs > 0) {
      cellTimer = setTimeout(() => {
        cellTimedOut = true;
        r();
      }, o.cellTimeoutMs);
    }
  });
  const first = await Promise.race([exec, cellTimeout.then(() => null), o.stop.wait().then(() => null)]);
  clearTimeout(cellTimer);
  if (first) return first;
  const reason: StopReason = cellTimedOut ? 'cell_timeout' : o.stop.reason!;
  await kernel.interrupt();
  let grace: NodeJS.Timeout | undefined;
  const settled = await Promise.race([exec, new Promise<null>((r) => (grace = setTimeout(() => r(null), INTERRUPT_GRACE_MS)))]);
  clearTimeout(grace);
  if (!settled) {
    // The kernel ignored the interrupt: kill it; the pending execute rejects as dead.
    await kernel.kill();
    await exec;
    return { kind: 'stopped', reason };
  }
  return { kind: 'stopped', reason, reply: settled.reply };
}
