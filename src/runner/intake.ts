/**
 * Intake: the checks a job passes, with one set of rules for the two moments
 * they apply. Where the files are is the job's home's business (homes/): intake
 * asks it for the notebook, the output and the kernel source, and never looks
 * at the job's target itself.
 *
 * - At submission (`check`), once per request: the home can serve the job,
 *   the notebook lies inside it (and parses, when the home reads at
 *   submission), its kernel is known (name and language, read from the
 *   notebook here once and stored with the job), the parameters can be injected, the
 *   limits are within the maximums, the output path stays inside the home.
 *   The answer is the job as stored: paths normalized relative to the home.
 *   Callers (HTTP routes, later schedules) pass the caller's fields through
 *   and do not resolve paths themselves.
 * - When the job runs (`prepare`), possibly hours later and in another
 *   process: the same resolution again, because the files may have changed
 *   meanwhile (a deleted notebook, a folder swapped for a symlink). It adds what
 *   only the run needs: the parsed notebook, the identity to run as, the output
 *   (hubmill's default folder is created here). The kernel is the one resolved
 *   at submission (`job.kernel`, `job.kernel_language`): a notebook whose
 *   kernelspec was edited meanwhile still runs on the kernel it was checked
 *   against. A home that does not read at submission (the user's server), and a
 *   job stored before the language was kept, has its notebook's kernel read and
 *   checked here, and a failure is the job's recorded error.
 */
import type { RunAs } from '../engine/run-types.js';
import { NoSuchKernelError } from '../errors.js';
import type { Home, NotebookFile, OutputPlace } from '../homes/home.js';
import type { Homes } from '../homes/homes.js';
import { checkParametersForNotebook, checkStrictParametersForNotebook, declaredParameterNames, type CheckTarget } from '../notebook/check-parameters.js';
import { notebookKernel } from '../notebook/kernel.js';
import type { Notebook } from '../notebook/notebook-types.js';
import type { Job, NewJob } from '../store/job-store.js';
import { checkRequestedLimits, type Limits } from './time-limits.js';

export interface IntakeDeps {
  homes: Homes;
  limits: Limits;
}

/** A submitted job, checked: what the store keeps, and what was read from the notebook to check it. */
export interface CheckedJob {
  /** The job as stored (paths relative to the home, or to the user's server's root; the target and server name decided). */
  job: NewJob;
  /**
   * The kernel the run will use (the job's `kernel`, else the notebook's) and its language (the notebook's, else its
   * kernelspec's), read once here; null when the home reads the notebook only when the job runs (the user's server).
   */
  kernel: { name: string; language: string | undefined } | null;
  /**
   * With CheckOptions.declaredParameters: the names the notebook's parameters cell declares ([] without one),
   * null when its language cannot be inspected. Absent otherwise.
   */
  declared_parameters?: string[] | null;
}

export interface CheckOptions {
  /**
   * Read the notebook even where the home reads it only when the job runs, and answer the parameter names
   * its parameters cell declares (a pipeline's save-time check: runner/pipeline-intake.ts).
   */
  declaredParameters?: boolean;
}

/** A claimed job, resolved for its run. */
export interface PreparedRun {
  /** The job's home: release it once the job's kernel is shut down. */
  home: Home;
  notebook: NotebookFile;
  kernelName: string;
  /** The kernel's language: the notebook's, else its kernelspec's when the home knows them (the engine needs one to inject parameters). */
  language?: string;
  runAs: RunAs | null;
  output: OutputPlace;
}

function kernelNameFor(job: { kernel?: string | null }, nb: Notebook): string {
  const name = job.kernel ?? notebookKernel(nb).kernelName;
  if (!name) throw new NoSuchKernelError('the notebook names no kernel (metadata.kernelspec.name) and the job gives none');
  return name;
}

/**
 * The kernel a job runs on, read from the notebook here (the one place, see notebook/kernel.ts): the job's name,
 * else the notebook's; the notebook's language, else the kernelspec's when the home knows them. The kernelspec is
 * asked always with 'required' (an unknown kernel is refused: NoSuchKernelError), else only for a missing language.
 */
async function readKernel(home: Home, job: { kernel?: string | null }, nb: Notebook, spec: 'required' | 'for-language'): Promise<CheckTarget> {
  const kernelName = kernelNameFor(job, nb);
  const declared = notebookKernel(nb, kernelName).language;
  if (declared !== undefined && spec === 'for-language') return { kernelName, language: declared };
  const ks = await home.kernelSpec?.(kernelName);
  return { kernelName, language: declared ?? ks?.language };
}

export class Intake {
  constructor(private readonly deps: IntakeDeps) {}

  /** Checks a submitted job (400, 404, 422 with the reason); returns it as it is stored, with the kernel it was checked against. */
  async check(newJob: NewJob, opts: CheckOptions = {}): Promise<CheckedJob> {
    const home = this.deps.homes.forSubmission(newJob);
    try {
      const paths = await home.storedPaths(newJob.notebook, newJob.output_path ?? null);
      checkRequestedLimits(this.deps.limits, newJob);
      // Strict parameters are not stored with the job: they are checked now, even where reading is slow.
      const strict = newJob.strict_parameters === true && Object.keys(newJob.parameters).length > 0;
      let kernel: CheckedJob['kernel'] = null;
      let declared: CheckedJob['declared_parameters'];
      if (home.readsAtSubmission || strict || opts.declaredParameters) {
        const { notebook } = await home.readNotebook(paths.notebook);
        const target = await readKernel(home, newJob, notebook, 'required');
        kernel = { name: target.kernelName, language: target.language };
        // Names and values the engine could not inject are refused now (422), as `hubmill run` refuses them.
        await checkParametersForNotebook(notebook, newJob.parameters, target);
        // Opt-in (the web UI's run form): only declared parameters, each fitting its type.
        if (newJob.strict_parameters) await checkStrictParametersForNotebook(notebook, newJob.parameters, target);
        if (opts.declaredParameters) declared = declaredParameterNames(notebook, target);
      }
      const job = { ...newJob, target: home.target, server_name: home.serverName, ...paths };
      return declared === undefined ? { job, kernel } : { job, kernel, declared_parameters: declared };
    } finally {
      home.release();
    }
  }

  /** Resolves a claimed job for its run (see the file comment for why this is checked again); the caller releases `home`. */
  async prepare(job: Job, signal?: AbortSignal): Promise<PreparedRun> {
    const home = this.deps.homes.forJob(job);
    try {
      const file = await home.readNotebook(job.notebook, signal);
      // Resolved at submission: used as it was checked, the notebook's kernelspec is not read again.
      const resolved = job.kernel !== null && job.kernel_language !== null ? { kernelName: job.kernel, language: job.kernel_language } : null;
      const { kernelName, language } = resolved ?? (await readKernel(home, job, file.notebook, 'for-language'));
      // Checked at submission where the home reads then; otherwise now, recorded as the job's error.
      if (!home.readsAtSubmission) await checkParametersForNotebook(file.notebook, job.parameters, { kernelName, language });
      const runAs = await home.runAs();
      const output = await home.output(job, file, runAs, signal);
      return { home, notebook: file, kernelName, language, runAs, output };
    } catch (err) {
      home.release();
      throw err;
    }
  }
}
