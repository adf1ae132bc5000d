/**
 * A home: where one user's notebooks and job outputs live, and where the
 * kernels of their jobs run. Two implementations, chosen per job by its
 * `target` (homes.ts):
 *
 * - `local` (local-home.ts): a folder on this machine from the home template;
 *   files read and written on disk, kernels started here (warm pool or fresh
 *   launch, as the job's user) or on a Jupyter gateway (local-kernels.ts).
 * - `user-server` (user-server-home.ts): the user's own Jupyter server
 *   reached through JupyterHub (started when needed, user-servers.ts); files
 *   through its Contents API (contents-api.ts), kernels started in it.
 *
 * Like vscode-jupyter's finder / launcher / session split, a home answers four
 * questions: which notebooks there are (`listNotebooks`), what a notebook says
 * (`readNotebook`), where the executed notebook is saved (`output`: a
 * `NotebookSink` the engine writes incrementally) and where its kernel runs
 * (`kernelSource`: a `KernelSource` the engine asks once). Intake asks the
 * job's home and never looks at the target itself.
 */
import { basename, dirname } from 'node:path';
import type { KernelSource } from '../engine/kernel-source.js';
import type { RunAs } from '../engine/run-types.js';
import type { NotebookSink } from '../notebook/io.js';
import type { Notebook } from '../notebook/notebook-types.js';
import type { Job, JobTarget } from '../store/job-store.js';
import type { ListNotebooksOptions, NotebookEntry } from '../users/notebook-listing.js';

/** config.homes (HUBMILL_HOMES): where users' files live. */
export type HomesMode = 'local' | 'user-server';

/**
 * The one rule for a job that names no target (the jobs API, the seed's
 * endpoints, schedule fires): the configured homes. With
 * HUBMILL_HOMES=user-server every job runs in the user's server.
 */
export function defaultTarget(mode: HomesMode): JobTarget {
  return mode === 'user-server' ? 'user-server' : 'local';
}

/** A notebook read from a home. */
export interface NotebookFile {
  /** As stored on the job: relative to the home (or the server's root), '/'-separated. */
  path: string;
  /** As the output's metadata records it: the real absolute path, or the API path in the user's server. */
  location: string;
  /** The kernel's working folder as the engine passes it on (absolute); undefined in the user's server (its kernel source knows the folder). */
  cwd: string | undefined;
  notebook: Notebook;
}

/** Where one job's executed notebook goes, made ready for the run. */
export interface OutputPlace {
  /** As stored on the job: relative to the home (or the server's root). */
  path: string;
  /** The output's file on this machine (given to the job's user after the run); null in the user's server. */
  localPath: string | null;
  /** The sink the engine saves through (at the start, as cells finish, at the end); call once per run. */
  sink(): NotebookSink;
}

/** What a home needs to hand out a job's kernel. */
export interface KernelNeeds {
  job: Job;
  /** The notebook as read (`readNotebook`): its folder is the kernel's. */
  notebook: NotebookFile;
  runAs: RunAs | null;
  /** The job's extra kernel environment (a local warm kernel fits only without one). */
  env: Record<string, string> | undefined;
}

/** One user's home, for one job or one request (see the file comment). */
export interface Home {
  readonly target: JobTarget;
  /** The user's named server, as stored on a job ('' / null: the default server; always null for a local home). */
  readonly serverName: string | null;
  /** The home as the seed's listings name it: the local folder, '' for the user's server. */
  readonly root: string;
  /**
   * Whether reading a notebook is cheap enough for a submission. False for the
   * user's server, which may have to be started first (tens of seconds): its
   * notebooks are read when the job runs, and at submission only when a check
   * cannot wait (strict parameters).
   */
  readonly readsAtSubmission: boolean;
  /** The caller's notebook and output paths as stored, checked (400 unsafe, 404 missing); reads nothing when !readsAtSubmission. */
  storedPaths(notebook: string, outputPath: string | null): Promise<{ notebook: string; output_path: string | null }>;
  /** Every notebook in the home, breadth-first, sorted by path. */
  listNotebooks(opts?: ListNotebooksOptions): Promise<NotebookEntry[]>;
  /** Reads and parses a notebook (a stored path); NotFoundError when it is not there. */
  readNotebook(path: string, signal?: AbortSignal): Promise<NotebookFile>;
  /** The kernelspec this home's kernels come from (NoSuchKernelError); null when hubmill cannot know them (the user's server's). */
  readonly kernelSpec: ((name: string) => Promise<{ name: string; language: string }>) | null;
  /** Whom the job's kernel and files belong to (local: the user's identity when hubmill may switch to it; null otherwise). */
  runAs(): Promise<RunAs | null>;
  /** The job's output, ready to be written (hubmill's default folder is created; a caller's folder must exist). */
  output(job: Job, notebook: NotebookFile, runAs: RunAs | null, signal?: AbortSignal): Promise<OutputPlace>;
  /** Where the job's kernel runs. */
  kernelSource(needs: KernelNeeds): KernelSource;
  /** Gives back what the home holds (the user's server, for its idle stop); call once, after the kernel is shut down. */
  release(): void;
}

/** The default output: `<notebook folder>/hubmill-outputs/<stem>-<job id>.ipynb`, relative to the home. */
export function defaultOutputPath(job: Pick<Job, 'id'>, notebookRelPath: string): string {
  const dir = dirname(notebookRelPath);
  const name = basename(notebookRelPath);
  const stem = name.endsWith('.ipynb') ? name.slice(0, -6) : name;
  const rel = `hubmill-outputs/${stem}-${job.id}.ipynb`;
  return dir === '.' ? rel : `${dir}/${rel}`;
}
