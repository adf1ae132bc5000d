/**
 * What a pipeline file is checked against on this machine, without a store or
 * kernels (`hubmill pipeline validate`, and `run` before it starts anything):
 * the owner (the user running the command), the home the notebook paths are
 * relative to, and the service's save-time check (runner/pipeline-intake.ts)
 * reading notebooks and kernelspecs from here.
 */
import { cpus, userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { intakeFor } from '../runner/intake-for.js';
import { PipelineIntake } from '../runner/pipeline-intake.js';
import { isValidUsername } from '../users/home-path.js';

/** The owner of local runs: this user, when the name is one hubmill accepts. */
export function localOwner(): string {
  let name = '';
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry (a container's arbitrary uid).
  }
  return isValidUsername(name) ? name : 'local';
}

/** The home of a pipeline file: --home, else the file's folder; it must be a folder. */
export async function localHome(file: string, home: string | undefined): Promise<string> {
  const dir = resolve(home ?? dirname(resolve(file)));
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new UsageError(`the home ${dir} is not a folder`);
  return dir;
}

/** The for_each concurrency of a task that sets none, and the jobs running at once: as the service's default. */
export function defaultConcurrency(): number {
  return Math.max(1, cpus().length);
}

/** The save-time check with this machine's kernelspecs, reading notebooks from `home` (no kernels started). */
export function localChecker(home: string, concurrency = defaultConcurrency()): PipelineIntake {
  const intake = intakeFor({ homeFor: () => home, runAsFor: async () => null });
  return new PipelineIntake({ check: (job, opts) => intake.check(job, opts), defaultConcurrency: concurrency });
}
