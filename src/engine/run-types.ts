/**
 * The engine's public contract: run one notebook on one kernel with papermill's
 * semantics. The CLI and the service's runner both call `executeNotebook`.
 */
import type { FinalStatus } from '../job-states.js';
import type { NotebookSink } from '../notebook/io.js';
import type { Notebook, Output, Parameters } from '../notebook/notebook-types.js';
import type { KernelSource } from './kernel-source.js';
import type { RunAs } from '../kernel/launcher.js';
import type { Redactor } from '../secrets/redactor.js';

/** How a run ended: a job's final states (job-states.ts). */
export type RunStatus = FinalStatus;

/**
 * What went wrong in a run. A failing cell is named one way everywhere (notebook/cell-ref.ts):
 * `cell_index`, its 0-based index in the INPUT notebook (the injected parameters cell and
 * papermill's marker cells are not counted; null for the injected cell and for errors not
 * tied to a cell), and `execution_count`, its `In [n]` when it ran (null otherwise; absent
 * in errors recorded before hubmill reported it).
 */
export interface RunError {
  ename: string;
  evalue: string;
  traceback: string[];
  cell_index: number | null;
  execution_count?: number | null;
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
  /** Writes the output somewhere else than a local file (e.g. the user's server); when set, `outputPath` is not used. */
  output?: NotebookSink;
  /** Merged parameters; injection happens only when non-empty. */
  parameters: Parameters;
  /** The kernel to run on, as the caller resolved it once (the job's, else the notebook's: notebook/kernel.ts). */
  kernelName: string;
  /** Its language, as the caller resolved it (the notebook's); absent: the kernelspec's. Never read from the notebook here. */
  language?: string;
  /** Working directory of the kernel process (default: the input notebook's folder, else process cwd). */
  cwd?: string;
  /** Per-cell timeout (papermill --execution-timeout). */
  cellTimeoutMs?: number;
  /** Whole-run timeout. */
  runTimeoutMs?: number;
  reportMode?: boolean;
  prepareOnly?: boolean;
  /**
   * Where the kernel comes from (default: a fresh launch, `freshKernels()`). The engine
   * asks it once, after parameter injection, and gives the kernel back at the end.
   */
  kernels?: KernelSource;
  /** Cancels the run: interrupt, then kill; partial output is saved. */
  signal?: AbortSignal;
  onEvent?: (event: EngineEvent) => void;
  /** Minimum interval between output saves during a run (default 1000 ms). */
  saveIntervalMs?: number;
  /** Bound on the bytes of output the notebook holds (engine/output-cap.ts); absent or 0: none. */
  maxOutputBytes?: number;
  /**
   * Asked before every write of the output file; false skips that write. A job's runner
   * answers false once its lease was reclaimed, so a stale run never overwrites the output
   * of the run that counts. Default: always write.
   */
  mayWrite?: () => boolean | Promise<boolean>;
  /** Extra metadata.hubmill fields (e.g. job id). */
  hubmillMetadata?: Record<string, unknown>;
  /**
   * The run's secret values: every kernel message is redacted as it arrives (cell-execution.ts), before
   * it reaches the notebook, the events or the results; the error and the notebook are checked again at the end.
   */
  redactor?: Redactor;
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
  /** Settles once the kernel was given back to its source (shut down by default); the engine does not wait for it before returning. */
  kernelClosed: Promise<void>;
}
