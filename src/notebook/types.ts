/**
 * Notebook types: the nbformat v4 shapes from @jupyterlab/nbformat, plus the
 * papermill/hubmill metadata we write. Wire fields stay snake_case.
 */
import type * as nbformat from '@jupyterlab/nbformat';

export type Notebook = nbformat.INotebookContent;
export type Cell = nbformat.ICell;
export type CodeCell = nbformat.ICodeCell;
export type Output = nbformat.IOutput;
export type MultilineString = nbformat.MultilineString;
export type { nbformat };

/** Parameters as merged from every source: JSON values plus non-finite floats from YAML. */
export type ParameterValue = null | boolean | number | string | ParameterValue[] | { [key: string]: ParameterValue };
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
