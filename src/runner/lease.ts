/**
 * The lease: how several processes share one store without running a job
 * twice or abandoning one.
 *
 * - **Identity.** Each runner process has its own worker id: host name, pid and
 *   a random part (`newWorkerId`). Two processes on one machine never share
 *   one, and a restarted process is a new worker: it has no claim on the jobs of
 *   its previous life, and none on the jobs of the processes still running.
 * - **Lease.** Claiming a job (`claimNext`) takes its lease; the runner renews
 *   the leases of all its running jobs every `heartbeatMs` (the store's
 *   `heartbeat`, which refreshes `updated_at_ms`). A lease expires when it was
 *   not renewed for `leaseMs`.
 * - **Reclaim only expired leases.** At start and every half lease, a runner
 *   reclaims running jobs whose lease expired (never its own running jobs): they
 *   fail with `JobInterrupted`, or go back to the queue with
 *   `requeueInterruptedOnStart`. A live process's jobs are never touched, since
 *   it renews their leases; a job of a process that died (SIGKILL, a crash, a
 *   power cut) is reclaimed within `leaseMs` plus half a lease.
 * - **A lost lease stops the run.** If a process could not renew for a whole
 *   lease (stopped, suspended, its event loop blocked) and another reclaimed its
 *   job, its next renewal reports the job as lost and the runner aborts its own
 *   run of it; its final record is refused by the store (`markFinished` with the
 *   worker id and the attempt it claimed), so the reclaiming worker's record
 *   stands — also when the job was re-queued and claimed again by the same
 *   process.
 *
 * All times are this machine's clock (`Date.now()`), the same for every process
 * sharing a SQLite file; a store shared across machines must use one clock (the
 * database's) for the same rule.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Job, JobStore } from '../store/job-store.js';

/** A worker id unique to this process: `<host>:<pid>:<random>`. */
export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

export interface LeaseOptions {
  store: JobStore;
  workerId: string;
  leaseMs: number;
  heartbeatMs: number;
  /** Reclaimed jobs go back to the queue instead of failing. */
  requeue: boolean;
  log: Logger;
  /** The ids of this process's running jobs. */
  held(): string[];
  /** Jobs this process runs but no longer holds (another worker reclaimed them). */
  onLost(ids: string[]): void;
  /** Jobs this process reclaimed from expired leases. */
  onReclaimed(jobs: Job[]): void;
}

export class Lease {
  private readonly timers: NodeJS.Timeout[] = [];
  private renewing = false;

  constructor(private readonly o: LeaseOptions) {}

  /** Reclaims expired leases once, then renews and reclaims on timers. */
  async start(): Promise<void> {
    await this.reclaim();
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.o.heartbeatMs, () => void this.renew());
    every(Math.max(1000, Math.floor(this.o.leaseMs / 2)), () => void this.reclaim());
  }

  stop(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  private async renew(): Promise<void> {
    const ids = this.o.held();
    if (ids.length === 0 || this.renewing) return;
    this.renewing = true;
    try {
      const lost = (await this.o.store.heartbeat(this.o.workerId, ids)) ?? [];
      // A job that just finished here is no longer running in the store: not lost.
      const stillHeld = new Set(this.o.held());
      const reallyLost = lost.filter((id) => stillHeld.has(id));
      if (reallyLost.length > 0) {
        this.o.log.error({ jobIds: reallyLost }, 'lease lost: another worker reclaimed these jobs; stopping them here');
        this.o.onLost(reallyLost);
      }
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'heartbeat failed');
    } finally {
      this.renewing = false;
    }
  }

  private async reclaim(): Promise<void> {
    try {
      const jobs = await this.o.store.recoverInterrupted({
        staleBeforeMs: Date.now() - this.o.leaseMs,
        exceptWorkerId: this.o.workerId,
        requeue: this.o.requeue,
        reason: `the process running the job stopped renewing its lease for ${Math.round(this.o.leaseMs / 1000)} s (it died or was restarted)`,
      });
      for (const j of jobs) this.o.log.warn({ jobId: j.id, status: j.status }, 'reclaimed a job whose lease expired');
      if (jobs.length > 0) this.o.onReclaimed(jobs);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'reclaiming expired leases failed');
    }
  }
}
