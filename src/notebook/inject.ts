/**
 * Parameter injection and papermill's error marker cells.
 */
import { findTaggedCell, inspectPythonSource, cellTags } from './inspect.js';
import { newCellId, sourceText } from './read.js';
import { PythonTranslator, getTranslator, renderParametersCell } from './translators/index.js';
import { splitLines } from './write.js';
import type { Cell, CodeCell, Notebook, Parameters } from './notebook-types.js';
import { cloneJson } from './exact-json.js';

export const INJECTED_TAG = 'injected-parameters';
export const PARAMETERS_TAG = 'parameters';
export const ERROR_MARKER_TAG = 'papermill-error-cell-tag';
export const NO_PARAMETERS_CELL_WARNING = "Input notebook does not contain a cell with tag 'parameters'";

export interface InjectOptions {
  /** Kernel name used to pick the translator, as the caller resolved it (this module never reads the notebook's). */
  kernelName: string | undefined;
  /** Language used when the kernel name has no translator, as the caller resolved it. */
  language?: string;
  /** --report-mode: hide the injected cell's source. */
  reportMode?: boolean;
  /** The injected cell's comment, default `Parameters`. */
  comment?: string;
}

export interface InjectResult {
  /** A copy of the input with the injected cell; the input is not modified. */
  notebook: Notebook;
  warnings: string[];
  /** Where the injected cell is, and whether it replaced an earlier injected cell (else it was inserted); null when nothing was injected. */
  injected: { index: number; replaced: boolean } | null;
}

/**
 * Inject `params` like papermill: replace the first `injected-parameters` cell in place,
 * else insert after the first `parameters` cell, else at the top with a warning. The cell
 * holds only the passed values. Nothing happens for empty params. Names the Python
 * `parameters` cell does not assign produce `Passed unknown parameter: NAME` warnings
 * (other languages cannot be inspected, so they get none — papermill would warn for all).
 */
export function injectParameters(nb: Notebook, params: Parameters, options: InjectOptions): InjectResult {
  const notebook = cloneJson(nb);
  const warnings: string[] = [];
  if (Object.keys(params).length === 0) return { notebook, warnings, injected: null };

  const translator = getTranslator(options.kernelName, options.language);
  const source = renderParametersCell(params, translator, options.comment);

  const injectedIndex = findTaggedCell(notebook, INJECTED_TAG);
  const paramsIndex = findTaggedCell(notebook, PARAMETERS_TAG);
  const used = new Set(notebook.cells.map((c) => c.id).filter((id): id is string => typeof id === 'string'));
  const cell: CodeCell = {
    // A replaced cell keeps its id so re-running an output notebook gives stable diffs.
    id: injectedIndex >= 0 && typeof notebook.cells[injectedIndex]!.id === 'string' ? notebook.cells[injectedIndex]!.id : newCellId(used),
    cell_type: 'code',
    execution_count: null,
    metadata: { tags: [INJECTED_TAG], ...(options.reportMode ? { jupyter: { source_hidden: true } } : {}) },
    outputs: [],
    source: splitLines(source),
  };
  let injected: { index: number; replaced: boolean };
  if (injectedIndex >= 0) {
    notebook.cells[injectedIndex] = cell;
    injected = { index: injectedIndex, replaced: true };
  } else if (paramsIndex >= 0) {
    notebook.cells.splice(paramsIndex + 1, 0, cell);
    injected = { index: paramsIndex + 1, replaced: false };
  } else {
    warnings.push(NO_PARAMETERS_CELL_WARNING);
    notebook.cells.unshift(cell);
    injected = { index: 0, replaced: false };
  }

  if (paramsIndex >= 0 && translator instanceof PythonTranslator) {
    const declared = new Set(inspectPythonSource(sourceText(notebook.cells[findTaggedCell(notebook, PARAMETERS_TAG)]!)).map((p) => p.name));
    for (const name of Object.keys(params)) {
      if (!declared.has(name)) warnings.push(`Passed unknown parameter: ${name}`);
    }
  }
  return { notebook, warnings, injected };
}

export function isErrorMarker(cell: Cell): boolean {
  return cellTags(cell).includes(ERROR_MARKER_TAG);
}

/** Remove marker cells left by an earlier failed run (tag `papermill-error-cell-tag`). Mutates and returns `nb`. */
export function removeErrorMarkers(nb: Notebook): Notebook {
  nb.cells = nb.cells.filter((c) => !isErrorMarker(c));
  return nb;
}

const ERROR_STYLE = 'style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;"';

/**
 * papermill's two marker cells for a failed run: `[top, anchor]`. `top` goes first in the
 * notebook and links to `anchor`, which goes right before the failing cell. Only
 * insertErrorMarkers places them.
 */
export function makeErrorMarkers(executionCount: number | null, usedIds: Set<string> = new Set()): [Cell, Cell] {
  const top = `<span ${ERROR_STYLE}>An Exception was encountered at '<a href="#papermill-error-cell">In [${executionCount === null ? 'None' : executionCount}]</a>'.</span>`;
  const anchor = `<span id="papermill-error-cell" ${ERROR_STYLE}>Execution using papermill encountered an exception here and stopped:</span>`;
  const marker = (source: string): Cell => ({
    id: newCellId(usedIds),
    cell_type: 'markdown',
    metadata: { tags: [ERROR_MARKER_TAG] },
    source,
  });
  return [marker(top), marker(anchor)];
}

/** Insert both markers (anchor before the failing cell, then the top one). Mutates `nb`; returns the failing cell's new index. */
export function insertErrorMarkers(nb: Notebook, failingIndex: number, executionCount: number | null): number {
  const used = new Set(nb.cells.map((c) => c.id).filter((id): id is string => typeof id === 'string'));
  const [top, anchor] = makeErrorMarkers(executionCount, used);
  nb.cells.splice(failingIndex, 0, anchor);
  nb.cells.unshift(top);
  return failingIndex + 2;
}
