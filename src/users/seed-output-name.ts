/**
 * The seed's output file for `POST /execute`: `<stem>_output_<YYYYMMDD_HHMMSS>.ipynb`
 * in the user's home (local time, as Python's `datetime.now().strftime` gives).
 * Never overwrites: the file is created with O_CREAT|O_EXCL (`wx`), which also
 * refuses to follow a symlink planted at that name; when the name is taken
 * (same second, or an existing file) `_1`, `_2`... are appended before `.ipynb`.
 */
import { open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { HubmillError } from '../errors.js';
import type { RunAs } from '../engine/run-types.js';
import { chownToUser } from './run-as.js';

const pad = (n: number): string => String(n).padStart(2, '0');

/** `YYYYMMDD_HHMMSS` in local time. */
export function seedTimestamp(now: Date): string {
  return `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}_${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
}

/** The notebook's file name without `.ipynb`. */
export function notebookStem(notebookPath: string): string {
  const name = basename(notebookPath);
  return name.endsWith('.ipynb') ? name.slice(0, -'.ipynb'.length) : name;
}

export function seedOutputName(notebookPath: string, now: Date, attempt = 0): string {
  return `${notebookStem(notebookPath)}_output_${seedTimestamp(now)}${attempt > 0 ? `_${attempt}` : ''}.ipynb`;
}

/**
 * Creates an empty placeholder for the output in `dir` (the user's real home)
 * and returns its absolute path; the engine then writes the notebook there.
 * Race-free: two concurrent calls in the same second get different files.
 */
export async function reserveSeedOutput(
  dir: string,
  notebookPath: string,
  opts: { now?: Date; runAs?: RunAs | null; maxAttempts?: number } = {},
): Promise<string> {
  const now = opts.now ?? new Date();
  const maxAttempts = opts.maxAttempts ?? 1000;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const path = join(dir, seedOutputName(notebookPath, now, attempt));
    try {
      const fh = await open(path, 'wx', 0o644);
      await fh.close();
      await chownToUser(path, opts.runAs);
      return path;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
  }
  throw new HubmillError(`could not find a free output name for ${basename(notebookPath)} after ${maxAttempts} attempts`);
}
