/**
 * Where a run's output notebook goes, as the engine sees it: a local file
 * (engine/output-target.ts, `localFileSink`) or a file in the user's Jupyter
 * server written through its Contents API (homes/contents-api.ts,
 * `contentsSink`). The engine and its debounced saver only call `write`; both
 * implementations serialise with notebook/write's `serializeNotebook`, so the
 * bytes are the same wherever they land.
 */
import type { Notebook } from './notebook-types.js';

export interface NotebookSink {
  /** Recorded in metadata.papermill.output_path and the run_started event: an absolute local path or an API path. */
  readonly path: string;
  /** Replaces the whole output with `nb` (atomically for readers); `final`: the run's last save (a local file waits for the disk). */
  write(nb: Notebook, opts?: { final?: boolean }): Promise<void>;
  /** The run is over: release what the sink holds (no write follows). */
  close(): void;
}
