/**
 * The plan of a checked pipeline: its tasks in topological order with every
 * default filled in and what the notebooks said (resolved kernel, declared
 * parameter names), so a run never reads a notebook to advance. Built by
 * runner/pipeline-intake.ts after checkPipeline and its own notebook checks.
 */
import { checkPipeline } from './check.js';
import { taskGraph } from './graph.js';
import { PipelineInvalidError } from './pipeline-errors.js';
import type { PipelinePlan, PipelineSpec, PlannedTask, TaskSpec } from './types.js';

/** What a task's notebook says, found by the intake (the kernel resolved as for a job). */
export interface TaskNotebookInfo {
  kernel: string | null;
  kernel_language: string | null;
  declared_parameters: string[];
  /** The task's secrets as the check resolved them. */
  secrets?: { name: string; scope?: string }[];
}

export const TASK_DEFAULTS = { run_if: 'all_succeeded', max_retries: 0, retry_backoff_s: 60 } as const;

/**
 * The plan of `spec`: PipelineInvalidError (422, every problem) when checkPipeline
 * finds any. `info` is asked once per task, in the spec's order.
 */
export function buildPlan(spec: PipelineSpec, info: (task: TaskSpec, index: number) => TaskNotebookInfo, defaultConcurrency: number): PipelinePlan {
  const problems = checkPipeline(spec);
  if (problems.length > 0) throw new PipelineInvalidError(problems);
  const byKey = new Map<string, PlannedTask>();
  spec.tasks.forEach((t, i) => byKey.set(t.key, plannedTask(t, info(t, i))));
  const order = taskGraph(spec.tasks.map((t) => ({ key: t.key, depends_on: t.depends_on ?? [] }))).order;
  return {
    parameters: { ...(spec.parameters ?? {}) },
    tasks: order.map((k) => byKey.get(k)!),
    default_concurrency: Math.max(1, Math.floor(defaultConcurrency)),
  };
}

function plannedTask(t: TaskSpec, nb: TaskNotebookInfo): PlannedTask {
  const p: PlannedTask = {
    key: t.key,
    notebook: t.notebook,
    parameters: t.parameters ?? {},
    depends_on: [...new Set(t.depends_on ?? [])],
    run_if: t.run_if ?? TASK_DEFAULTS.run_if,
    kernel: nb.kernel,
    kernel_language: nb.kernel_language,
    timeout_s: t.timeout_s ?? null,
    cell_timeout_s: t.cell_timeout_s ?? null,
    max_retries: t.max_retries ?? TASK_DEFAULTS.max_retries,
    retry_backoff_s: t.retry_backoff_s ?? TASK_DEFAULTS.retry_backoff_s,
    declared_parameters: [...nb.declared_parameters],
  };
  if (t.for_each) p.for_each = { ...t.for_each };
  if (t.secrets && t.secrets.length > 0) p.secrets = [...t.secrets];
  if (nb.secrets && nb.secrets.length > 0) p.secret_refs = nb.secrets.map((r) => ({ ...r }));
  return p;
}
