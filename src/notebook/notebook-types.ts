/**
 * Notebook types: the nbformat v4 shapes from @jupyterlab/nbformat, plus the
 * papermill/hubmill metadata we write. Wire fields stay snake_case.
 */
import type * as nbformat from '@jupyterlab/nbformat';
import type { PyFloat } from './py-float.js';

export type Notebook = nbformat.INotebookContent;
export type Cell = nbformat.ICell;
export type CodeCell = nbformat.ICodeCell;
export type Output = nbformat.IOutput;
export type MultilineString = nbformat.MultilineString;
export type { nbformat };

/**
 * Parameters as merged from every source. Beyond JSON values:
 * - `PyFloat` marks a value that is a float in Python terms even when integral (`-p x 1.0`,
 *   YAML `1.0`, `.nan`, `.inf`); a plain `number` is an int when integral, else a float.
 * - `bigint` holds integers outside JS's safe range exactly (`-p n 12345678901234567890`).
 *   JSON.stringify cannot serialise bigint: use `serializeNotebook`/`toJsonText` from notebook/write.
 */
export type ParameterValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyFloat
  | ParameterValue[]
  | { [key: string]: ParameterValue };
export type Parameters = Record<string, ParameterValue>;

/** One entry of `hubmill inspect` (papermill's `--help-notebook`). */
export interface InspectedParameter {
  name: string;
  inferred_type_name: string;
  default: string;
  help: string;
}

/** Cell-level metadata.papermill. */
export interface CellPapermillMetadata {
  status: 'pending' | 'running' | 'completed' | 'failed';
  start_time: string | null;
  end_time: string | null;
  duration: number | null;
  exception: boolean | null;
}
