/**
 * The engine's public contract: run one notebook on one kernel with papermill's
 * semantics. The CLI and the service's runner both call `executeNotebook`.
 */
import type { Notebook, Output, Parameters } from '../notebook/types.js';
import type { ExecutionKernel } from '../kernel/execution-kernel.js';
import type { RunAs } from '../kernel/launcher.js';

export type RunStatus = 'succeeded' | 'failed' | 'cancelled' | 'timed_out';

/** What went wrong in a run; `cell_index` is the index in the output notebook's cells (null when not tied to a cell). */
export interface RunError {
  ename: string;
  evalue: string;
  traceback: string[];
  cell_index: number | null;
}

/** Defined with the launcher that applies it; re-exported for the engine's callers. */
export type { RunAs };

export type EngineEvent =
  | { type: 'run_started'; cellsTotal: number; kernelName: string; outputPath: string | null }
  | { type: 'cell_started'; index: number; cellId: string | undefined; executionIndex: number }
  /** `appended`: the output is a stream chunk merged into the cell's previous stream output (it carries only the new text). */
  | { type: 'output'; index: number; output: Output; appended: boolean }
  | { type: 'cell_finished'; index: number; status: 'completed' | 'failed' | 'skipped'; durationMs: number; cellsDone: number }
  | { type: 'run_finished'; status: RunStatus; error: RunError | null; durationMs: number };

export interface RunOptions {
  /** The notebook as read (and already upgraded) by notebook/read. */
  notebook: Notebook;
  /** Recorded in metadata.papermill.input_path. */
  inputPath: string;
  /** Where to write the output notebook; null = do not write (e.g. stdout handled by the caller). */
  outputPath: string | null;
  /** Merged parameters; injection happens only when non-empty. */
  parameters: Parameters;
  /** Kernel name override (-k); default: notebook's kernelspec name. */
  kernelName?: string;
  /** Language override (-l) for the translator. */
  language?: string;
  /** Working directory of the kernel process (default: the input notebook's folder, else process cwd). */
  cwd?: string;
  /** Per-cell timeout (papermill --execution-timeout). */
  cellTimeoutMs?: number;
  /** Whole-run timeout. */
  runTimeoutMs?: number;
  /** Kernel start timeout (default 60 s). */
  startTimeoutMs?: number;
  reportMode?: boolean;
  prepareOnly?: boolean;
  /** A pre-started kernel (from a pool). The engine shuts it down at the end unless keepKernel is set. */
  kernel?: ExecutionKernel;
  keepKernel?: boolean;
  /** Run the kernel as this user (service running as root). */
  runAs?: RunAs;
  /** Extra environment for the kernel process. */
  env?: Record<string, string>;
  /** Cancels the run: interrupt, then kill; partial output is saved. */
  signal?: AbortSignal;
  onEvent?: (event: EngineEvent) => void;
  /** Minimum interval between output saves during a run (default 1000 ms). */
  saveIntervalMs?: number;
  /** Extra metadata.hubmill fields (e.g. job id). */
  hubmillMetadata?: Record<string, unknown>;
}

export interface RunResult {
  status: RunStatus;
  notebook: Notebook;
  error: RunError | null;
  cellsTotal: number;
  cellsDone: number;
  /** Values recorded with scrapbook's glue (application/scrapbook.scrap.json+json), by name. */
  results: Record<string, unknown>;
  startedAtMs: number;
  finishedAtMs: number;
  kernelName: string;
  /** Non-fatal notes, e.g. papermill's "Input notebook does not contain a cell with tag 'parameters'". */
  warnings: string[];
  /** Settles once the kernel has shut down (the engine does not wait for it before returning). */
  kernelClosed: Promise<void>;
}
