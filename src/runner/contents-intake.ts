/**
 * Intake of jobs with target `user-server`: the notebook lives in the user's
 * own Jupyter server and is read, and the output written, through that
 * server's Contents API. hubmill's disk is never used for them, so it needs no
 * shared homes.
 *
 * At submission (`checkRemote`) nothing is read: the paths are checked
 * lexically (API paths: relative, '/'-separated, no `..`, no NUL; 400
 * otherwise), the server name too, and the limits. Starting a user's server
 * just to look at a notebook would make a submit take up to the server's start
 * time, so the checks that read the notebook (it exists, its kernel, parameters
 * that cannot be injected) run when the job runs (`prepareRemote`), and their
 * error is recorded on the job (status failed, e.g. ename NotFoundError for a
 * missing notebook, ParameterError for a refused parameter). One exception:
 * `strict_parameters` (the web UI's run form) is not stored with the job, so
 * when it is asked for with parameters, the submission reads the notebook
 * through the server (`checkRemoteStrict`; the server is started if needed,
 * bounded by the start timeout) and refuses with 422 as for a local notebook.
 */
import { NoSuchKernelError, NotFoundError, UsageError } from '../errors.js';
import { SERVER_NAME, serverLabel } from '../kernel/user-server.js';
import { checkParametersForNotebook, checkStrictParametersForNotebook } from '../notebook/check-parameters.js';
import { notebookKernel } from '../notebook/inspect.js';
import { parseNotebook } from '../notebook/read.js';
import type { Notebook } from '../notebook/types.js';
import type { Job, NewJob } from '../store/job-store.js';
import { apiDirname, apiPath, ContentsApi } from '../users/contents-api.js';
import type { AcquiredServer, UserServers } from './user-servers.js';

/** What a job running in the user's server reads and writes there. */
export interface RemoteRun {
  server: AcquiredServer;
  api: ContentsApi;
  /** API paths (relative to the server's root). */
  notebookPath: string;
  outputPath: string;
  /** The notebook's folder: the kernel's working directory. */
  folder: string;
}

/** A server name from a request: '' and absent mean the default server (stored as null). */
export function checkServerName(name: string | null | undefined): string | null {
  if (name === undefined || name === null || name === '') return null;
  if (typeof name !== 'string' || !SERVER_NAME.test(name)) {
    throw new UsageError(`not a server name: ${JSON.stringify(String(name).slice(0, 80))} (letters, digits, '.', '_' and '-', at most 64)`);
  }
  return name;
}

/** The lexical checks of a user-server job at submission; returns the paths as stored. */
export function checkRemote(newJob: NewJob): Pick<NewJob, 'notebook' | 'output_path' | 'server_name'> {
  const notebook = apiPath(newJob.notebook);
  if (notebook === '') throw new NotFoundError('notebook not found: the path names the server\'s root folder');
  const output = newJob.output_path ?? null;
  return {
    notebook,
    output_path: output === null ? null : apiPath(output),
    server_name: checkServerName(newJob.server_name),
  };
}

interface OpenedNotebook {
  server: AcquiredServer;
  api: ContentsApi;
  label: string;
  notebookPath: string;
  notebook: Notebook;
  kernelName: string;
}

/** The user's server (started if needed) and the notebook read through it; the server is released on error. */
async function openRemoteNotebook(
  job: Pick<NewJob, 'username' | 'notebook' | 'kernel' | 'parameters'> & { server_name?: string | null },
  servers: UserServers,
  signal?: AbortSignal,
): Promise<OpenedNotebook> {
  const notebookPath = apiPath(job.notebook);
  const serverName = job.server_name ?? '';
  const server = await servers.acquire(job.username, serverName, signal);
  try {
    const label = serverLabel(job.username, serverName);
    const api = new ContentsApi(server.baseUrl, servers.token, { label });
    const text = await api.readText(notebookPath, signal).catch((err: unknown) => {
      if (err instanceof NotFoundError) throw new NotFoundError(`notebook not found in ${label}: ${notebookPath}`);
      throw err;
    });
    const notebook = parseNotebook(text, notebookPath);
    const kernelName = job.kernel ?? notebookKernel(notebook).kernelName;
    if (!kernelName) throw new NoSuchKernelError('the notebook names no kernel (metadata.kernelspec.name) and the job gives none');
    // The same refusal as at a local submission; the kernel's language comes from the notebook (the kernelspec is the server's).
    await checkParametersForNotebook(notebook, job.parameters, { kernelName });
    return { server, api, label, notebookPath, notebook, kernelName };
  } catch (err) {
    server.release();
    throw err;
  }
}

/** At submission, for `strict_parameters` with parameters: reads the notebook through the server and applies the strict check. */
export async function checkRemoteStrict(newJob: NewJob, servers: UserServers): Promise<void> {
  if (!newJob.strict_parameters || Object.keys(newJob.parameters).length === 0) return;
  const o = await openRemoteNotebook(newJob, servers);
  try {
    await checkStrictParametersForNotebook(o.notebook, newJob.parameters, { kernelName: o.kernelName });
  } finally {
    o.server.release();
  }
}

export interface PreparedRemote {
  remote: RemoteRun;
  notebook: Notebook;
  kernelName: string;
}

/**
 * Starts (or finds) the user's server, reads the notebook through it, checks
 * kernel and parameters, and makes sure the output's folder exists (only
 * hubmill's default `hubmill-outputs/` is created). The caller releases
 * `remote.server` when the job ends; on error it is released here.
 */
export async function prepareRemote(
  job: Job,
  servers: UserServers,
  outputNameFor: (job: Job, notebookRelPath: string) => string,
  signal?: AbortSignal,
): Promise<PreparedRemote> {
  const { server, api, label, notebookPath, notebook, kernelName } = await openRemoteNotebook(job, servers, signal);
  try {
    const outputPath = apiPath(job.output_path ?? outputNameFor(job, notebookPath));
    const outDir = apiDirname(outputPath);
    if (job.output_path === null) {
      if (outDir !== '') await api.mkdir(outDir, signal);
    } else {
      const st = outDir === '' ? { type: 'directory' } : await api.stat(outDir, signal);
      if (!st) throw new NotFoundError(`output folder does not exist in ${label}: ${outDir}`);
      if (st.type !== 'directory') throw new NotFoundError(`output folder is not a folder in ${label}: ${outDir}`);
    }
    return { remote: { server, api, notebookPath, outputPath, folder: apiDirname(notebookPath) }, notebook, kernelName };
  } catch (err) {
    server.release();
    throw err;
  }
}
