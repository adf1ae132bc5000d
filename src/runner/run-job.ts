/**
 * One claimed job, from start to its recorded end: prepare it (intake), run the
 * engine with the notebook, output sink and kernel source of the job's home
 * and the job's limits, turn engine events into job
 * events and throttled progress writes, and record the end — as the worker that
 * holds the job, so a job whose lease was reclaimed meanwhile keeps the
 * reclaiming worker's record.
 */
import type { Logger } from 'pino';
import { AbortedError, HubmillError } from '../errors.js';
import type { EngineEvent, RunAs, RunError, RunOptions, RunResult, RunStatus } from '../engine/run-types.js';
import type { NotebookSink } from '../notebook/io.js';
import type { Job, JobProgress, JobStore } from '../store/job-store.js';
import { chownToUser } from '../users/run-as.js';
import type { Intake } from './intake.js';
import type { JobEvents } from './job-event-waits.js';
import { runLimitsMs, type Limits } from './time-limits.js';
import type { RunnerMetrics } from './options.js';
import { LiveOutputLimit } from './live-output.js';
import { ProgressTracker } from './progress-writer.js';
import type { RunningJob } from './queue.js';
import { holdValues } from '../secrets/active-values.js';
import { SecretKeyMissingError, SecretRefusedError } from '../secrets/errors.js';
import type { SecretVault } from './secret-vault.js';

export interface RunJobDeps {
  store: JobStore;
  workerId: string;
  intake: Intake;
  events: JobEvents;
  limits: Limits;
  execute: (opts: RunOptions) => Promise<RunResult>;
  log: Logger;
  metrics?: RunnerMetrics;
  progressIntervalMs: number;
  saveIntervalMs?: number;
  maxOutputBytes?: number;
  kernelEnv?(job: Job): Record<string, string> | undefined;
  /** Opens the job's secrets (kernel environment and redactor); absent: a job naming secrets fails. */
  secrets?: Pick<SecretVault, 'openForJob'> | null;
  /** Kernels still being given back after their job ended (the engine does not wait for them). */
  kernelClosing(p: Promise<void>): void;
}

function toRunError(err: unknown): RunError {
  const e = err instanceof Error ? err : new Error(String(err));
  return { ename: e.name || 'Error', evalue: e.message, traceback: [], cell_index: null };
}

function safeCall(fn: () => void): void {
  try {
    fn();
  } catch {
    // Metrics hooks must never break a run.
  }
}

/** Engine events → job events and progress. */
function relayEvents(job: Job, cellsTotalAtStart: number, events: JobEvents, tracker: ProgressTracker): (ev: EngineEvent) => void {
  let cellsTotal = cellsTotalAtStart;
  const live = new LiveOutputLimit();
  return (ev) => {
    switch (ev.type) {
      case 'run_started':
        cellsTotal = ev.cellsTotal;
        tracker.update({ cells_total: cellsTotal, cells_done: 0 }, true);
        break;
      case 'cell_started':
        events.emit({ type: 'cell_started', job_id: job.id, cell_index: ev.index, cells_total: cellsTotal });
        break;
      case 'output': {
        // The output notebook has every byte; the live events carry a bounded share of the stream text.
        const output = live.apply(ev.output);
        if (output) events.emit({ type: 'output', job_id: job.id, cell_index: ev.index, output, appended: ev.appended });
        break;
      }
      case 'cell_finished':
        tracker.update({ cells_total: cellsTotal, cells_done: ev.cellsDone }, false);
        events.emit({
          type: 'cell_finished',
          job_id: job.id,
          cell_index: ev.index,
          status: ev.status,
          duration_ms: ev.durationMs,
          cells_done: ev.cellsDone,
          cells_total: cellsTotal,
        });
        break;
      case 'run_finished':
        break;
    }
  };
}

export async function runJob(entry: RunningJob, d: RunJobDeps, leave: () => void): Promise<void> {
  const { job, controller } = entry;
  const log = d.log.child({ jobId: job.id });
  const claimedAt = job.started_at_ms ?? Date.now();
  log.info({ username: job.username, notebook: job.notebook, attempt: job.attempts }, 'job started');
  d.events.emitState(job);
  safeCall(() => d.metrics?.jobStarted?.(job));

  let status: RunStatus;
  let error: RunError | null = null;
  let result: Record<string, unknown> | null = null;
  let progress: JobProgress | undefined;
  let outputRel: string | null = job.output_path;
  let runAs: RunAs | null = null;
  let outputAbs: string | null = null;
  /** The job's home is given back (the user's server, for its idle stop) once its kernel is shut down. */
  let releaseHome: (() => void) | null = null;
  /** Where the output is saved; closed here too, in case the engine never took it. */
  let sink: NotebookSink | null = null;
  let kernelClosed: Promise<void> | null = null;
  /** The job's secret values leave this process's log redaction once the run is recorded. */
  let releaseValues = (): void => undefined;
  const tracker = new ProgressTracker(d.store, job.id, d.progressIntervalMs, (err) => log.warn({ err: err.message }, 'progress update failed'));

  try {
    const p = await d.intake.prepare(job, controller.signal);
    releaseHome = () => p.home.release();
    runAs = p.runAs;
    outputAbs = p.output.localPath;
    outputRel = p.output.path;
    tracker.setOutputPath(p.output.path);
    if (job.cancel_requested) controller.abort(new AbortedError('cancelled on request'));
    let opened = null;
    if ((job.secrets?.length ?? 0) > 0) {
      if (p.home.target === 'user-server') throw new SecretRefusedError("a job in the user's own server cannot use secrets (its kernel's environment cannot be set)");
      if (!d.secrets) throw new SecretKeyMissingError(`job ${job.id} uses secrets but this node has no secret store`);
      opened = await d.secrets.openForJob(job);
      if (opened) releaseValues = holdValues(job.id, opened.values);
    }
    const extra = d.kernelEnv?.(job);
    const env = opened ? { ...extra, ...opened.env } : extra;
    const res = await d.execute({
      notebook: p.notebook.notebook,
      inputPath: p.notebook.location,
      outputPath: p.output.localPath,
      output: (sink = p.output.sink()),
      cwd: p.notebook.cwd,
      parameters: job.parameters,
      kernelName: p.kernelName,
      language: p.language,
      ...runLimitsMs(d.limits, job),
      kernels: p.home.kernelSource({ job, notebook: p.notebook, runAs: p.runAs, env }),
      signal: controller.signal,
      onEvent: relayEvents(job, p.notebook.notebook.cells.length, d.events, tracker),
      // Values, their base64 and URL-encoded forms become [REDACTED:NAME] as the kernel's messages arrive.
      redactor: opened?.redactor,
      saveIntervalMs: d.saveIntervalMs,
      maxOutputBytes: d.maxOutputBytes,
      // Only while this worker still holds the job (a store that cannot answer does not stop the saves).
      mayWrite: async () => {
        const now = await d.store.get(job.id).catch(() => undefined);
        return now === undefined || (now !== null && now.status === 'running' && now.worker_id === d.workerId && now.attempts === job.attempts);
      },
      hubmillMetadata: { job_id: job.id, username: job.username, submitted_by: job.submitted_by, source: job.source },
    });
    if (res.kernelClosed) d.kernelClosing((kernelClosed = res.kernelClosed));
    status = res.status;
    error = res.error;
    result = res.results;
    progress = { cells_total: res.cellsTotal, cells_done: res.cellsDone };
  } catch (err) {
    if (controller.signal.aborted) {
      status = 'cancelled';
      const reason = controller.signal.reason as Error | undefined;
      error = { ename: 'Cancelled', evalue: `Run cancelled before it started: ${reason?.message ?? 'cancelled'}`, traceback: [], cell_index: null };
    } else {
      status = 'failed';
      error = toRunError(err);
      if (!(err instanceof HubmillError)) log.error({ err: (err as Error).stack }, 'unexpected error while running a job');
    }
  }
  if (entry.shutdown && status === 'cancelled' && error) {
    error = { ...error, evalue: `${error.evalue} (hubmill was shutting down)` };
  }
  entry.recording = true;
  sink?.close();
  await tracker.close();
  if (releaseHome) {
    const release = releaseHome;
    if (kernelClosed) void kernelClosed.finally(release);
    else release();
  }

  if (outputAbs) {
    await chownToUser(outputAbs, runAs).catch((err: Error) => log.warn({ err: err.message }, 'could not give the output to the user'));
  }
  let final: Job | null;
  try {
    final = await d.store.markFinished(job.id, status, { error, result, progress, output_path: outputRel, worker_id: d.workerId, attempt: job.attempts });
  } catch (err) {
    // E.g. another process reclaimed this job after its lease expired: its record wins.
    log.warn({ err: (err as Error).message }, 'could not record the end of the job');
    final = await d.store.get(job.id).catch(() => null);
  }
  const durationMs = Date.now() - claimedAt;
  log.info({ status, durationMs, ename: error?.ename }, 'job finished');
  releaseValues();
  // Leave the running set before announcing the end, so a waiter sees consistent stats.
  leave();
  if (final) {
    const f = final;
    safeCall(() => d.metrics?.jobFinished?.(status, durationMs, f));
    d.events.emitState(f);
  }
}
