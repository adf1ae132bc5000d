/**
 * A pipeline on this machine, with no server, built from the service's own
 * parts rather than a second executor: the save-time check
 * (runner/pipeline-intake.ts, the producer's check of every task's notebook),
 * a throwaway SQLite job store with its pipeline store (a run advances in the
 * transaction that records each job's end, as in the service), the runner
 * with fresh local kernels, and the run watch the SSE stream reads
 * (http/pipeline-run-watch.ts) for the progress lines.
 *
 * The owner is the user running the command; the home is the folder the
 * notebook paths are relative to. Kernels run as this user, in each
 * notebook's folder, as jobs do.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { pino } from 'pino';
import { UsageError } from '../errors.js';
import { defaultOutputPath } from '../homes/home.js';
import { listRunJobs, RunWatch, type RunLog } from '../http/pipeline-run-watch.js';
import type { Parameters } from '../notebook/notebook-types.js';
import type { PipelinePlan, PipelineSpec } from '../pipelines/types.js';
import { PipelineIntake } from '../runner/pipeline-intake.js';
import { Runner } from '../runner/runner.js';
import { isTerminal, type Job } from '../store/job-store.js';
import type { PipelineRun, PipelineStore } from '../store/pipeline-store.js';
import { pipelineStoreFor } from '../store/open.js';
import { SqliteJobStore } from '../store/sqlite-job-store.js';

/** `--output-dir` as a folder relative to the home; UsageError when it lies outside it. */
export function outputDirInHome(home: string, dir: string): string {
  const abs = resolve(dir);
  const rel = relative(home, abs);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new UsageError(`--output-dir ${abs} is outside the home ${home}: outputs stay in the home (choose a wider one with --home)`);
  }
  return rel.split(sep).join('/');
}

/** The output of a task's job in `--output-dir`: TASK-STEM.ipynb, TASK-STEM-ITEM.ipynb, a retry's with -attemptN. */
export function outputNameIn(dirRel: string) {
  return (job: Job, notebookRelPath: string): string => {
    const base = notebookRelPath.split('/').pop()!;
    const stem = base.endsWith('.ipynb') ? base.slice(0, -6) : base;
    const item = job.item_index === null ? '' : `-${job.item_index}`;
    const attempt = job.attempt > 1 ? `-attempt${job.attempt}` : '';
    const name = `${job.task_key ?? 'job'}-${stem}${item}${attempt}.ipynb`;
    return dirRel === '' ? name : `${dirRel}/${name}`;
  };
}

export interface LocalPipelineOptions {
  home: string;
  owner: string;
  concurrency: number;
  /** Folder relative to the home for the outputs; undefined: where jobs write them (homes/home.ts). */
  outputDir?: string;
}

/** One local pipeline run's machinery: open, plan, start, watch, cancel, close. */
export class LocalPipeline {
  readonly jobs: SqliteJobStore;
  readonly pipelines: PipelineStore;
  readonly runner: Runner;
  readonly checker: PipelineIntake;
  private readonly watch: RunWatch;
  private readonly tick: NodeJS.Timeout;

  constructor(readonly o: LocalPipelineOptions) {
    this.jobs = new SqliteJobStore({ path: ':memory:' });
    this.pipelines = pipelineStoreFor(this.jobs);
    const outputNameFor = o.outputDir !== undefined ? outputNameIn(o.outputDir) : defaultOutputPath;
    this.runner = new Runner({
      store: this.jobs,
      pool: null,
      homeFor: () => o.home,
      concurrency: o.concurrency,
      // The kernels run as the user running the command.
      runAsFor: async () => null,
      outputNameFor,
      logger: pino({ enabled: false }),
      pollIntervalMs: 200,
    });
    this.checker = new PipelineIntake({ check: (job, opts) => this.runner.check(job, opts), defaultConcurrency: o.concurrency });
    this.watch = new RunWatch({ pipelines: this.pipelines, jobs: this.jobs, runner: this.runner, prefix: '', pollMs: 250 });
    // What a server's scheduler tick does: a retry whose backoff ended, a run whose advance lags.
    this.tick = setInterval(() => void this.pipelines.advanceDue(Date.now()).catch(() => undefined), 500);
    this.tick.unref();
  }

  /** The checked plan (PipelineInvalidError, 422 in the service, listing every problem). */
  plan(spec: PipelineSpec): Promise<PipelinePlan> {
    return this.checker.plan(spec, this.o.owner, this.o.owner);
  }

  /** Saves the pipeline and starts a run with `given` over its defaults (only the pipeline's own parameters). */
  async start(spec: PipelineSpec, plan: PipelinePlan, given: Parameters): Promise<PipelineRun> {
    // Only the pipeline's own names; the store merges them over its defaults, as the service does.
    this.checker.runParameters(plan, given);
    await this.runner.start();
    const p = await this.pipelines.createPipeline({ ...spec, parameters: spec.parameters ?? {}, max_concurrent_runs: 1, notify: null, owner: this.o.owner, created_by: this.o.owner, plan });
    return this.pipelines.createRun({ pipeline_id: p.id, parameters: given, submitted_by: this.o.owner });
  }

  /** The run's log of task and item state changes (the SSE stream's). */
  open(runId: string): Promise<RunLog> {
    return this.watch.open(runId);
  }

  /** Cancels the run: nothing new starts, running jobs are interrupted (then killed), the run ends cancelled. */
  async cancel(runId: string): Promise<void> {
    await this.pipelines.cancelRun(runId);
    // The store stops the queued jobs and flags the running ones; the runner stops its own at once.
    for (const j of await listRunJobs(this.jobs, runId)) if (!isTerminal(j.status)) await this.runner.cancel(j.id);
  }

  /** Stops the runner (its kernels shut down) and closes the store. */
  async close(graceMs = 5000): Promise<void> {
    clearInterval(this.tick);
    await this.runner.stop(graceMs);
    await this.jobs.close();
  }
}
