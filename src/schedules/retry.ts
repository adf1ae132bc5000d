/**
 * Retries of a schedule's failed or timed-out run: attempt n+1 waits
 * `retry_backoff_s × 2^(n−1)` with up to +20 % jitter, capped; a cancelled or
 * successful run, a run started by hand (no cron time) and a deleted schedule
 * are never retried.
 */
import type { Job } from '../store/job-store.js';
import type { Schedule, SettleDecision } from '../store/schedule-store.js';

export const RETRY_JITTER = 0.2;

export function retryDelayMs(backoffS: number, attempt: number, capS: number, random: () => number): number {
  const base = backoffS * 2 ** Math.max(0, attempt - 1);
  return Math.round(Math.min(capS, base * (1 + RETRY_JITTER * random())) * 1000);
}

export function decideRetry(job: Job, s: Schedule | null, nowMs: number, capS: number, random: () => number): SettleDecision {
  if (!s || job.scheduled_for_ms === null) return { retryAtMs: null };
  if (job.status !== 'failed' && job.status !== 'timed_out') return { retryAtMs: null };
  if (job.cancel_requested || job.attempt > s.max_retries) return { retryAtMs: null };
  return { retryAtMs: nowMs + retryDelayMs(s.retry_backoff_s, job.attempt, capS, random) };
}
