/**
 * The jobs of one task item, attempt by attempt. Jobs are counted per
 * (task_key, item_index); the newest attempt of the current (re)run decides the
 * item's state. Older attempts (before a repair's attempt_base) are history.
 * Shared by the advance, the repair and whoever shows a run's items.
 */
import type { RunJobView, TaskState } from './types.js';

/** Longest wait before a retry, whatever the backoff and the attempt (1 h, as schedules). */
export const MAX_RETRY_DELAY_S = 3600;

/** The key of an item in TaskState.attempt_base: its index, `"null"` for a task without for_each. */
export function attemptKey(index: number | null): string {
  return String(index);
}

/** A run's jobs by task and item, each list sorted by attempt (oldest first). */
export class RunJobs {
  private readonly byItem = new Map<string, RunJobView[]>();

  constructor(jobs: readonly RunJobView[]) {
    for (const j of jobs) {
      const k = itemId(j.task_key, j.item_index);
      const list = this.byItem.get(k);
      if (list) list.push(j);
      else this.byItem.set(k, [j]);
    }
    for (const list of this.byItem.values()) list.sort((a, b) => a.attempt - b.attempt);
  }

  /** Every job of one task item, history included, oldest attempt first. */
  of(taskKey: string, index: number | null): readonly RunJobView[] {
    return this.byItem.get(itemId(taskKey, index)) ?? [];
  }
}

function itemId(taskKey: string, index: number | null): string {
  return `${taskKey}\u0000${index ?? ''}`;
}

/** The first attempt of the item's current (re)run (1 unless a repair set it). */
export function attemptBase(state: Pick<TaskState, 'attempt_base'>, index: number | null): number {
  return state.attempt_base?.[attemptKey(index)] ?? 1;
}

/** What the item's jobs say, given its attempt base and the task's retries. */
export type ItemOutcome =
  /** No job yet in the current (re)run. */
  | { kind: 'unstarted'; next_attempt: number }
  /** Its newest job is queued or running. */
  | { kind: 'active'; job: RunJobView }
  /** Its newest job failed or timed out, with a retry left: the retry is attempt `next_attempt`, retry number `retry` (1 for the first). */
  | { kind: 'retry'; job: RunJobView; next_attempt: number; retry: number }
  /** Final: its newest job's state (succeeded, or failed/timed_out with no retry left, or cancelled). */
  | { kind: 'done'; status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled'; job: RunJobView };

/** The outcome of one item from all its jobs (oldest attempt first). */
export function itemOutcome(jobs: readonly RunJobView[], base: number, maxRetries: number): ItemOutcome {
  const newestAny = jobs.length > 0 ? jobs[jobs.length - 1]!.attempt : 0;
  const next = Math.max(base, newestAny + 1);
  const newest = jobs.length > 0 && jobs[jobs.length - 1]!.attempt >= base ? jobs[jobs.length - 1]! : null;
  if (!newest) return { kind: 'unstarted', next_attempt: next };
  switch (newest.status) {
    case 'queued':
    case 'running':
      return { kind: 'active', job: newest };
    case 'succeeded':
    case 'cancelled':
      return { kind: 'done', status: newest.status, job: newest };
    case 'failed':
    case 'timed_out': {
      const retriesUsed = newest.attempt - base;
      if (retriesUsed < maxRetries) return { kind: 'retry', job: newest, next_attempt: next, retry: retriesUsed + 1 };
      return { kind: 'done', status: newest.status, job: newest };
    }
  }
}

/** Retry n waits `backoff × 2^(n−1)` seconds, at most MAX_RETRY_DELAY_S; deterministic (no jitter), so advancing twice agrees. */
export function retryDelayMs(backoffS: number, retry: number): number {
  const s = Math.min(MAX_RETRY_DELAY_S, Math.max(0, backoffS) * 2 ** Math.max(0, retry - 1));
  return Math.round(s * 1000);
}
