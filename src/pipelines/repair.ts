/**
 * What a repair re-runs, in place: the same run, new attempts of the chosen
 * task items and of everything downstream of them; succeeded upstream tasks keep
 * their jobs and results. Repairing item 3 of a fan-out re-runs item 3 only.
 *
 * The repair does not start anything itself: it returns new task states
 * (pending, with `attempt_base` marking the attempts of the re-run), the store
 * writes them, sets the run `running` again (finished_at null, cancel_requested
 * false), appends the RepairEntry and calls advance, which starts what is ready.
 * A task re-run wholly gets its for_each items resolved again (an upstream
 * re-run may change them); a task re-run by items keeps its items, and only
 * the chosen ones start again (their older attempts become history).
 */
import { attemptBase, attemptKey, itemOutcome, RunJobs } from './attempts.js';
import { newTaskState } from './advance.js';
import { RepairTargetError } from './pipeline-errors.js';
import type { RunView, TaskState, TaskStatus } from './types.js';

export interface RepairChoice {
  /** Tasks to re-run wholly. */
  tasks?: string[];
  /** for_each items to re-run alone, by task key. */
  items?: Record<string, number[]>;
}

export interface RepairPlan {
  /** The new state of every task re-run, in plan order; the other tasks keep theirs. Empty when there is nothing to repair. */
  tasks: TaskState[];
  /** What re-runs, for the run's `repairs` entry: the tasks re-run wholly (chosen or downstream) and the items re-run alone. */
  tasks_rerun: string[];
  items_rerun: Record<string, number[]>;
}

/** The task states a repair re-runs by default. */
export const REPAIRABLE: readonly TaskStatus[] = ['failed', 'timed_out', 'cancelled', 'upstream_failed'];

/**
 * Chooses what a repair re-runs. Without a choice (no task, no item): every
 * failed, timed-out, cancelled or upstream_failed task, and of a for_each task
 * that ran only the items that did not succeed. Always: every task downstream of
 * anything re-run, wholly. RepairTargetError (422) for an unknown task, items of a
 * task without for_each (or whose items were never resolved) and indexes out of range.
 */
export function planRepair(view: Pick<RunView, 'plan' | 'tasks' | 'jobs'>, choice: RepairChoice = {}): RepairPlan {
  const planned = new Map(view.plan.tasks.map((t) => [t.key, t]));
  const state = (key: string): TaskState => view.tasks[key] ?? newTaskState(key);
  const jobs = new RunJobs(view.jobs);
  const whole = new Set<string>();
  const partial = new Map<string, Set<number>>();

  const chosenTasks = choice.tasks ?? [];
  const chosenItems = Object.entries(choice.items ?? {});
  for (const key of chosenTasks) {
    if (!planned.has(key)) throw new RepairTargetError(`unknown task '${key}': the run has ${describeKeys([...planned.keys()])}`);
    whole.add(key);
  }
  for (const [key, indexes] of chosenItems) {
    const task = planned.get(key);
    if (!task) throw new RepairTargetError(`unknown task '${key}': the run has ${describeKeys([...planned.keys()])}`);
    if (!task.for_each) throw new RepairTargetError(`task '${key}' has no for_each: repair it whole with tasks: ['${key}']`);
    const items = state(key).items;
    if (items === null) throw new RepairTargetError(`task '${key}' never resolved its items: repair it whole with tasks: ['${key}']`);
    for (const i of indexes) {
      if (!Number.isInteger(i) || i < 0 || i >= items.length) {
        throw new RepairTargetError(`task '${key}' has no item ${String(i)}: its items are 0 to ${items.length - 1}`);
      }
    }
    if (indexes.length > 0 && !whole.has(key)) partial.set(key, new Set([...(partial.get(key) ?? []), ...indexes]));
  }

  if (chosenTasks.length === 0 && chosenItems.every(([, ix]) => ix.length === 0)) {
    for (const task of view.plan.tasks) {
      const st = state(task.key);
      if (!REPAIRABLE.includes(st.status)) continue;
      if (task.for_each && st.items !== null && st.status !== 'upstream_failed') {
        const bad = st.items
          .map((_, i) => i)
          .filter((i) => {
            const o = itemOutcome(jobs.of(task.key, i), attemptBase(st, i), task.max_retries);
            return !(o.kind === 'done' && o.status === 'succeeded');
          });
        if (bad.length > 0) {
          partial.set(task.key, new Set(bad));
          continue;
        }
      }
      whole.add(task.key);
    }
  }

  // Downstream of anything re-run, wholly (plan order is topological: one pass suffices).
  for (const task of view.plan.tasks) {
    if (task.depends_on.some((k) => whole.has(k) || partial.has(k))) {
      whole.add(task.key);
      partial.delete(task.key);
    }
  }

  const out: RepairPlan = { tasks: [], tasks_rerun: [], items_rerun: {} };
  for (const task of view.plan.tasks) {
    const st = state(task.key);
    if (whole.has(task.key)) {
      const indexes = task.for_each ? indexesWithJobs(view.jobs, task.key) : [null];
      out.tasks.push({ ...newTaskState(task.key), attempt_base: nextBases(st, indexes, jobs, task.key) });
      out.tasks_rerun.push(task.key);
    } else if (partial.has(task.key)) {
      const indexes = [...partial.get(task.key)!].sort((a, b) => a - b);
      out.tasks.push({
        ...newTaskState(task.key),
        items: st.items,
        items_total: st.items_total,
        attempt_base: nextBases(st, indexes, jobs, task.key),
      });
      out.items_rerun[task.key] = indexes;
    }
  }
  return out;
}

/** The attempt bases after a repair: each re-run item's next attempt is its newest + 1, the others unchanged. */
function nextBases(st: TaskState, indexes: readonly (number | null)[], jobs: RunJobs, key: string): Record<string, number> {
  const bases: Record<string, number> = { ...(st.attempt_base ?? {}) };
  for (const i of indexes) {
    const all = jobs.of(key, i);
    if (all.length > 0) bases[attemptKey(i)] = Math.max(attemptBase(st, i), all[all.length - 1]!.attempt + 1);
  }
  return bases;
}

function indexesWithJobs(jobs: RunView['jobs'], key: string): number[] {
  return [...new Set(jobs.filter((j) => j.task_key === key && j.item_index !== null).map((j) => j.item_index!))].sort((a, b) => a - b);
}

function describeKeys(keys: string[]): string {
  const shown = keys.slice(0, 20).map((k) => `'${k}'`).join(', ');
  return keys.length > 20 ? `${shown}, …` : shown;
}
