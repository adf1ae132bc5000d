/**
 * The states of a job, spelled once: the schemas, the SQL of both stores
 * (store/core/job-rules.ts), metrics, routes and the web UI (ui/src/api.ts)
 * derive theirs from this list. It imports nothing, so the UI bundle can
 * import it too. Migrations are append-only: a new state needs a migration that
 * rebuilds the `status` CHECK from STATUS_CHECK_SQL (core/job-rules.ts);
 * test/store/job-states.test.ts fails until the shipped ones match.
 */

/** Every state a job can be in: the one list that schemas, SQL, metrics and routes use. */
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
/** The states a job never leaves. */
export type FinalStatus = Extract<JobStatus, 'succeeded' | 'failed' | 'cancelled' | 'timed_out'>;
/** Allowed transitions: one table, checked by every implementation. */
export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ['running', 'cancelled'],
  running: ['succeeded', 'failed', 'cancelled', 'timed_out', 'queued' /* re-queued after a restart */],
  succeeded: [],
  failed: [],
  cancelled: [],
  timed_out: [],
};

/** The states a job never leaves: those with no way out in JOB_TRANSITIONS. */
export const TERMINAL_STATUSES: readonly FinalStatus[] = JOB_STATUSES.filter((s) => JOB_TRANSITIONS[s].length === 0) as FinalStatus[];

export function isTerminal(status: JobStatus): status is FinalStatus {
  return (TERMINAL_STATUSES as readonly JobStatus[]).includes(status);
}
