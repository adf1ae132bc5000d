/**
 * Errors of the pipelines' pure core. The HTTP error handler maps them like
 * every other HubmillError; the advance never throws them at a store: it turns
 * them into a failed task whose `error` is the message.
 */
import { HubmillError } from '../errors.js';
import type { PipelineProblem } from './types.js';

/**
 * A reference that cannot be resolved when a task starts: an upstream task that
 * recorded no such result, a run parameter that is absent, `{{item.x}}` on an item
 * without `x`. Raised by pipelines/refs.ts; the advance fails the task with it (no
 * job, never a `None` injected); 422 where a route meets it.
 */
export class PipelineReferenceError extends HubmillError {
  override readonly code = 'PIPELINE_REFERENCE';
  override readonly httpStatus = 422;
  override readonly extra: Record<string, unknown>;
  constructor(
    readonly reference: string,
    reason: string,
  ) {
    super(`${reference}: ${reason}`);
    this.extra = { reference };
  }
}

/** A for_each whose items cannot be used: not a list, or over MAX_FOR_EACH_ITEMS. Raised by pipelines/grid.ts; the advance fails the task with it; 422. */
export class ForEachItemsError extends HubmillError {
  override readonly code = 'FOR_EACH_ITEMS';
  override readonly httpStatus = 422;
}

/** A pipeline with problems (pipelines/check.ts), raised where one problem list must stop the caller; 422 with every problem in `problems`. */
export class PipelineInvalidError extends HubmillError {
  override readonly code = 'PIPELINE_INVALID';
  override readonly httpStatus = 422;
  override readonly extra: Record<string, unknown>;
  constructor(readonly problems: PipelineProblem[]) {
    super(problems.length === 0 ? 'invalid pipeline' : problems.map(problemText).join('; '));
    this.extra = { problems };
  }
}

/** A repair naming a task the run does not have, items of a task without for_each, or an item index out of range. Raised by pipelines/repair.ts; 422. */
export class RepairTargetError extends HubmillError {
  override readonly code = 'REPAIR_TARGET';
  override readonly httpStatus = 422;
}

/** One problem as one line: `tasks[2].depends_on[0] (task 'b'): unknown task 'x'`. */
export function problemText(p: PipelineProblem): string {
  return `${p.path}${p.task === null ? '' : ` (task '${p.task}')`}: ${p.message}`;
}
