/**
 * `metadata.papermill` on the notebook and on every cell, with the keys, values and
 * moments of papermill's NotebookExecutionManager, so papermill-aware tools read our
 * output as papermill's own. Times come from ./clock.ts in Python's isoformat.
 */
import type { Cell, CellPapermillMetadata, Notebook, Parameters } from '../notebook/notebook-types.js';
import { HUBMILL_VERSION } from '../version.js';
import { isoformatUtc, secondsBetween } from './papermill-time.js';
import { cloneJson } from '../notebook/exact-json.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The notebook's `metadata.papermill` at the start of a run. Like papermill, a notebook
 * that already carries one (an earlier run's output) keeps it, `parameters` included,
 * unless parameters are passed now; one without gets papermill's empty defaults. The
 * paths and times are always this run's; `version` is hubmill's (a documented difference).
 */
export function startNotebookMetadata(
  input: Notebook,
  o: { parameters: Parameters; inputPath: string; outputPath: string | null; startUs: number },
): Json {
  const earlier = (input.metadata as Json).papermill;
  const pm: Json = isObject(earlier)
    ? cloneJson(earlier)
    : { default_parameters: {}, parameters: {}, environment_variables: {} };
  if (Object.keys(o.parameters).length > 0) pm.parameters = o.parameters;
  pm.version = HUBMILL_VERSION;
  pm.input_path = o.inputPath;
  pm.output_path = o.outputPath;
  pm.start_time = isoformatUtc(o.startUs);
  pm.end_time = null;
  pm.duration = null;
  pm.exception = null;
  return pm;
}

/** The end of the run; `exception` stays as the cells set it (true once a cell failed). */
export function finishNotebookMetadata(pm: Json, startUs: number, endUs: number): void {
  pm.end_time = isoformatUtc(endUs);
  pm.duration = secondsBetween(startUs, endUs);
}

export function cellMeta(cell: Cell): CellPapermillMetadata {
  return (cell.metadata as Json).papermill as CellPapermillMetadata;
}

/** papermill's notebook_start: every cell pending, code cells without count and outputs. */
export function resetCells(nb: Notebook, reportMode: boolean): void {
  for (const cell of nb.cells) {
    const pending: CellPapermillMetadata = { exception: null, start_time: null, end_time: null, duration: null, status: 'pending' };
    (cell.metadata as Json).papermill = pending;
    if (cell.cell_type === 'code') {
      (cell as Json).execution_count = null;
      (cell as Json).outputs = [];
      if (reportMode) {
        const m = cell.metadata as Json;
        m.jupyter = { ...((m.jupyter as Json | undefined) ?? {}), source_hidden: true };
      }
    }
  }
}

/** papermill's cell_start: running, and `exception: false` until the cell raises. */
export function cellStarted(cell: Cell, us: number): void {
  const m = cellMeta(cell);
  m.start_time = isoformatUtc(us);
  m.status = 'running';
  m.exception = false;
}

/** papermill's cell_exception: the cell failed, and so did the notebook (`exception: true` on both). */
export function cellFailed(cell: Cell, pm: Json): void {
  const m = cellMeta(cell);
  m.exception = true;
  m.status = 'failed';
  pm.exception = true;
}

/** papermill's cell_complete: end time and duration; completed unless it failed. */
export function cellCompleted(cell: Cell, startUs: number, endUs: number): void {
  const m = cellMeta(cell);
  m.end_time = isoformatUtc(endUs);
  m.duration = secondsBetween(startUs, endUs);
  if (m.status !== 'failed') m.status = 'completed';
}
