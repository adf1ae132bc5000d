/**
 * Intake: the checks a job passes, with one set of rules for the two moments
 * they apply.
 *
 * - At submission (`check`), once per request: the user's home exists, the
 *   notebook lies inside it and parses, its kernel is known (or the user's own
 *   server is configured), the limits are within the maximums, the output path
 *   stays inside the home. The answer is the job as stored: paths normalized
 *   relative to the home. Callers (HTTP routes, later schedules) pass the
 *   caller's fields through and do not resolve paths themselves.
 * - When the job runs (`prepare`), possibly hours later and in another
 *   process: the same resolution again, because the files may have changed
 *   meanwhile (a deleted notebook, a folder swapped for a symlink). It adds what
 *   only the run needs: the parsed notebook, the identity to run as, the output
 *   file (hubmill's default folder is created here).
 */
import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { NoSuchKernelError, NotFoundError } from '../errors.js';
import type { RunAs } from '../engine/types.js';
import { UserServerNotConfiguredError } from '../kernel/user-server.js';
import { checkParametersForNotebook, checkStrictParametersForNotebook } from '../notebook/check-parameters.js';
import { notebookKernel } from '../notebook/inspect.js';
import type { Notebook } from '../notebook/types.js';
import type { Job, NewJob } from '../store/job-store.js';
import { validateUsername } from '../users/home.js';
import { relativeToHome, resolveInside } from '../users/paths.js';
import { chownToUser } from '../users/run-as.js';
import { checkRequestedLimits, type Limits } from './limits.js';

export interface IntakeDeps {
  homeFor(username: string): string;
  limits: Limits;
  readNotebook(path: string): Promise<Notebook>;
  kernelSpec(name: string): Promise<{ name: string; language: string }>;
  runAsFor(username: string): Promise<RunAs | null>;
  /** Whether jobs with target `user-server` can run here. */
  userServerAvailable: boolean;
  outputNameFor?(job: Job, notebookRelPath: string): string;
}

/** A claimed job, resolved for its run. */
export interface PreparedRun {
  home: string;
  notebookAbs: string;
  notebook: Notebook;
  kernelName: string;
  /** The kernelspec's language, looked up only for a local-target notebook that declares none (the engine needs one to inject parameters). */
  language?: string;
  outputAbs: string;
  outputRel: string;
  runAs: RunAs | null;
}

/** The default output: `<notebook folder>/hubmill-outputs/<stem>-<job id>.ipynb`, relative to the home. */
export function defaultOutputPath(job: Job, notebookRelPath: string): string {
  const dir = dirname(notebookRelPath);
  const name = basename(notebookRelPath);
  const stem = name.endsWith('.ipynb') ? name.slice(0, -6) : name;
  const rel = `hubmill-outputs/${stem}-${job.id}.ipynb`;
  return dir === '.' ? rel : `${dir}/${rel}`;
}

function notebookKernelName(nb: Notebook): string | null {
  return notebookKernel(nb).kernelName ?? null;
}

export class Intake {
  constructor(private readonly deps: IntakeDeps) {}

  private async existingHome(username: string): Promise<string> {
    const home = this.deps.homeFor(username);
    const st = await stat(home).catch(() => null);
    if (!st?.isDirectory()) throw new NotFoundError(`user ${username} not found (no home folder)`);
    return home;
  }

  /** The home, the notebook's real path inside it, and the parsed notebook. */
  private async resolveNotebook(username: string, notebook: string): Promise<{ home: string; notebookAbs: string; nb: Notebook }> {
    const home = await this.existingHome(validateUsername(username));
    const notebookAbs = await resolveInside(home, notebook, { mustExist: true });
    const st = await stat(notebookAbs);
    if (!st.isFile()) throw new NotFoundError(`notebook not found: ${notebook}`);
    return { home, notebookAbs, nb: await this.deps.readNotebook(notebookAbs) };
  }

  private kernelNameFor(job: { kernel?: string | null }, nb: Notebook): string {
    const name = job.kernel ?? notebookKernelName(nb);
    if (!name) throw new NoSuchKernelError('the notebook names no kernel (metadata.kernelspec.name) and the job gives none');
    return name;
  }

  /** Checks a submitted job; returns it as it is stored (paths relative to the home). */
  async check(newJob: NewJob): Promise<NewJob> {
    const username = validateUsername(newJob.username);
    const { home, notebookAbs, nb } = await this.resolveNotebook(username, newJob.notebook);
    const kernelName = this.kernelNameFor(newJob, nb);
    if ((newJob.target ?? 'local') === 'user-server') {
      // The kernel is the user's server's business: its kernelspecs are checked when the job starts.
      if (!this.deps.userServerAvailable) {
        throw new UserServerNotConfiguredError(
          "target 'user-server' needs JupyterHub: set JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN (a token with admin:servers and access:servers) " +
            "and the hub's public URL (HUBMILL_HUB_PUBLIC_URL, JUPYTERHUB_PUBLIC_URL or JUPYTERHUB_HOST)",
        );
      }
    } else {
      await this.deps.kernelSpec(kernelName);
    }
    // Names and values the engine could not inject are refused now (422), as `hubmill run` refuses them.
    const target = { kernelName, specLanguage: () => this.deps.kernelSpec(kernelName).then((s) => s.language) };
    await checkParametersForNotebook(nb, newJob.parameters, target);
    // Opt-in (the web UI's run form): only declared parameters, each fitting its type.
    if (newJob.strict_parameters) await checkStrictParametersForNotebook(nb, newJob.parameters, target);
    checkRequestedLimits(this.deps.limits, newJob);
    let outputPath = newJob.output_path ?? null;
    if (outputPath !== null) outputPath = await relativeToHome(home, await resolveInside(home, outputPath));
    return { ...newJob, username, notebook: await relativeToHome(home, notebookAbs), output_path: outputPath };
  }

  /** Resolves a claimed job for its run (see the file comment for why this is checked again). */
  async prepare(job: Job): Promise<PreparedRun> {
    const { home, notebookAbs, nb: notebook } = await this.resolveNotebook(job.username, job.notebook);
    const kernelName = this.kernelNameFor(job, notebook);
    const declared = notebookKernel(notebook, kernelName).language;
    const language = declared ?? (job.target === 'user-server' ? undefined : (await this.deps.kernelSpec(kernelName)).language);
    const runAs = await this.deps.runAsFor(job.username);
    const notebookRel = await relativeToHome(home, notebookAbs);
    const wanted = job.output_path ?? (this.deps.outputNameFor ?? defaultOutputPath)(job, notebookRel);
    let outputAbs = await resolveInside(home, wanted);
    const outDir = dirname(outputAbs);
    const dirSt = await stat(outDir).catch(() => null);
    if (!dirSt) {
      if (job.output_path !== null) throw new NotFoundError(`output folder does not exist: ${dirname(job.output_path)}`);
      // Only hubmill's own default folder is created, one level, owned by the user.
      await mkdir(outDir, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      await chownToUser(outDir, runAs);
      // Re-check: the folder may have been swapped for a symlink meanwhile.
      outputAbs = await resolveInside(home, wanted);
    } else if (!dirSt.isDirectory()) {
      throw new NotFoundError(`output folder is not a folder: ${dirname(wanted)}`);
    }
    return { home, notebookAbs, notebook, kernelName, language, outputAbs, outputRel: await relativeToHome(home, outputAbs), runAs };
  }
}
