/**
 * How a cell is named in every message about it (engine errors, the CLI, the HTTP API):
 * its 0-based index in the input notebook, as the API's `cell_index` documents it,
 * plus its execution count when it ran, e.g. `cell 3 (In [4])`. Cells hubmill adds
 * (the injected parameters cell) have no input index.
 */
export function describeCell(cellIndex: number | null, executionCount?: number | null): string {
  const where = cellIndex === null ? 'the injected parameters cell' : `cell ${cellIndex}`;
  return executionCount === null || executionCount === undefined ? where : `${where} (In [${executionCount}])`;
}

/** Where an error happened, for messages; null when it is not tied to a cell (e.g. the kernel did not start). */
export function errorLocation(e: { cell_index: number | null; execution_count?: number | null }): string | null {
  if (e.cell_index === null && (e.execution_count === null || e.execution_count === undefined)) return null;
  return describeCell(e.cell_index, e.execution_count);
}
