/**
 * Which home a job or a request gets (home.ts): the job's `target`, else the
 * configured homes' default (`defaultTarget`, the one place that rule lives).
 * With HUBMILL_HOMES=user-server, target `local` is refused at submission
 * (there are no local homes to read), and `user-server` needs the hub
 * (`UserServers`); without it such a job is refused with 422.
 */
import { UsageError } from '../errors.js';
import type { Job, JobTarget, NewJob } from '../store/job-store.js';
import { getKernelSpec } from '../kernel/kernelspec-discovery.js';
import { readNotebookFile } from '../notebook/read.js';
import { homePathFor, validateUsername, type OwnHome } from '../users/home-path.js';
import { lookupRunAs } from '../users/run-as.js';
import { defaultOutputPath, defaultTarget, type Home, type HomesMode } from './home.js';
import { UserServerNotConfiguredError } from './hub-servers.js';
import { LocalHome, type LocalHomeDeps } from './local-home.js';
import { UserServerHome, type UserServerHomeDeps } from './user-server-home.js';
import type { UserServers } from './user-servers.js';

export interface HomesDeps {
  /** config.homes (default 'local'). */
  mode?: HomesMode;
  local: LocalHomeDeps;
  /** Users' own servers through JupyterHub; null: target `user-server` is refused (422). */
  userServers: UserServers | null;
  /** How user-server homes start kernels and log. */
  userServer?: Omit<UserServerHomeDeps, 'servers' | 'outputNameFor'>;
}

const NEEDS_HUB =
  "target 'user-server' needs JupyterHub: set JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN (a token with admin:servers and access:servers) " +
  "and the hub's public URL (HUBMILL_HUB_PUBLIC_URL, JUPYTERHUB_PUBLIC_URL or JUPYTERHUB_HOST)";

const NEEDS_HUB_HERE = "HUBMILL_HOMES=user-server needs JupyterHub (JUPYTERHUB_API_URL, JUPYTERHUB_API_TOKEN and the hub's public URL)";

export class Homes {
  readonly mode: HomesMode;

  constructor(private readonly deps: HomesDeps) {
    this.mode = deps.mode ?? 'local';
  }

  /** The target of a job that names none. */
  get defaultTarget(): JobTarget {
    return defaultTarget(this.mode);
  }

  /** True when users' files are in their own servers (HUBMILL_HOMES=user-server). */
  get remote(): boolean {
    return this.mode === 'user-server';
  }

  /** The home of a submitted job: its target or the default; refuses what this configuration cannot serve (400, 422). */
  forSubmission(job: Pick<NewJob, 'username' | 'target' | 'server_name'>): Home {
    const username = validateUsername(job.username);
    const target = job.target ?? this.defaultTarget;
    if (target === 'user-server') return this.userServer(username, job.server_name, NEEDS_HUB);
    if (this.mode === 'user-server') {
      throw new UsageError("target 'local' is not available here: hubmill runs with HUBMILL_HOMES=user-server (no local homes); use target 'user-server'");
    }
    if (job.server_name) throw new UsageError("server_name is for jobs with target 'user-server'");
    return new LocalHome(this.deps.local, username);
  }

  /** The home of a stored job, for its run. */
  forJob(job: Pick<Job, 'username' | 'target' | 'server_name'>): Home {
    const username = validateUsername(job.username);
    if (job.target === 'user-server') return this.userServer(username, job.server_name, "target 'user-server' needs JupyterHub (see the job's submit error)");
    return new LocalHome(this.deps.local, username);
  }

  /** A user's home for a listing or a lookup, as configured (`serverName` only counts for the user's server). */
  forUser(username: string, serverName?: string | null): Home {
    const name = validateUsername(username);
    if (this.mode === 'user-server') return this.userServer(name, serverName);
    return new LocalHome(this.deps.local, name);
  }

  /** The user's own server as a home (for what only it offers: its Contents API). */
  userServer(username: string, serverName: string | null | undefined, notConfigured = NEEDS_HUB_HERE): UserServerHome {
    const servers = this.deps.userServers;
    if (!servers) throw new UserServerNotConfiguredError(notConfigured);
    return new UserServerHome({ ...this.deps.userServer, servers, outputNameFor: this.deps.local.outputNameFor }, validateUsername(username), serverName);
  }

  /**
   * The homes as the HTTP layer reads them (listings, lookups, outputs): local
   * homes from the template, users' servers through `userServers`; no kernels.
   */
  static forRequests(mode: HomesMode, homeTemplate: string, userServers: UserServers | null, ownHome: OwnHome | null = null): Homes {
    return new Homes({
      mode,
      local: {
        homeFor: (u) => homePathFor(u, homeTemplate, ownHome),
        readNotebook: readNotebookFile,
        kernelSpec: getKernelSpec,
        runAsFor: lookupRunAs,
        outputNameFor: defaultOutputPath,
        kernels: null,
      },
      userServers,
    });
  }

  /** Runs `fn` with a home and releases it afterwards. */
  static async using<T>(home: Home, fn: (home: Home) => Promise<T>): Promise<T> {
    try {
      return await fn(home);
    } finally {
      home.release();
    }
  }
}
