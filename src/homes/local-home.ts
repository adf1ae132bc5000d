/**
 * Local homes: each user's folder on this machine, from the home template
 * (HUBMILL_HOME_TEMPLATE, e.g. /home/{username}). The rules themselves
 * (usernames, path confinement, the notebook walk) live in users/; this file
 * binds them to a home:
 *
 * - `LocalHome`: one user's home as a job sees it (home.ts): paths resolved
 *   inside the real home (symlinks may not lead out), the notebook read from
 *   disk, the output written through a pinned folder (engine/output-target.ts)
 *   and given to the user, the kernel started by local-kernels.ts.
 * - `LocalHomes`: the template for the HTTP layer, plus the reverse lookup the
 *   seed's `/run-notebook` needs (which user's home an absolute path lies in).
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, normalize } from 'node:path';
import { userInfo } from 'node:os';
import type { KernelSource } from '../engine/kernel-source.js';
import { localFileSink } from '../engine/output-target.js';
import type { RunAs } from '../engine/run-types.js';
import { NotFoundError } from '../errors.js';
import type { Notebook } from '../notebook/notebook-types.js';
import type { Job } from '../store/job-store.js';
import { homePathFor, isValidUsername, resolveHome, type OwnHome } from '../users/home-path.js';
import { findNotebookByName, listNotebooks, type FoundNotebook, type ListNotebooksOptions, type NotebookEntry } from '../users/notebook-listing.js';
import { isInside, relativeToHome, resolveInside } from '../users/paths.js';
import { chownToUser } from '../users/run-as.js';
import type { Home, KernelNeeds, NotebookFile, OutputPlace } from './home.js';
import { localKernelSource, type LocalKernelsDeps } from './local-kernels.js';

export interface LocalHomeDeps {
  /** The home folder of a user (e.g. from the home template); may throw InvalidUsernameError. */
  homeFor(username: string): string;
  readNotebook(path: string): Promise<Notebook>;
  /** This machine's (or the gateway's) kernelspecs. */
  kernelSpec(name: string): Promise<{ name: string; language: string }>;
  runAsFor(username: string): Promise<RunAs | null>;
  /** The output path (relative to the home) of a job that names none. */
  outputNameFor(job: Job, notebookRelPath: string): string;
  /** Where kernels come from; null: this process runs none (an API node). */
  kernels: LocalKernelsDeps | null;
}

export class LocalHome implements Home {
  readonly target = 'local' as const;
  readonly serverName = null;
  readonly readsAtSubmission = true;
  readonly kernelSpec: (name: string) => Promise<{ name: string; language: string }>;

  /** `username` must be valid (validateUsername). */
  constructor(
    private readonly deps: LocalHomeDeps,
    readonly username: string,
  ) {
    this.kernelSpec = deps.kernelSpec;
  }

  get root(): string {
    return this.deps.homeFor(this.username);
  }

  /** The home, which must exist; NotFoundError (404) otherwise. */
  private async existing(): Promise<string> {
    const home = this.root;
    const st = await stat(home).catch(() => null);
    if (!st?.isDirectory()) throw new NotFoundError(`user ${this.username} not found (no home folder)`);
    return home;
  }

  /** The notebook's path on disk; a missing one (never there, or deleted since a job or schedule named it) is a 404 saying so. */
  private async notebookAbs(home: string, path: string): Promise<string> {
    const missing = () => new NotFoundError(`notebook not found in the home of ${this.username}: ${path}`);
    const abs = await resolveInside(home, path, { mustExist: true }).catch((err: unknown) => {
      throw err instanceof NotFoundError ? missing() : err;
    });
    if (!(await stat(abs)).isFile()) throw missing();
    return abs;
  }

  async storedPaths(notebook: string, outputPath: string | null): Promise<{ notebook: string; output_path: string | null }> {
    const home = await this.existing();
    const abs = await this.notebookAbs(home, notebook);
    const out = outputPath === null ? null : await relativeToHome(home, await resolveInside(home, outputPath));
    return { notebook: await relativeToHome(home, abs), output_path: out };
  }

  async listNotebooks(opts: ListNotebooksOptions = {}): Promise<NotebookEntry[]> {
    return listNotebooks(await this.existing(), opts);
  }

  async readNotebook(path: string): Promise<NotebookFile> {
    const home = await this.existing();
    const abs = await this.notebookAbs(home, path);
    const notebook = await this.deps.readNotebook(abs);
    return { path: await relativeToHome(home, abs), location: abs, cwd: dirname(abs), notebook };
  }

  runAs(): Promise<RunAs | null> {
    return this.deps.runAsFor(this.username);
  }

  async output(job: Job, notebook: NotebookFile, runAs: RunAs | null): Promise<OutputPlace> {
    const home = await this.existing();
    const wanted = job.output_path ?? this.deps.outputNameFor(job, notebook.path);
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
    const abs = outputAbs;
    return { path: await relativeToHome(home, abs), localPath: abs, sink: () => localFileSink(abs) };
  }

  kernelSource(needs: KernelNeeds): KernelSource {
    const kernels = this.deps.kernels;
    if (!kernels) throw new Error('this process runs no kernels');
    return localKernelSource(kernels, needs.job, needs.runAs, needs.env);
  }

  release(): void {
    // Nothing is held.
  }
}

/** The home template as the HTTP layer needs it. */
export class LocalHomes {
  readonly template: string;
  readonly #pattern: RegExp;

  /**
   * @param own the home of the user hubmill runs as when the template has none for it
   *   (users/home-path.ts ownHomeOutsideTemplate; decided at start, null with a hub).
   */
  constructor(
    template: string,
    readonly own: OwnHome | null = null,
  ) {
    this.template = template;
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const [before, after] = template.replace(/\/+$/, '').split('{username}', 2) as [string, string];
    this.#pattern = new RegExp(`^${esc(before)}([^/]+)${esc(after)}(?:/|$)`);
  }

  /** The user hubmill runs as (whose home the UI opens for the service token). */
  get serviceUser(): string {
    return this.own?.username ?? userInfo().username;
  }

  /** The home of a user (no filesystem access). InvalidUsernameError (400) for unsafe names. */
  homeFor(username: string): string {
    return homePathFor(username, this.template, this.own);
  }

  /** The home of a user, which must exist; NotFoundError (404) otherwise. */
  existingHome(username: string): Promise<string> {
    return resolveHome(username, this.template, this.own);
  }

  /** Which user's home an absolute path lies in, judged lexically by the template; null when none. */
  userForPath(absPath: string): { username: string; home: string } | null {
    if (!absPath.startsWith('/')) return null;
    const p = normalize(absPath);
    if (this.own && isInside(this.own.home, p)) return { username: this.own.username, home: this.own.home };
    const m = this.#pattern.exec(p);
    if (!m || !isValidUsername(m[1])) return null;
    const home = this.homeFor(m[1]!);
    return isInside(home, p) ? { username: m[1]!, home } : null;
  }

  /** Resolves a caller's path inside the home (real path; symlinks may not lead out). 400 / 404. */
  resolveInside(home: string, userPath: string, opts: { mustExist: boolean; allowAbsolute?: boolean }): Promise<string> {
    return resolveInside(home, userPath, opts);
  }

  /** `abs` (from resolveInside) relative to the home, '/'-separated. */
  relative(home: string, abs: string): Promise<string> {
    return relativeToHome(home, abs);
  }

  findNotebook(home: string, name: string): Promise<FoundNotebook> {
    return findNotebookByName(home, name);
  }
}
