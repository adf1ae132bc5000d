/**
 * `hubmill pipeline run FILE [-p NAME VALUE]…`: runs a pipeline file here with
 * the service's own parts (local-pipeline.ts), printing one line per task and
 * item state change, writing each job's output as jobs do (or in
 * --output-dir). Ctrl-C cancels the run (its kernels are interrupted, then
 * stopped); a second Ctrl-C quits at once.
 * Exit 0 when the run succeeded, 1 otherwise, 2 bad usage or input.
 */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { stripAnsi } from '../engine/execute.js';
import { renderRun } from '../http/pipeline-render.js';
import type { RunEvent, RunLog } from '../http/pipeline-run-watch.js';
import { errorLocation } from '../notebook/cell-ref.js';
import type { ParameterValue } from '../notebook/notebook-types.js';
import { mergeParameters } from '../notebook/parameters.js';
import { PyFloat } from '../notebook/py-float.js';
import { toJsonText } from '../notebook/write.js';
import { isTerminal, type Job } from '../store/job-store.js';
import type { PipelinePlan, PipelineProblem } from '../pipelines/types.js';
import type { PipelineRun } from '../store/pipeline-store.js';
import { defaultConcurrency, localHome, localOwner } from './local-check.js';
import { LocalPipeline, outputDirInHome } from './local-pipeline.js';
import type { PipelineArgs } from './pipeline-args.js';
import { formatProblem, readPipelineFile } from './pipeline-file.js';
import { allProblems, problemsOf } from './pipeline-validate.js';

/** A value as a short text: strings as they are, numbers as Python writes them, the rest as JSON. */
function shown(v: ParameterValue | unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof PyFloat) return v.repr();
  return toJsonText(v);
}

/** `sweep[3] (lr=0.1, depth=8)`, `extract`. */
function itemName(job: Pick<Job, 'task_key' | 'item_index' | 'item'>): string {
  const key = job.task_key ?? '?';
  if (job.item_index === null) return key;
  const item = job.item;
  const what =
    item !== null && typeof item === 'object' && !Array.isArray(item) && !(item instanceof PyFloat)
      ? Object.entries(item)
          .map(([k, v]) => `${k}=${shown(v)}`)
          .join(', ')
      : shown(item);
  return `${key}[${job.item_index}] (${what})`;
}

function jobError(job: Job): string {
  const e = job.error;
  if (!e) return '';
  const where = errorLocation(e);
  return `: ${e.ename}: ${e.evalue}${where ? ` at ${where}` : ''}`;
}

/** One line per event, as the run's SSE stream carries them. */
export function eventLine(ev: RunEvent, jobs: readonly Job[], home: string): string | null {
  switch (ev.type) {
    case 'task': {
      const count = ev.items_total !== null ? ` ${ev.items_done}/${ev.items_total}` : '';
      return `task ${ev.key}: ${ev.status}${count}${ev.error ? `: ${ev.error}` : ''}`;
    }
    case 'item': {
      const job = jobs.find((j) => j.id === ev.job_id);
      if (!job) return `  ${ev.task_key}: job ${ev.job_id} ${ev.status}`;
      const attempt = job.attempt > 1 ? ` (attempt ${job.attempt})` : '';
      let tail = '';
      if (ev.status === 'succeeded' && job.output_path) tail = ` → ${join(home, job.output_path)}`;
      else if (isTerminal(ev.status)) tail = jobError(job) + (job.output_path ? ` → ${join(home, job.output_path)}` : '');
      return `  ${itemName(job)}: ${ev.status}${attempt}${tail}`;
    }
    case 'run':
      return null;
  }
}

/** The end of a run: each task's state, then the run's. */
export function summary(run: PipelineRun, startedMs: number): string {
  const lines = run.tasks.map((t) => {
    const count = t.items_total !== null ? ` ${t.items_done}/${t.items_total}` : '';
    return `  ${t.key}: ${t.status}${count}${t.error ? `: ${t.error}` : ''}`;
  });
  const secs = ((Date.now() - startedMs) / 1000).toFixed(1);
  return `run ${run.id} ${run.status} in ${secs} s\n${lines.join('\n')}\n`;
}

/**
 * Where an event goes among those of one reading, in the order things happened: jobs ending, their tasks
 * ending (or counting an item done), tasks starting, their jobs queued or starting, the run.
 */
function rank(ev: RunEvent): number {
  if (ev.type === 'item') return isTerminal(ev.status) ? 0 : 3;
  if (ev.type === 'task') return ev.status === 'pending' || ev.status === 'running' ? 2 : 1;
  return 4;
}

/**
 * Resolves once the run and all its jobs have ended; `onEvent` hears every change meanwhile, those of one
 * reading of the store (published together) in the order they happened (rank).
 */
function settled(log: RunLog, onEvent: (ev: RunEvent) => void): Promise<void> {
  return new Promise((done) => {
    if (log.settled) return done();
    let batch: RunEvent[] = [];
    let ended = false;
    const flush = () => {
      const events = batch.sort((a, b) => rank(a) - rank(b));
      batch = [];
      for (const ev of events) onEvent(ev);
      if (ended) done();
    };
    const unsubscribe = log.subscribe((ev) => {
      if (batch.length === 0) queueMicrotask(flush);
      batch.push(ev);
      // The run's event closes its reading's events (as the SSE stream ends on it).
      if (ev.type === 'run' && log.settled && !ended) {
        ended = true;
        unsubscribe();
      }
    }, log.last);
    // A run that ended between the first reading and the subscription.
    if (log.settled && !ended) {
      ended = true;
      unsubscribe();
      queueMicrotask(flush);
    }
  });
}

/** Streams each job's outputs to stderr (--log-output). */
function outputFollower(local: LocalPipeline) {
  const followed = new Set<string>();
  return (jobs: readonly Job[]) => {
    for (const j of jobs) {
      if (followed.has(j.id)) continue;
      followed.add(j.id);
      const name = itemName(j);
      const unsubscribe = local.runner.subscribe(
        j.id,
        (ev) => {
          if (ev.type === 'state' && isTerminal(ev.status)) return unsubscribe();
          if (ev.type !== 'output') return;
          const o = ev.output as unknown as Record<string, unknown>;
          let text = '';
          if (o.output_type === 'stream') text = Array.isArray(o.text) ? (o.text as string[]).join('') : String(o.text);
          else if (o.output_type === 'error') text = ((o.traceback as string[]) ?? []).map(stripAnsi).join('\n') + '\n';
          else {
            const plain = (o.data as Record<string, unknown> | undefined)?.['text/plain'];
            if (plain !== undefined) text = (Array.isArray(plain) ? plain.join('') : String(plain)) + '\n';
          }
          for (const line of text.split('\n').slice(0, text.endsWith('\n') ? -1 : undefined)) process.stderr.write(`[${name}] ${line}\n`);
        },
        { after: 0 },
      );
    }
  };
}

export async function pipelineRunCommand(args: PipelineArgs): Promise<number> {
  const file = await readPipelineFile(args.file);
  const home = await localHome(args.file, args.home);
  const given = await mergeParameters({ p: args.p, r: args.r });
  let outputDir: string | undefined;
  if (args.outputDir !== undefined) {
    outputDir = outputDirInHome(home, args.outputDir);
    await mkdir(join(home, outputDir), { recursive: true });
  }
  const local = new LocalPipeline({ home, owner: localOwner(), concurrency: args.concurrency ?? defaultConcurrency(), outputDir });
  const out = (s: string) => process.stdout.write(s);
  const human = args.json ? (s: string) => process.stderr.write(s) : out;
  let onSignal: ((sig: NodeJS.Signals) => void) | null = null;
  try {
    let problems: PipelineProblem[] = file.problems;
    let plan: PipelinePlan | null = null;
    if (problems.length === 0) {
      try {
        plan = await local.plan(file.spec);
      } catch (err) {
        const found = problemsOf(err);
        if (!found) throw err;
        problems = found;
      }
    }
    if (!plan) {
      for (const p of allProblems(file, problems)) process.stderr.write(formatProblem(file, p) + '\n');
      process.stderr.write(`hubmill: the pipeline has problems (hubmill pipeline validate ${args.file} lists them too)\n`);
      return 2;
    }
    // First Ctrl-C (or SIGTERM) cancels the run, once it exists; a second one quits at once.
    let runId: string | null = null;
    let cancelWanted = false;
    const cancel = (id: string) => void local.cancel(id).catch((err: unknown) => process.stderr.write(`hubmill: cancel failed: ${(err as Error).message}\n`));
    let interrupts = 0;
    onSignal = (sig: NodeJS.Signals) => {
      interrupts++;
      if (interrupts > 1) process.exit(130);
      process.stderr.write(`\nhubmill: ${sig} received, cancelling the run (again to quit at once)\n`);
      cancelWanted = true;
      if (runId !== null) cancel(runId);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    let run: PipelineRun;
    try {
      run = await local.start(file.spec, plan, given);
    } catch (err) {
      const found = problemsOf(err);
      if (!found) throw err;
      for (const p of found) process.stderr.write(`hubmill: -p ${p.path.replace(/^parameters\./, '')}: ${p.message}\n`);
      return 2;
    }
    runId = run.id;
    if (cancelWanted) cancel(run.id);
    const startedMs = Date.now();
    human(`pipeline ${file.spec.name}: run ${run.id}, ${plan.tasks.length} task${plan.tasks.length === 1 ? '' : 's'}, home ${home}\n`);

    const log = await local.open(run.id);
    const follow = args.logOutput ? outputFollower(local) : null;
    // The first reading: what already started (the first tasks' jobs are queued with the run).
    for (const t of log.reading?.run.tasks ?? []) if (t.status !== 'pending') human(`task ${t.key}: ${t.status}${t.items_total !== null ? ` ${t.items_done}/${t.items_total}` : ''}\n`);
    for (const j of log.reading?.jobs ?? []) human(`  ${itemName(j)}: ${j.status}\n`);
    follow?.(log.reading?.jobs ?? []);

    await settled(log, (ev) => {
      const line = eventLine(ev, log.reading?.jobs ?? [], home);
      if (line !== null) human(line + '\n');
      if (ev.type === 'item') follow?.(log.reading?.jobs ?? []);
    });
    const final = log.reading!;
    human(summary(final.run, startedMs));
    if (args.json) out(toJsonText(renderRun(final.run, final.jobs, ''), 2) + '\n');
    return final.run.status === 'succeeded' ? 0 : 1;
  } finally {
    if (onSignal) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await local.close();
  }
}
