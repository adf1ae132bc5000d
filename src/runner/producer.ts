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
import { SecretRefusedError } from '../secrets/errors.js';
import type { SecretVault } from './secret-vault.js';
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
  /** Resolves the secrets a job names (absent: a job naming secrets is refused). */
  secrets?: Pick<SecretVault, 'resolve'> | null;
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

  /**
   * The intake's checks (400, 404, 422 with the reason), then the secrets the job names: each resolved to
   * the scope it is read from, 422 for one the owner cannot read or for a job in the user's server; nothing is queued.
   */
  async check(newJob: NewJob, opts?: CheckOptions): Promise<CheckedJob> {
    const { owner_groups: groups, ...job } = newJob;
    const checked = await this.deps.intake.check(job, opts);
    const refs = job.secrets ?? [];
    if (refs.length === 0) return checked;
    if (checked.job.target === 'user-server') {
      throw new SecretRefusedError(
        "a job in the user's own server (target user-server) cannot use secrets: the Jupyter Server API starts kernels without a per-kernel environment, " +
          'so the values could not reach the kernel; run it with target local, or read the secret another way',
      );
    }
    if (!this.deps.secrets) throw new SecretRefusedError('this node has no secret store: jobs cannot use secrets here');
    const secrets = await this.deps.secrets.resolve(job.username, refs, groups);
    return { ...checked, job: { ...checked.job, secrets } };
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
