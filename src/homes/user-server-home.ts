/**
 * The user's own Jupyter server as a home (jobs with target `user-server`,
 * HUBMILL_HOMES=user-server): the server is reached through JupyterHub and
 * started when needed (user-servers.ts), the notebook is read and the output
 * written through its Contents API (contents-api.ts), and the kernel runs in
 * it (kernel/server-kernel.ts). hubmill's disk is never used, so it needs no
 * shared homes.
 *
 * The server is acquired on first use and held until `release` (for the idle
 * stop). At submission nothing is read (`readsAtSubmission` is false): the
 * paths are checked lexically (API paths: relative, '/'-separated, no `..`, no
 * NUL; 400 otherwise), the server name too. Starting a user's server just to
 * look at a notebook would make a submit take up to the server's start time,
 * so the checks that read the notebook (it exists, its kernel, parameters that
 * cannot be injected) run when the job runs, and their error is recorded on
 * the job (status failed, e.g. ename NotFoundError for a missing notebook,
 * ParameterError for a refused parameter). One exception: `strict_parameters`
 * (the web UI's run form) is not stored with the job, so when it is asked for
 * with parameters, intake reads the notebook at submission (the server is
 * started if needed, bounded by the start timeout) and refuses with 422 as for
 * a local notebook.
 */
import type { Logger } from 'pino';
import type { KernelSource } from '../engine/kernel-source.js';
import { NotFoundError, UsageError } from '../errors.js';
import { parseNotebook } from '../notebook/read.js';
import type { Job } from '../store/job-store.js';
import type { ListNotebooksOptions, NotebookEntry } from '../users/notebook-listing.js';
import { apiDirname, apiPath, ContentsApi, contentsSink } from './contents-api.js';
import { listContentsNotebooks } from './contents-notebooks.js';
import type { Home, KernelNeeds, NotebookFile, OutputPlace } from './home.js';
import { SERVER_NAME, serverLabel } from './hub-servers.js';
import type { AcquiredServer, UserServers } from './user-servers.js';

/** A server name from a request: '' and absent mean the default server (stored as null). */
export function checkServerName(name: string | null | undefined): string | null {
  if (name === undefined || name === null || name === '') return null;
  if (typeof name !== 'string' || !SERVER_NAME.test(name)) {
    throw new UsageError(`not a server name: ${JSON.stringify(String(name).slice(0, 80))} (letters, digits, '.', '_' and '-', at most 64)`);
  }
  return name;
}

export interface UserServerHomeDeps {
  servers: UserServers;
  /** The output path (relative to the server's root) of a job that names none. */
  outputNameFor(job: Job, notebookRelPath: string): string;
  /** Bound of a kernel start in the server (default 60 s). */
  kernelStartTimeoutMs?: number;
  log?: Logger;
}

/** The server, ready, with its Contents API. */
export interface OpenServer {
  server: AcquiredServer;
  api: ContentsApi;
}

export class UserServerHome implements Home {
  readonly target = 'user-server' as const;
  readonly root = '';
  readonly readsAtSubmission = false;
  readonly kernelSpec = null;
  readonly serverName: string | null;
  readonly label: string;
  private opening: Promise<OpenServer> | null = null;
  private held: AcquiredServer | null = null;
  private released = false;

  /** `username` must be valid (validateUsername); `serverName` is checked here (400). */
  constructor(
    private readonly deps: UserServerHomeDeps,
    readonly username: string,
    serverName: string | null | undefined,
  ) {
    this.serverName = checkServerName(serverName);
    this.label = serverLabel(username, this.serverName ?? '');
  }

  /** The user's server (started if needed) and its Contents API; acquired once, held until `release`. */
  open(signal?: AbortSignal): Promise<OpenServer> {
    this.opening ??= this.deps.servers.acquire(this.username, this.serverName ?? '', signal).then((server) => {
      this.held = server;
      if (this.released) server.release();
      return { server, api: new ContentsApi(server.baseUrl, this.deps.servers.token, { label: this.label }) };
    });
    return this.opening;
  }

  async storedPaths(notebook: string, outputPath: string | null): Promise<{ notebook: string; output_path: string | null }> {
    const path = apiPath(notebook);
    if (path === '') throw new NotFoundError("notebook not found: the path names the server's root folder");
    return { notebook: path, output_path: outputPath === null ? null : apiPath(outputPath) };
  }

  async listNotebooks(opts: ListNotebooksOptions = {}): Promise<NotebookEntry[]> {
    return listContentsNotebooks((await this.open()).api, opts);
  }

  async readNotebook(path: string, signal?: AbortSignal): Promise<NotebookFile> {
    const notebookPath = apiPath(path);
    const { api } = await this.open(signal);
    const text = await api.readText(notebookPath, signal).catch((err: unknown) => {
      if (err instanceof NotFoundError) throw new NotFoundError(`notebook not found in ${this.label}: ${notebookPath}`);
      throw err;
    });
    return { path: notebookPath, location: notebookPath, cwd: undefined, notebook: parseNotebook(text, notebookPath) };
  }

  /** The kernel runs as the server's own user. */
  async runAs(): Promise<null> {
    return null;
  }

  /** Makes sure the output's folder exists (only hubmill's default `hubmill-outputs/` is created). */
  async output(job: Job, notebook: NotebookFile, _runAs: unknown, signal?: AbortSignal): Promise<OutputPlace> {
    const { api } = await this.open(signal);
    const outputPath = apiPath(job.output_path ?? this.deps.outputNameFor(job, notebook.path));
    const outDir = apiDirname(outputPath);
    if (job.output_path === null) {
      if (outDir !== '') await api.mkdir(outDir, signal);
    } else {
      const st = outDir === '' ? { type: 'directory' } : await api.stat(outDir, signal);
      if (!st) throw new NotFoundError(`output folder does not exist in ${this.label}: ${outDir}`);
      if (st.type !== 'directory') throw new NotFoundError(`output folder is not a folder in ${this.label}: ${outDir}`);
    }
    return { path: outputPath, localPath: null, sink: () => contentsSink(api, outputPath) };
  }

  /** A kernel in the user's server, working in the notebook's folder (an API path relative to the server's root). */
  kernelSource(needs: KernelNeeds): KernelSource {
    const folder = apiDirname(needs.notebook.path);
    return {
      acquire: async (req) => {
        const { server, api } = await this.open(req.signal);
        this.deps.log?.info({ jobId: needs.job.id, kernelName: req.kernelName, path: folder }, "opening a kernel in the user's own server");
        // Loaded on first use: @jupyterlab/services costs ~23 MB of RSS that local-only installs never need.
        const { ServerKernel } = await import('../kernel/server-kernel.js');
        return ServerKernel.start({
          baseUrl: server.baseUrl,
          token: api.token,
          kernelName: req.kernelName,
          path: folder,
          startTimeoutMs: this.deps.kernelStartTimeoutMs ?? 60_000,
          signal: req.signal,
        });
      },
    };
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.held?.release();
  }
}
