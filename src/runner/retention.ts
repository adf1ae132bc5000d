/**
 * Retention: deletes finished jobs older than `days` and beyond the newest
 * `maxJobs`, with their output files — but only an output whose name contains
 * the job id (hubmill chose the name), never a path the caller picked or a seed
 * `/execute` output.
 */
import { stat, unlink } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Logger } from 'pino';
import type { Job, JobStore } from '../store/job-store.js';
import { resolveInside } from '../users/paths.js';
import type { RetentionPolicy } from './options.js';

const positive = (v: number | null | undefined): v is number => v !== undefined && v !== null && Number.isFinite(v) && v > 0;

export class Retention {
  private pruning = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: JobStore,
    private readonly homeFor: (username: string) => string,
    private readonly policy: RetentionPolicy | undefined,
    private readonly log: Logger,
  ) {}

  /** Prunes now and then every interval, when the policy limits anything. */
  start(): void {
    const p = this.policy;
    if (!p || (!positive(p.days) && !positive(p.maxJobs))) return;
    this.timer = setInterval(() => void this.prune(), p.intervalMs ?? 3_600_000);
    this.timer.unref();
    void this.prune();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Deletes old finished jobs and the outputs hubmill named for them; returns how many jobs were deleted. */
  async prune(nowMs: number = Date.now()): Promise<number> {
    const policy = this.policy;
    if (!policy || this.pruning) return 0;
    this.pruning = true;
    let deleted = 0;
    try {
      const batch = 500;
      if (positive(policy.days)) {
        const cutoff = nowMs - policy.days * 86_400_000;
        for (;;) {
          const jobs = await this.store.pruneFinishedBefore(cutoff, batch);
          deleted += jobs.length;
          await this.deleteOutputs(jobs);
          if (jobs.length < batch) break;
        }
      }
      const maxJobs = policy.maxJobs;
      if (maxJobs !== undefined && maxJobs !== null && maxJobs >= 0) {
        for (;;) {
          const jobs = await this.store.pruneFinishedBeyond(maxJobs, batch);
          deleted += jobs.length;
          await this.deleteOutputs(jobs);
          if (jobs.length < batch) break;
        }
      }
      if (deleted > 0) this.log.info({ deleted }, 'retention: pruned finished jobs');
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'retention: pruning failed');
    } finally {
      this.pruning = false;
    }
    return deleted;
  }

  private async deleteOutputs(jobs: Job[]): Promise<void> {
    for (const j of jobs) {
      if (!j.output_path || !basename(j.output_path).includes(j.id)) continue;
      // Outputs in a user's own server stay there: hubmill's disk is not theirs (and deleting remotely would start the server).
      if (j.target === 'user-server') continue;
      try {
        const abs = await resolveInside(this.homeFor(j.username), j.output_path, { mustExist: true });
        const st = await stat(abs);
        if (st.isFile()) await unlink(abs);
      } catch {
        // Already gone, home removed, or no longer a safe path: leave it.
      }
    }
  }
}
