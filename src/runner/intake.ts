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
 *
 * Jobs with target `user-server` never touch hubmill's disk: their notebook and
 * output live in the user's own server (contents-intake.ts). With
 * HUBMILL_HOMES=user-server that is every job's default target, and target
 * `local` is refused (there are no local homes to read).
 */
import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { NoSuchKernelError, NotFoundError, UsageError } from '../errors.js';
import type { RunAs } from '../engine/types.js';
import { UserServerNotConfiguredError } from '../kernel/user-server.js';
import { checkParametersForNotebook, checkStrictParametersForNotebook } from '../notebook/check-parameters.js';
import { notebookKernel } from '../notebook/inspect.js';
import type { Notebook } from '../notebook/types.js';
import type { Job, NewJob } from '../store/job-store.js';
import { validateUsername } from '../users/home.js';
import { relativeToHome, resolveInside } from '../users/paths.js';
import { chownToUser } from '../users/run-as.js';
import { checkRemote, checkRemoteStrict, prepareRemote, type RemoteRun } from './contents-intake.js';
import { checkRequestedLimits, type Limits } from './limits.js';
import type { UserServers } from './user-servers.js';

export interface IntakeDeps {
  homeFor(username: string): string;
  limits: Limits;
  readNotebook(path: string): Promise<Notebook>;
  kernelSpec(name: string): Promise<{ name: string; language: string }>;
  runAsFor(username: string): Promise<RunAs | null>;
  /** Users' own servers (jobs with target `user-server`); null: such jobs are refused (422). */
  userServers: UserServers | null;
  /** config.homes: with 'user-server', jobs default to target `user-server` and local homes are never read. */
  homes?: 'local' | 'user-server';
  outputNameFor?(job: Job, notebookRelPath: string): string;
}

/** A claimed job, resolved for its run. */
export interface PreparedRun {
  /** The user's local home; null for a job in the user's server. */
  home: string | null;
  /** The notebook as the output's metadata records it: a real absolute path, or the API path in the user's server. */
  notebookAbs: string;
  notebook: Notebook;
  kernelName: string;
  /** The kernelspec's language, looked up only for a local-target notebook that declares none (the engine needs one to inject parameters). */
  language?: string;
  /** The output's real absolute path; null for a job in the user's server. */
  outputAbs: string | null;
  /** The output relative to the home (or the server's root), as stored on the job. */
  outputRel: string;
  runAs: RunAs | null;
  /** A job in the user's server: what it reads and writes there (release its server when the job ends). */
  remote: RemoteRun | null;
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

  /** Checks a submitted job; returns it as it is stored (paths relative to the home, or to the user's server's root). */
  async check(newJob: NewJob): Promise<NewJob> {
    const username = validateUsername(newJob.username);
    const target = newJob.target ?? (this.deps.homes === 'user-server' ? 'user-server' : 'local');
    if (target === 'user-server') {
      const servers = this.deps.userServers;
      if (!servers) {
        throw new UserServerNotConfiguredError(
          "target 'user-server' needs JupyterHub: set JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN (a token with admin:servers and access:servers) " +
            "and the hub's public URL (HUBMILL_HUB_PUBLIC_URL, JUPYTERHUB_PUBLIC_URL or JUPYTERHUB_HOST)",
        );
      }
      // The notebook is read when the job runs (see contents-intake.ts); here only what needs no server.
      const paths = checkRemote(newJob);
      checkRequestedLimits(this.deps.limits, newJob);
      const checked: NewJob = { ...newJob, username, target, ...paths };
      await checkRemoteStrict(checked, servers);
      return checked;
    }
    if (this.deps.homes === 'user-server') {
      throw new UsageError("target 'local' is not available here: hubmill runs with HUBMILL_HOMES=user-server (no local homes); use target 'user-server'");
    }
    if (newJob.server_name) throw new UsageError("server_name is for jobs with target 'user-server'");
    const { home, notebookAbs, nb } = await this.resolveNotebook(username, newJob.notebook);
    const kernelName = this.kernelNameFor(newJob, nb);
    await this.deps.kernelSpec(kernelName);
    // Names and values the engine could not inject are refused now (422), as `hubmill run` refuses them.
    const kernelTarget = { kernelName, specLanguage: () => this.deps.kernelSpec(kernelName).then((s) => s.language) };
    await checkParametersForNotebook(nb, newJob.parameters, kernelTarget);
    // Opt-in (the web UI's run form): only declared parameters, each fitting its type.
    if (newJob.strict_parameters) await checkStrictParametersForNotebook(nb, newJob.parameters, kernelTarget);
    checkRequestedLimits(this.deps.limits, newJob);
    let outputPath = newJob.output_path ?? null;
    if (outputPath !== null) outputPath = await relativeToHome(home, await resolveInside(home, outputPath));
    return { ...newJob, username, target, server_name: null, notebook: await relativeToHome(home, notebookAbs), output_path: outputPath };
  }

  /** Resolves a claimed job for its run (see the file comment for why this is checked again). */
  async prepare(job: Job, signal?: AbortSignal): Promise<PreparedRun> {
    if (job.target === 'user-server') {
      if (!this.deps.userServers) throw new UserServerNotConfiguredError("target 'user-server' needs JupyterHub (see the job's submit error)");
      const outputName = this.deps.outputNameFor ?? defaultOutputPath;
      const r = await prepareRemote(job, this.deps.userServers, outputName, signal);
      const { remote } = r;
      return { home: null, notebookAbs: remote.notebookPath, notebook: r.notebook, kernelName: r.kernelName, outputAbs: null, outputRel: remote.outputPath, runAs: null, remote };
    }
    const { home, notebookAbs, nb: notebook } = await this.resolveNotebook(job.username, job.notebook);
    const kernelName = this.kernelNameFor(job, notebook);
    const declared = notebookKernel(notebook, kernelName).language;
    const language = declared ?? (await this.deps.kernelSpec(kernelName)).language;
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
    return { home, notebookAbs, notebook, kernelName, language, outputAbs, outputRel: await relativeToHome(home, outputAbs), runAs, remote: null };
  }
}
