/**
 * Where the engine writes the output notebook, pinned at the start of the run.
 * The parent folder is opened once (O_DIRECTORY|O_NOFOLLOW) and every later save goes
 * through /proc/self/fd/<fd>/<name>, so a notebook that swaps its output folder for a
 * symlink mid-run (while hubmill runs as root) cannot redirect our writes elsewhere.
 * Off Linux (no /proc) it falls back to the plain path.
 */
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { NotebookSink } from '../notebook/io.js';
import { writeNotebookFile } from '../notebook/write.js';

export class OutputTarget {
  private fd: number | null = null;
  readonly writePath: string;

  constructor(readonly path: string) {
    let writePath = path;
    if (existsSync('/proc/self/fd')) {
      try {
        this.fd = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
        writePath = join(`/proc/self/fd/${this.fd}`, basename(path));
      } catch {
        // The folder is missing or is itself a symlink: let the first write report it plainly.
        this.fd = null;
      }
    }
    this.writePath = writePath;
  }

  close(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        // Already closed.
      }
      this.fd = null;
    }
  }
}

/** The output as a local file (absolute path), written atomically through an OutputTarget. */
export function localFileSink(path: string): NotebookSink {
  const target = new OutputTarget(path);
  return {
    path,
    // Only the final save waits for the disk (fsync): the start and progress saves are superseded by it.
    write: (nb, o) => writeNotebookFile(target.writePath, nb, { sync: o?.final === true }),
    close: () => target.close(),
  };
}
