/**
 * One working cell between papermill's cell_start and cell_complete: whether it runs
 * at all, its outputs and nbclient's timing metadata from the kernel's iopub messages,
 * and what its end means for the run (a failure, a clean SystemExit, or go on).
 * The bookkeeping (metadata, events, saves, error names) is the NotebookRun's.
 */
import type { ExecutionKernel } from '../kernel/execution-kernel.js';
import type { Message } from '../kernel/messages.js';
import { textPieces, type LongText } from '../notebook/long-text.js';
import { sourceText } from '../notebook/read.js';
import type { Cell, Output } from '../notebook/notebook-types.js';
import { isoformatUtc, nowMicros } from './papermill-time.js';
import type { CellStatus, NotebookRun, RunFailure } from './notebook-run.js';
import type { OutputCollector } from './outputs.js';
import { runCell, type CellOutcome, type StopSignal } from './run-cell.js';
import type { Redactor } from '../secrets/redactor.js';

type Json = Record<string, unknown>;

export interface CellEnd {
  status: CellStatus;
  /** The run ends here, failed (or stopped). */
  failure: RunFailure | null;
  /** papermill's rule: a SystemExit with no code or code 0 ends the run here without failing it. */
  cleanExit: boolean;
}

const SKIPPED: CellEnd = { status: 'skipped', failure: null, cleanExit: false };
const COMPLETED: CellEnd = { status: 'completed', failure: null, cleanExit: false };

function tags(cell: Cell): string[] {
  const t = (cell.metadata as Json).tags;
  return Array.isArray(t) ? (t as string[]) : [];
}

function isCleanExit(ename: string | undefined, evalue: string | undefined): boolean {
  return ename === 'SystemExit' && (evalue === '' || evalue === '0');
}

export interface CellContext {
  run: NotebookRun;
  kernel: ExecutionKernel;
  collector: OutputCollector;
  stop: StopSignal;
  cellTimeoutMs: number | undefined;
  /** The run's secret values (RunOptions.redactor). */
  redactor?: Redactor;
}

/** Runs working cell `index` (markdown, raw, empty and `skip-execution` cells are skipped). */
export async function executeCell(ctx: CellContext, index: number): Promise<CellEnd> {
  const { run } = ctx;
  const cell = run.out.cells[index]!;
  const code = cell.cell_type === 'code' ? sourceText(cell) : '';
  if (cell.cell_type !== 'code' || code.trim() === '' || tags(cell).includes('skip-execution')) return SKIPPED;

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
    if (!redactor) return apply(msg);
    // Redacted here, as they arrive: nothing downstream (notebook, events, results, webhooks) sees a value.
    if (t === 'stream') {
      const c = msg.content as Json;
      lastStream = msg;
      // A large message's text (a LongText read from its frame) is redacted slice by slice: never one string.
      for (const chunk of textPieces(c.text as string | LongText)) for (const [name, text] of holds!.push(c.name as string, chunk)) apply({ ...msg, content: { ...c, name, text } } as Message);
      return;
    }
    flushStreams();
    // The content only: headers are ours to read, and binary buffers are not JSON.
    apply({ ...msg, content: redactor.deep(msg.content) } as Message);
  };
  const apply = (msg: Message) => {
    const changed = ctx.collector.apply(outputs, state, msg);
    if (changed) {
      run.emit({ type: 'output', index, output: changed.output, appended: changed.appended });
      run.changed();
    }
  };
  const redactor = ctx.redactor?.empty === false ? ctx.redactor : undefined;
  const holds = redactor?.streams();
  let lastStream: Message | null = null;
  const flushStreams = () => {
    for (const [name, text] of holds?.flush() ?? []) apply({ ...lastStream!, content: { ...(lastStream!.content as Json), name, text } } as Message);
  };
  const outcome = await runCell(ctx.kernel, code, { onIopub, stopOnError: !raises, cellTimeoutMs: ctx.cellTimeoutMs, stop: ctx.stop });
  flushStreams();
  if (redactor && outcome.reply) outcome.reply = redactor.deep(outcome.reply);
  // nbclient's form for this one: microseconds and `Z` (the iopub times are the kernel's own).
  timing['shell.execute_reply'] = isoformatUtc(nowMicros()).replace('+00:00', 'Z');
  (cell.metadata as Json).execution = timing;
  if (outcome.reply?.execution_count !== undefined && outcome.reply.execution_count !== null) {
    (cell as Json).execution_count = outcome.reply.execution_count;
  }
  return judge(ctx, index, outcome, raises);
}

/** What the cell's outcome means for the run. */
function judge(ctx: CellContext, index: number, outcome: CellOutcome, raises: boolean): CellEnd {
  const { run } = ctx;
  const failed = (f: Omit<RunFailure, 'index'>): CellEnd => ({ status: 'failed', failure: { ...f, index }, cleanExit: false });
  if (outcome.kind === 'dead') {
    const why = ctx.kernel.stderrSummary();
    return failed({ status: 'failed', error: run.cellError(index, 'DeadKernelError', (where) => `Kernel died while executing ${where}${why}`) });
  }
  if (outcome.kind === 'stopped') {
    if (outcome.reason === 'cell_timeout') {
      const limit = ((ctx.cellTimeoutMs ?? 0) / 1000).toString();
      return failed({ status: 'timed_out', error: run.cellError(index, 'CellTimeoutError', (where) => `${where.charAt(0).toUpperCase()}${where.slice(1)} timed out after ${limit} s (execution timeout)`) });
    }
    return failed(run.stopError(outcome.reason ?? 'cancelled', index));
  }
  const reply = outcome.reply!;
  if (reply.status === 'error') {
    // papermill: the cell failed (exception: true) but the run succeeds, and stops here.
    if (isCleanExit(reply.ename, reply.evalue)) return { status: 'failed', failure: null, cleanExit: true };
    if (raises) return COMPLETED;
    const evalue = reply.evalue ?? '';
    return failed({ status: 'failed', error: run.cellError(index, reply.ename ?? 'Error', () => evalue, reply.traceback ?? []) });
  }
  if (reply.status === 'aborted' || reply.status === 'abort') {
    return failed({ status: 'failed', error: run.cellError(index, 'ExecutionAborted', (where) => `The kernel aborted ${where}`) });
  }
  return COMPLETED;
}
