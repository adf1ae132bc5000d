/**
 * A task's items as the run page, the results table and the events show them:
 * one row per item (one row with index null for a task without for_each), its
 * state and its deciding job, read the same way the advance reads them
 * (attempts.ts), so what is shown never disagrees with what runs.
 */
import type { ParameterValue } from '../notebook/notebook-types.js';
import { attemptBase, itemOutcome, RunJobs } from './attempts.js';
import type { RunJobView, RunView } from './types.js';

export type ItemStatus = 'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'timed_out' | 'cancelled';

export interface ItemView {
  index: number | null;
  /** The item's value (for_each), else null. */
  item: ParameterValue | null;
  /** pending: no job in the current (re)run yet; a failed job with a retry to come shows `queued`. */
  status: ItemStatus;
  /** The newest job of the current (re)run, or null. */
  job: RunJobView | null;
  /** Every job of the item, history included, oldest attempt first. */
  jobs: readonly RunJobView[];
}

/** The items of one task of a run; [] for an unknown task or a for_each whose items are not resolved yet. */
export function taskItems(view: Pick<RunView, 'plan' | 'tasks' | 'jobs'>, key: string, jobs: RunJobs = new RunJobs(view.jobs)): ItemView[] {
  const task = view.plan.tasks.find((t) => t.key === key);
  const st = view.tasks[key];
  if (!task) return [];
  const items: { index: number | null; item: ParameterValue | null }[] = task.for_each
    ? (st?.items ?? []).map((item, index) => ({ index, item }))
    : [{ index: null, item: null }];
  return items.map(({ index, item }) => {
    const all = jobs.of(key, index);
    const o = itemOutcome(all, st ? attemptBase(st, index) : 1, task.max_retries);
    const job = o.kind === 'unstarted' ? null : o.job;
    const status: ItemStatus = o.kind === 'unstarted' ? 'pending' : o.kind === 'retry' ? 'queued' : o.kind === 'active' ? (o.job.status as 'queued' | 'running') : o.status;
    return { index, item, status, job, jobs: all };
  });
}
