/**
 * The users' own servers this process uses for its jobs (target `user-server`)
 * and listings: each user-server home (user-server-home.ts) `acquire`s its
 * server (started through the hub when it is not running) on first use and
 * `release`s it when the job or request ends.
 *
 * Idle stop: a server this process started (not one that was already running
 * when a job came) is stopped through the hub once its last job here ended and
 * `idleStopS` seconds (HUBMILL_USER_SERVER_IDLE_S) passed with no new job for it; 0 = never. The bookkeeping
 * is per process: with several workers, each stops only the servers it started
 * itself, and only when its own jobs on it are done (a server another worker
 * still uses may be stopped by the worker that started it; that worker's next
 * job starts it again). A server someone else stopped meanwhile is simply
 * started again by the next job.
 */
import type { Logger } from 'pino';
import { serverLabel, startUserServer, stopUserServer, type UserServer } from './hub-servers.js';

/** How to reach users' own servers (jobs with target `user-server`). */
export interface UserServerConfig {
  /** JUPYTERHUB_API_URL, e.g. http://127.0.0.1:8081/hub/api */
  hubApiUrl: string;
  /** A hub token with admin:servers and access:servers (hubmill's service token). */
  token: string;
  /** The hub's public URL (its proxy) as hubmill reaches it. */
  publicUrl: string;
  /** Bound of starting the user's server (default 60 s). */
  startTimeoutMs?: number;
  /** Stop a server this process started this many seconds after its last job here ended; 0 = never. */
  idleStopS: number;
}

interface Entry {
  active: number;
  /** This process started it (and has not stopped it since). */
  ours: boolean;
  timer: NodeJS.Timeout | null;
}

export interface AcquiredServer extends UserServer {
  /** The job is done with the server; call once. */
  release(): void;
}

export class UserServers {
  private readonly entries = new Map<string, Entry>();
  private readonly stopping = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly cfg: UserServerConfig,
    private readonly log: Logger,
  ) {}

  get token(): string {
    return this.cfg.token;
  }

  /** The user's server (default: '', or named), ready; started through the hub if needed. */
  async acquire(username: string, serverName: string, signal?: AbortSignal): Promise<AcquiredServer> {
    const key = `${username}/${serverName}`;
    let e = this.entries.get(key);
    if (!e) this.entries.set(key, (e = { active: 0, ours: false, timer: null }));
    const entry = e;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    entry.active++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.release(key, username, serverName, entry);
    };
    try {
      const server = await startUserServer(this.cfg.hubApiUrl, this.cfg.token, username, {
        serverName,
        publicUrl: this.cfg.publicUrl,
        timeoutMs: this.cfg.startTimeoutMs ?? 60_000,
        signal,
      });
      if (server.started) entry.ours = true;
      this.log.info({ username, serverName, baseUrl: server.baseUrl, started: server.started }, 'user server ready');
      return { ...server, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  private release(key: string, username: string, serverName: string, entry: Entry): void {
    entry.active--;
    if (entry.active > 0 || this.closed) return;
    if (!entry.ours || this.cfg.idleStopS <= 0) {
      if (!entry.ours) this.entries.delete(key);
      return;
    }
    entry.timer = setTimeout(() => {
      entry.timer = null;
      if (entry.active > 0) return;
      entry.ours = false;
      this.entries.delete(key);
      this.log.info({ username, serverName, idleS: this.cfg.idleStopS }, `stopping ${serverLabel(username, serverName)}: idle since its last job`);
      const p = stopUserServer(this.cfg.hubApiUrl, this.cfg.token, username, serverName)
        .catch((err: Error) => this.log.warn({ username, serverName, err: err.message }, 'could not stop the user server'))
        .finally(() => this.stopping.delete(p));
      this.stopping.add(p);
    }, this.cfg.idleStopS * 1000);
    entry.timer.unref();
  }

  /** Cancels pending idle stops (servers stay up) and waits for stops already asked for. */
  async close(): Promise<void> {
    this.closed = true;
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
    this.entries.clear();
    await Promise.all([...this.stopping]);
  }
}
