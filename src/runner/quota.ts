/**
 * The run quota per user, in one place: the numbers (from the settings) and the
 * rule for each way a job enters.
 *
 * - Direct submissions (the jobs API, the seed endpoints, a schedule's "run
 *   now"): refused (RunQuotaError, 429) when the user already has
 *   `maxRunningPerUser + maxQueuedPerUser` jobs queued or running. The store
 *   counts them in the transaction that inserts the job, so parallel requests
 *   from any process cannot slip past it.
 * - Jobs the service makes itself (schedule fires, later pipeline tasks): never
 *   refused; they are queued and wait.
 * - At claim time, for every job: the store never starts a job of a user who
 *   already has `maxRunningPerUser` jobs running (`claimNext` takes the oldest
 *   queued job whose user is below it), so fires and fan-outs wait for room
 *   instead of running over the quota.
 *
 * `HUBMILL_MAX_RUNNING_PER_USER=0` means "the concurrency" for the enqueue count
 * and no per-user bound at claim (a node never runs more than its concurrency);
 * `HUBMILL_MAX_QUEUED_PER_USER=0` means no enqueue refusal.
 */

/** How a job entered: decides whether the quota may refuse it. */
export type JobEntry = 'api' | 'seed' | 'run-now' | 'fire' | 'task';

/** The entries that are refused over the quota; the others are queued and wait. */
const DIRECT: ReadonlySet<JobEntry> = new Set<JobEntry>(['api', 'seed', 'run-now']);

export interface RunQuota {
  /** Jobs one user may have running at once, enforced when a job is claimed; null = no per-user bound. */
  readonly maxRunningPerUser: number | null;
  /** Jobs one user may have queued and running together when submitting directly; null = no refusal. */
  readonly maxActivePerUser: number | null;
}

export const NO_QUOTA: RunQuota = { maxRunningPerUser: null, maxActivePerUser: null };

/** The settings the quota comes from (named as in Config). */
export interface QuotaSettings {
  maxRunningPerUser: number;
  maxQueuedPerUser: number;
  concurrency: number;
}

/** The quota from the settings (see the file comment for what 0 means). */
export function quotaFromSettings(s: QuotaSettings): RunQuota {
  const running = s.maxRunningPerUser > 0 ? Math.floor(s.maxRunningPerUser) : null;
  const counted = running ?? Math.max(1, Math.floor(s.concurrency));
  return {
    maxRunningPerUser: running,
    maxActivePerUser: s.maxQueuedPerUser > 0 ? counted + Math.floor(s.maxQueuedPerUser) : null,
  };
}

/** The `max_active` the store counts for a job of this entry: the quota for direct submissions, none for the rest. */
export function maxActiveFor(quota: RunQuota, entry: JobEntry): number | null {
  return DIRECT.has(entry) ? quota.maxActivePerUser : null;
}
