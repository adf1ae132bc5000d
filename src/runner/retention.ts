/**
 * Retention: deletes finished jobs older than `days` and beyond the newest
 * `maxJobs`, with their output files — but only an output whose name contains
 * the job id (hubmill chose the name), never a path the caller picked or a seed
 * `/execute` output.
 *
 * It deletes in small batches with a pause after each, at least as long as the
 * batch took: each batch is one short write transaction, so a claim (in this
 * process or another sharing the SQLite file) never waits behind a long delete,
 * and pruning a long history (issue 16: 100,000 jobs) uses at most half the
 * store's time.
 */
import { stat, unlink } from 'node:fs/promises';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Job, JobStore } from '../store/job-store.js';
import { resolveInside } from '../users/paths.js';
import type { RetentionPolicy } from './options.js';

/** Jobs deleted per store call. */
export const PRUNE_BATCH = 200;
/** The shortest pause after a batch: longer than SQLite's busy-wait steps (≤ 25 ms until 100 ms), so a waiting claim gets in. */
export const PRUNE_PAUSE_MIN_MS = 30;

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
      if (positive(policy.days)) {
        const cutoff = nowMs - policy.days * 86_400_000;
        deleted += await this.inBatches(() => this.store.pruneFinishedBefore(cutoff, PRUNE_BATCH));
      }
      const maxJobs = policy.maxJobs;
      if (maxJobs !== undefined && maxJobs !== null && maxJobs >= 0) {
        deleted += await this.inBatches(() => this.store.pruneFinishedBeyond(maxJobs, PRUNE_BATCH));
      }
      if (deleted > 0) this.log.info({ deleted }, 'retention: pruned finished jobs');
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'retention: pruning failed');
    } finally {
      this.pruning = false;
    }
    return deleted;
  }

  /** Runs `deleteBatch` until a batch comes back short, pausing after each; returns how many jobs it deleted. */
  private async inBatches(deleteBatch: () => Promise<Job[]>): Promise<number> {
    let deleted = 0;
    for (;;) {
      const t0 = performance.now();
      const jobs = await deleteBatch();
      const took = performance.now() - t0;
      deleted += jobs.length;
      await this.deleteOutputs(jobs);
      if (jobs.length < PRUNE_BATCH) return deleted;
      await sleep(Math.max(PRUNE_PAUSE_MIN_MS, took));
    }
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
