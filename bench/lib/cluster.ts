/**
 * Several real `hubmill serve` processes (the built dist/cli/index.js) on one
 * machine, sharing one store: the harness of the multi-node end-to-end tests
 * and of the workers bench. The store and the roles are parameters:
 *
 * - `{ kind: 'pg', url }`: every node gets HUBMILL_DATABASE_URL and its own data
 *   dir; nodes may be `api`, `worker` or `all`;
 * - `{ kind: 'sqlite' }`: every node shares one data dir (the SQLite file in it),
 *   and every node is `all` (config refuses api/worker without a database URL).
 *
 * Each node gets `HUBMILL_ROLE` and `nodeEnvVar=<its name>`, inherited by its
 * kernels, so a notebook can record where it ran. Nodes listen on port 0 (the
 * kernel picks, no race) and are found by their banner. `stopAll` stops every
 * process this cluster started, the killed ones' process groups included.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { waitForServeUrl } from './serve-banner.js';

export type ClusterRole = 'all' | 'api' | 'worker';
export type Backend = { kind: 'sqlite' } | { kind: 'pg'; url: string };

export interface NodeSpec {
  name: string;
  role: ClusterRole;
  /** Extra environment of this node only. */
  env?: Record<string, string>;
}

export interface ClusterNode {
  readonly spec: NodeSpec;
  readonly child: ChildProcess;
  readonly pid: number;
  /** http://127.0.0.1:PORT */
  readonly base: string;
  readonly dataDir: string;
}

export interface ClusterOptions {
  cli: string;
  /** Working folder: data dirs live under it. */
  root: string;
  backend: Backend;
  /** Environment of every node (on top of this process's). */
  env: Record<string, string>;
  /** Name of the environment variable that carries the node's name (default HUBMILL_TEST_NODE). */
  nodeEnvVar?: string;
  /** Each process's stdout and stderr (its log) goes to `<logDir>/<name>-<pid>.log` when set. */
  logDir?: string;
  /** Bound of a graceful stop before SIGKILL, ms (default 30 s). */
  stopGraceMs?: number;
}

export function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
}

function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
}

export class Cluster {
  private readonly nodes = new Map<string, ClusterNode>();
  /** Every process started, in order (restarted nodes keep their old entry here). */
  private readonly started: ChildProcess[] = [];

  constructor(private readonly o: ClusterOptions) {}

  get backend(): Backend {
    return this.o.backend;
  }

  dataDirOf(name: string): string {
    return this.o.backend.kind === 'sqlite' ? join(this.o.root, 'data') : join(this.o.root, `data-${name}`);
  }

  /** Starts a node (or a new process for a node that was killed) and waits for its banner. */
  async start(spec: NodeSpec): Promise<ClusterNode> {
    if (this.o.backend.kind === 'sqlite' && spec.role !== 'all') throw new Error(`node ${spec.name}: role ${spec.role} needs a PostgreSQL store`);
    const prev = this.nodes.get(spec.name);
    if (prev && prev.child.exitCode === null && prev.child.signalCode === null) throw new Error(`node ${spec.name} is still running`);
    const dataDir = this.dataDirOf(spec.name);
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      ...this.o.env,
      HUBMILL_DATA_DIR: dataDir,
      HUBMILL_ROLE: spec.role,
      [this.o.nodeEnvVar ?? 'HUBMILL_TEST_NODE']: spec.name,
      ...(this.o.backend.kind === 'pg' ? { HUBMILL_DATABASE_URL: this.o.backend.url } : {}),
      ...spec.env,
    };
    if (this.o.backend.kind === 'sqlite') delete env.HUBMILL_DATABASE_URL;
    // Its own process group, so stopAll reaches whatever it left behind.
    const child = spawn(process.execPath, [this.o.cli, 'serve', '--port', '0'], { env, stdio: ['ignore', this.o.logDir ? 'pipe' : 'ignore', 'pipe'], detached: true });
    this.started.push(child);
    if (this.o.logDir) {
      mkdirSync(this.o.logDir, { recursive: true });
      const log = createWriteStream(join(this.o.logDir, `${spec.name}-${child.pid}.log`));
      child.stdout!.pipe(log);
      child.stderr!.pipe(log);
    }
    const base = await waitForServeUrl(child, 90_000);
    const node: ClusterNode = { spec, child, pid: child.pid!, base, dataDir };
    this.nodes.set(spec.name, node);
    return node;
  }

  node(name: string): ClusterNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  list(): ClusterNode[] {
    return [...this.nodes.values()];
  }

  /** `kill -9` of the node's own process (a crash: its kernels are left to its watchdog). Resolves once it is gone. */
  async kill9(name: string): Promise<void> {
    const n = this.node(name);
    process.kill(n.pid, 'SIGKILL');
    if (!(await within(exited(n.child), 30_000))) throw new Error(`node ${name} (pid ${n.pid}) survived SIGKILL for 30 s`);
  }

  /** SIGTERM, then SIGKILL of its group after the grace bound. */
  async stop(name: string): Promise<void> {
    await this.stopChild(this.node(name).child);
  }

  private async stopChild(child: ChildProcess): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (await within(exited(child), this.o.stopGraceMs ?? 30_000)) return;
    }
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* the group is gone */
    }
    await within(exited(child), 10_000);
  }

  /** Stops every process this cluster started, and kills what is left of their process groups. */
  async stopAll(): Promise<void> {
    await Promise.all(this.started.map((c) => this.stopChild(c)));
    for (const c of this.started) {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

/**
 * The environment every node of a local cluster shares: homes under `<root>/homes`, token auth, no hub,
 * no rate limits or queue quota, two runs and two warm kernels a node; `extra` on top.
 */
export function nodeEnv(root: string, token: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HUBMILL_HOME_TEMPLATE: join(root, 'homes', '{username}'),
    HUBMILL_API_TOKEN: token,
    HUBMILL_POOL: 'python3:2',
    HUBMILL_CONCURRENCY: '2',
    HUBMILL_SHUTDOWN_GRACE_S: '2',
    HUBMILL_MAX_QUEUED_PER_USER: '0',
    HUBMILL_RATE_LIMIT_PER_MIN: '0',
    HUBMILL_RATE_LIMIT_IP_PER_MIN: '0',
    HUBMILL_LOG_LEVEL: 'warn',
    JUPYTERHUB_API_URL: '',
    JUPYTERHUB_API_TOKEN: '',
    ...extra,
  };
}

/**
 * A cluster (no node started yet) on a fresh scratch database `<dbPrefix>_…` for `pg`, or on one
 * SQLite data dir; the caller stops it and drops `db` at the end.
 */
export function openCluster(store: 'pg' | 'sqlite', dbPrefix: string, o: Omit<ClusterOptions, 'backend'>): { cluster: Cluster; db: ScratchDatabase | null } {
  const db = store === 'pg' ? createScratchDatabase(dbPrefix) : null;
  return { cluster: new Cluster({ ...o, backend: db ? { kind: 'pg', url: db.url } : { kind: 'sqlite' } }), db };
}

/** Whether PostgreSQL answers at the test address (psql, trust auth). */
export function pgAvailable(): boolean {
  const r = spawnSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'test', '-tAc', 'SELECT 1'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 && r.stdout.trim() === '1';
}

function psql(sql: string): void {
  const r = spawnSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'test', '-v', 'ON_ERROR_STOP=1', '-qc', sql], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`psql ${sql}: ${r.error?.message ?? r.stderr.trim()}`);
}

export interface ScratchDatabase {
  name: string;
  url: string;
  /** Drops it, disconnecting whoever is left (idempotent). */
  drop(): void;
}

/** A fresh database `<prefix>_<random>` on 127.0.0.1:5432 (trust auth), to drop at the end. */
export function createScratchDatabase(prefix: string): ScratchDatabase {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new Error(`bad database prefix ${JSON.stringify(prefix)}`);
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  psql(`CREATE DATABASE ${name}`);
  return {
    name,
    url: `postgresql://postgres@127.0.0.1:5432/${name}`,
    drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
