/**
 * The producer: the one door every job enters by (the jobs API, the seed
 * endpoints, a schedule's "run now", and the checks of schedules and their
 * fires), as a queue library's `add`. A submission is checked once by the
 * intake (home, notebook, kernel, parameters, limits, output path), resolved
 * (paths relative to the home, the kernel's name and language as read from
 * the notebook) and enqueued under the quota rule of its entry (quota.ts).
 * The store counts the quota in the enqueue's transaction.
 */
import type { Logger } from 'pino';
import type { Job, JobStore, NewJob } from '../store/job-store.js';
import type { CheckedJob, CheckOptions, Intake } from './intake.js';
import { maxActiveFor, NO_QUOTA, type JobEntry, type RunQuota } from './quota.js';

export type { JobEntry, RunQuota } from './quota.js';

export interface SubmitOptions {
  /** How the job entered (default 'api'): direct entries are refused over the quota, the others wait. */
  entry?: JobEntry;
}

export interface JobProducerDeps {
  intake: Pick<Intake, 'check'>;
  store: JobStore;
  quota?: RunQuota;
  log?: Logger;
  /** Called once per job actually created (not for an idempotent replay). */
  onQueued?: (job: Job) => void;
}

/** A checked job as the store keeps it: the resolved kernel (name and language) when it was read at submission. */
export function resolvedJob(checked: CheckedJob): NewJob {
  const { job, kernel } = checked;
  if (!kernel) return { ...job, kernel_language: null };
  return { ...job, kernel: kernel.name, kernel_language: kernel.language ?? null };
}

export class JobProducer {
  readonly quota: RunQuota;
  constructor(private readonly deps: JobProducerDeps) {
    this.quota = deps.quota ?? NO_QUOTA;
  }

  /** The intake's checks only (400, 404, 422 with the reason); nothing is queued. */
  check(newJob: NewJob, opts?: CheckOptions): Promise<CheckedJob> {
    return this.deps.intake.check(newJob, opts);
  }

  /**
   * Checks, resolves and enqueues; with an idempotency key already used by the same user, the existing job
   * (created=false). RunQuotaError (429) when a direct entry finds the user at the quota.
   */
  async submit(newJob: NewJob, opts: SubmitOptions = {}): Promise<{ job: Job; created: boolean }> {
    const checked = await this.check(newJob);
    const res = await this.deps.store.enqueue({ ...resolvedJob(checked), max_active: maxActiveFor(this.quota, opts.entry ?? 'api') });
    if (res.created) {
      this.deps.log?.info({ jobId: res.job.id, username: res.job.username, notebook: res.job.notebook, entry: opts.entry ?? 'api' }, 'job queued');
      this.deps.onQueued?.(res.job);
    }
    return res;
  }
}
