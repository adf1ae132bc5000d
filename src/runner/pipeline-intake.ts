/**
 * The save-time check of a pipeline, the part that needs the owner's home: the
 * graph and its references are checked by the pure core (pipelines/check.ts),
 * then every task's notebook passes the producer's own check, the one a job
 * submitted to the jobs API passes (path rules, a missing notebook, its kernel,
 * parameter names and values the notebook's language cannot take, the limits).
 * What the checks read becomes the plan the runs use: the notebook's stored
 * path, the kernel resolved once (name and language), and the names its
 * parameters cell declares, into which pipeline parameters are pushed down.
 *
 * Every problem found is reported at once, the core's and the notebooks', as
 * one PipelineInvalidError (422) whose message names each task and problem and
 * whose `problems` field lists them as {task, path, message} (the YAML editor
 * maps a path to a line).
 */
import { HubmillError, LimitError, NoSuchKernelError, ParameterError, UnsupportedLanguageError } from '../errors.js';
import { assertDepth } from '../notebook/check-parameters.js';
import type { ParameterValue, Parameters } from '../notebook/notebook-types.js';
import { encodeParameters } from '../notebook/parameters-json.js';
import { checkPipeline } from '../pipelines/check.js';
import { PipelineInvalidError } from '../pipelines/pipeline-errors.js';
import { buildPlan, type TaskNotebookInfo } from '../pipelines/plan.js';
import { MAX_TASKS, type PipelinePlan, type PipelineProblem, type PipelineSpec, type TaskSpec } from '../pipelines/types.js';
import type { NewJob } from '../store/job-store.js';
import type { CheckedJob, CheckOptions } from './intake.js';

/** Checks at once at most this many task notebooks (each reads a file, or asks a user's server). */
const CHECKS_AT_ONCE = 8;

export interface PipelineIntakeDeps {
  /** The producer's check (runner.check): the one every job passes. */
  check(job: NewJob, opts?: CheckOptions): Promise<CheckedJob>;
  /** The for_each concurrency of a task that sets none: the service's concurrency. */
  defaultConcurrency: number;
}

/** The values a task's notebook may be given at run time, as far as they are known when it is saved. */
function taskParameters(task: TaskSpec): Parameters {
  // References are strings until the run resolves them: their names and the strings themselves are checked now.
  const params: Parameters = { ...(task.parameters ?? {}) };
  for (const [name, values] of Object.entries(task.for_each?.grid ?? {})) {
    if (!Object.hasOwn(params, name) && Array.isArray(values) && values.length > 0) params[name] = values[0]!;
  }
  return params;
}

/** Where in the body an intake error belongs. */
function problemPath(i: number, task: TaskSpec, err: HubmillError): string {
  const at = `tasks[${i}]`;
  if (err instanceof LimitError) return `${at}.${String(err.extra.field ?? 'timeout_s')}`;
  if (err instanceof NoSuchKernelError || err instanceof UnsupportedLanguageError) return task.kernel ? `${at}.kernel` : `${at}.notebook`;
  if (err instanceof ParameterError) {
    const name = /'([^']*)'/.exec(err.message)?.[1];
    if (name !== undefined && !Object.hasOwn(task.parameters ?? {}, name) && Object.hasOwn(task.for_each?.grid ?? {}, name)) return `${at}.for_each.grid.${name}`;
    return name !== undefined && Object.hasOwn(task.parameters ?? {}, name) ? `${at}.parameters.${name}` : `${at}.parameters`;
  }
  return `${at}.notebook`;
}

/** Errors the intake raises about a job's fields (a bad path, a missing notebook, kernel, parameters, limits): the task's problem. */
function isTaskProblem(err: unknown): err is HubmillError {
  return err instanceof HubmillError && [400, 404, 422].includes(err.httpStatus) && err.code !== 'INVALID_USERNAME';
}

/** Runs `fn` over `items`, at most `n` at once, keeping the order of the answers. */
async function mapBounded<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

export class PipelineIntake {
  constructor(private readonly deps: PipelineIntakeDeps) {}

  /**
   * Checks a pipeline for `owner` completely; answers its plan (tasks in topological order, notebooks as stored,
   * kernels resolved, declared parameters). PipelineInvalidError (422) listing every problem found.
   */
  async plan(spec: PipelineSpec, owner: string, by: string, ownerGroups?: readonly string[]): Promise<PipelinePlan> {
    const problems: PipelineProblem[] = checkPipeline(spec);
    const parameters = spec.parameters ?? {};
    // Identical checks (a notebook used by many tasks with the same fields) are made once.
    const seen = new Map<string, Promise<CheckedJob>>();
    const check = (job: NewJob): Promise<CheckedJob> => {
      const key = encodeParameters({ n: job.notebook, k: job.kernel ?? null, t: job.timeout_s ?? null, c: job.cell_timeout_s ?? null, p: job.parameters, s: (job.secrets ?? []).map((r) => r.name) });
      let p = seen.get(key);
      if (!p) seen.set(key, (p = this.deps.check(job, { declaredParameters: true })));
      return p;
    };
    const tasks = Array.isArray(spec.tasks) ? spec.tasks : [];
    // Too many tasks: no notebook is read for a pipeline refused anyway.
    if (tasks.length > MAX_TASKS) throw new PipelineInvalidError(problems);
    const checked = await mapBounded(tasks, CHECKS_AT_ONCE, async (task, i): Promise<{ notebook: string; info: TaskNotebookInfo } | null> => {
      if (typeof task?.notebook !== 'string') return null;
      const job = (params: Parameters): NewJob => ({
        username: owner,
        notebook: task.notebook,
        parameters: params,
        kernel: task.kernel ?? null,
        timeout_s: task.timeout_s ?? null,
        cell_timeout_s: task.cell_timeout_s ?? null,
        submitted_by: by,
        source: 'pipeline',
        ...(Array.isArray(task.secrets) && task.secrets.length > 0 ? { secrets: task.secrets.map((name) => ({ name })), owner_groups: ownerGroups } : {}),
      });
      try {
        const own = taskParameters(task);
        const first = await check(job(own));
        const declared = first.declared_parameters ?? [];
        // The pipeline's parameters this task will get pushed down: checked as its notebook will receive them.
        const pushed = Object.keys(parameters).filter((n) => declared.includes(n) && !Object.hasOwn(own, n));
        const last = pushed.length === 0 ? first : await check(job({ ...own, ...Object.fromEntries(pushed.map((n) => [n, parameters[n]!])) }));
        return {
          notebook: last.job.notebook,
          info: { kernel: last.kernel?.name ?? task.kernel ?? null, kernel_language: last.kernel?.language ?? null, declared_parameters: declared, secrets: last.job.secrets ?? undefined },
        };
      } catch (err) {
        if (!isTaskProblem(err)) throw err;
        problems.push({ task: typeof task.key === 'string' ? task.key : null, path: problemPath(i, task, err), message: err.message });
        return null;
      }
    });
    if (problems.length > 0) throw new PipelineInvalidError(sortProblems(problems));
    // The plan keeps each notebook as stored (normalized relative to the home), with what its check read.
    const stored: PipelineSpec = { ...spec, tasks: tasks.map((t, i) => ({ ...t, notebook: checked[i]!.notebook })) };
    return buildPlan(stored, (_t, i) => checked[i]!.info, this.deps.defaultConcurrency);
  }

  /**
   * A run's own parameters: only the pipeline's parameters may be given (a typo would otherwise reach no task),
   * and each value must fit every task it is pushed down into. Answers the merged parameters.
   */
  runParameters(plan: PipelinePlan, given: Parameters): Parameters {
    const problems: PipelineProblem[] = [];
    const known = Object.keys(plan.parameters);
    for (const [name, value] of Object.entries(given)) {
      if (!Object.hasOwn(plan.parameters, name)) {
        problems.push({ task: null, path: `parameters.${name}`, message: `'${name}' is not a parameter of the pipeline (its parameters: ${known.join(', ') || 'none'})` });
        continue;
      }
      try {
        assertDepth(value as ParameterValue);
      } catch (err) {
        problems.push({ task: null, path: `parameters.${name}`, message: (err as Error).message });
      }
    }
    if (problems.length > 0) throw new PipelineInvalidError(problems);
    return { ...plan.parameters, ...given };
  }
}

function sortProblems(problems: PipelineProblem[]): PipelineProblem[] {
  return [...problems].sort((a, b) => comparePaths(a.path, b.path));
}

/** `tasks[2]` before `tasks[10]`. */
function comparePaths(a: string, b: string): number {
  const num = (s: string) => s.replace(/\[(\d+)\]/g, (_, d: string) => `[${d.padStart(6, '0')}]`);
  return num(a) < num(b) ? -1 : num(a) > num(b) ? 1 : 0;
}
