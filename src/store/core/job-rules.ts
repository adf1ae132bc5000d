/**
 * The rules of the job queue that do not depend on the database, written once
 * for both stores: the state lists as SQL, the transition check, the run quota
 * and the errors a refused change raises.
 */
import { InvalidTransitionError, NotFoundError, RunQuotaError } from '../../errors.js';
import type { RunError } from '../../engine/run-types.js';
import { JOB_STATUSES, JOB_TRANSITIONS, TERMINAL_STATUSES, isTerminal, type FinalStatus, type JobStatus } from '../job-store.js';

/** The states that count against a user's run quota (and a schedule's overlap): not terminal. */
export const ACTIVE_STATUSES: readonly JobStatus[] = JOB_STATUSES.filter((s) => !isTerminal(s));

/** A list of states as SQL literals: `'queued','running'`. States are fixed words, never user input. */
export function sqlStates(states: readonly JobStatus[]): string {
  return states.map((s) => `'${s}'`).join(',');
}

/** `'succeeded','failed',…`: the finished states, for `status IN (…)`. */
export const TERMINAL_SQL = sqlStates(TERMINAL_STATUSES);
/** `'queued','running'`. */
export const ACTIVE_SQL = sqlStates(ACTIVE_STATUSES);
/** The CHECK of the `status` column, for a migration that (re)creates it: every state of JOB_STATUSES. */
export const STATUS_CHECK_SQL = `CHECK (status IN (${sqlStates(JOB_STATUSES)}))`;

/** The states a job may reach `to` from. */
export function statesBefore(to: JobStatus): JobStatus[] {
  return JOB_STATUSES.filter((s) => JOB_TRANSITIONS[s].includes(to));
}

function transitionError(message: string, id: string, from: JobStatus, to: JobStatus): InvalidTransitionError {
  const err = new InvalidTransitionError(message);
  Object.assign(err.extra, { job_id: id, from, to });
  return err;
}

/** Throws InvalidTransitionError when the state machine (JOB_TRANSITIONS) forbids `from → to`. */
export function assertTransition(r: { id: string; status: JobStatus }, to: JobStatus): void {
  if (!JOB_TRANSITIONS[r.status].includes(to)) throw transitionError(`job ${r.id} cannot go from ${r.status} to ${to}`, r.id, r.status, to);
}

/**
 * Why a conditional `markFinished` update changed no row, given the row as it is
 * now (undefined: gone): not found, the worker's claim lost, a forbidden
 * transition, or a state that changed in between.
 */
export function finishRefusal(id: string, r: { id: string; status: JobStatus } | undefined, to: FinalStatus, workerId: string | undefined): Error {
  if (!r) return new NotFoundError(`job ${id} not found`);
  if (workerId !== undefined) {
    return transitionError(`job ${id} is no longer held by worker ${workerId} (its lease was reclaimed)`, id, r.status, to);
  }
  try {
    assertTransition(r, to);
  } catch (err) {
    return err as Error;
  }
  // Allowed now but refused a moment ago: its state changed in between.
  return transitionError(`job ${id} changed state while it was being finished (now ${r.status})`, id, r.status, to);
}

/**
 * The quota rule: a user may have at most `maxActive` jobs queued and running
 * together, the new one included. `counts` are the user's active jobs per state,
 * counted in the enqueue's transaction.
 */
export function checkQuota(username: string, counts: readonly { status: JobStatus; n: number | string }[], maxActive: number): void {
  const count = (s: JobStatus) => Number(counts.find((r) => r.status === s)?.n ?? 0);
  const running = count('running');
  const queued = count('queued');
  if (running + queued >= maxActive) throw new RunQuotaError(username, { running, queued, maxActive });
}

/** The error of a job whose worker went away. */
export function interruptedError(reason: string): RunError {
  return { ename: 'JobInterrupted', evalue: reason, traceback: [], cell_index: null };
}

/** Zero for every state. */
export function emptyCounts(): Record<JobStatus, number> {
  return Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Orders rows as `ORDER BY created_at_ms, id` does (ids are COLLATE "C"), for rows RETURNING gives in no order. */
export function byCreation(a: { created_at_ms: number; id: string }, b: { created_at_ms: number; id: string }): number {
  return a.created_at_ms - b.created_at_ms || byId(a.id, b.id);
}

/** As `ORDER BY finished_at_ms, id`. */
export function byFinish(a: { finished_at_ms: number | null; id: string }, b: { finished_at_ms: number | null; id: string }): number {
  return (a.finished_at_ms ?? 0) - (b.finished_at_ms ?? 0) || byId(a.id, b.id);
}
