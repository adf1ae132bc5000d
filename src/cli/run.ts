/**
 * `hubmill run`: papermill's command, on hubmill's engine.
 * Exit 0 on success, 1 on an execution failure, 2 on bad usage or input.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { executeNotebook, stripAnsi } from '../engine/execute.js';
import { freshKernels, type KernelSource, type LaunchSettings } from '../engine/kernel-source.js';
import type { EngineEvent, RunResult } from '../engine/run-types.js';
import type { ExecutionKernel } from '../kernel/execution-kernel.js';
import { KernelClient } from '../kernel/kernel-client.js';
import { launchKernelProcess } from '../kernel/launcher.js';
import { errorLocation } from '../notebook/cell-ref.js';
import { formatInspection, inspectParameters } from '../notebook/inspect.js';
import { textPieces, type LongText } from '../notebook/long-text.js';
import { notebookKernel } from '../notebook/kernel.js';
import { parameterizePath } from '../notebook/output-path.js';
import { mergeParameters } from '../notebook/parameters.js';
import { parseNotebook, readNotebookFile } from '../notebook/read.js';
import type { Notebook } from '../notebook/notebook-types.js';
import { serializeNotebook } from '../notebook/write.js';
import type { EarlyKernel } from './kernel-first.js';
import { ProgressBar } from './progress-bar.js';
import { parseRunArgs, runHelp } from './run-args.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** papermill's PapermillExecutionError text: the failing cell (named as everywhere, notebook/cell-ref.ts) and a colourless traceback. */
export function formatFailure(result: RunResult): string {
  const e = result.error;
  if (!e) return '';
  const bar = '-'.repeat(75);
  const where = errorLocation(e) ?? 'start-up';
  const tb = e.traceback.length ? e.traceback.map(stripAnsi).join('\n') : `${e.ename}: ${e.evalue}`;
  return `\n${bar}\nException encountered at ${where}:\n${tb}\n`;
}

/**
 * A cold start per run, through the same seam the service's runner uses; the first
 * attempt gets the kernel cli/kernel-first.ts spawned, when it fits this request.
 */
function cliKernels(early: EarlyKernel | null, settings: LaunchSettings & { startTimeoutMs: number }): KernelSource {
  const fresh = freshKernels(settings);
  // Once the output is saved and the kernel has answered shutdown_reply, the CLI does not wait
  // for its Python teardown: the kernel finishes exiting on its own, bounded by the watchdog
  // (kernel/watchdog.ts: 2 s, then SIGTERM, then SIGKILL of its group). docs/architecture.md.
  const release = (k: ExecutionKernel) => k.shutdown({ letFinish: true });
  if (!early) return { acquire: (req) => fresh.acquire(req), release };
  return {
    release,
    async acquire(req) {
      const started = await early.take(req.kernelName, req.cwd);
      if (!started) return fresh.acquire(req);
      let first: typeof started | null = started;
      return KernelClient.launch(started.spec, {
        ...settings,
        cwd: req.cwd,
        signal: req.signal,
        // Spawned while Node loaded: it is still importing ipykernel, and binds its ports
        // before the rest of its start-up, so dialling less often delays nothing.
        reconnectMaxIntervalMs: 50,
        // A retry (a silent kernel, a lost port) is a fresh spawn, as for any launch.
        startProcess: async (spec, o) => {
          const k = first;
          first = null;
          return k ? k.launched : launchKernelProcess(spec, o);
        },
      });
    },
  };
}

/** `hubmill run <argv>`; `early` is the kernel cli/index.ts started before loading this module (the caller discards it if unused). */
export async function runCommand(argv: string[], early: EarlyKernel | null = null): Promise<number> {
  const args = parseRunArgs(argv);
  if (args.help) {
    process.stdout.write(runHelp());
    return 0;
  }
  const inputPath = args.input === '-' ? '-' : args.input;
  const toStdout = args.output === '-';

  // Parameters first: input and output paths may be templated from them.
  const explicit = await mergeParameters({
    base64Yaml: args.base64Yaml,
    files: args.files,
    yaml: args.yaml,
    p: args.p,
    r: args.r,
  });
  const input = inputPath === '-' ? '-' : parameterizePath(inputPath, explicit);
  const output = args.output === null || toStdout ? args.output : parameterizePath(args.output, explicit);
  // papermill merges injected paths first, so explicit parameters win.
  const parameters = {
    ...(args.injectInputPath ? { PAPERMILL_INPUT_PATH: input } : {}),
    ...(args.injectOutputPath ? { PAPERMILL_OUTPUT_PATH: output ?? '' } : {}),
    ...explicit,
  };

  const notebook: Notebook = input === '-' ? parseNotebook(await readStdin(), '<stdin>') : await readNotebookFile(input);

  if (args.helpNotebook) {
    const params = inspectParameters(notebook, { kernelName: args.kernel, language: args.language });
    process.stdout.write(formatInspection(input, params));
    return 0;
  }

  // The kernel, read from the notebook once (-k / -l win): the engine runs on it and does not look again.
  const kernel = notebookKernel(notebook, args.kernel, args.language);
  const log = (s: string) => process.stderr.write(s);
  const wantBar = args.progressBar ?? (process.stderr.isTTY === true && !args.logOutput);
  const bar = wantBar ? new ProgressBar(process.stderr) : null;
  const stdoutFile: WriteStream | null = args.stdoutFile ? createWriteStream(args.stdoutFile) : null;
  const stderrFile: WriteStream | null = args.stderrFile ? createWriteStream(args.stderrFile) : null;

  const onEvent = (e: EngineEvent) => {
    switch (e.type) {
      case 'run_started':
        if (!bar) log(`Executing notebook with kernel: ${e.kernelName}\n`);
        bar?.start(e.cellsTotal);
        break;
      case 'cell_finished':
        bar?.update(e.cellsDone);
        break;
      case 'output': {
        const o = e.output as unknown as Record<string, unknown>;
        if (o.output_type === 'stream') {
          // Stream events carry only the new text, merged or not; a large message's text (a LongText) goes out piece by piece.
          for (const fresh of textPieces(o.text as string | string[] | LongText)) {
            if (o.name === 'stdout') stdoutFile?.write(fresh);
            else stderrFile?.write(fresh);
            if (args.logOutput) log(fresh);
          }
        } else if (args.logOutput) {
          const data = o.data as Record<string, unknown> | undefined;
          const text = data?.['text/plain'];
          if (text !== undefined) log((Array.isArray(text) ? text.join('') : String(text)) + '\n');
          if (o.output_type === 'error') log(((o.traceback as string[]) ?? []).map(stripAnsi).join('\n') + '\n');
        }
        break;
      }
      case 'run_finished':
        bar?.stop();
        break;
    }
  };

  // First Ctrl-C (or SIGTERM) cancels the run and saves the partial output; a second one exits at once.
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    log(`\nhubmill: ${sig} received, stopping the run (again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let result: RunResult;
  try {
    result = await executeNotebook({
      notebook,
      inputPath: input,
      outputPath: toStdout ? null : output,
      parameters,
      kernelName: kernel.kernelName ?? 'python3',
      language: kernel.language,
      cwd: args.cwd ? resolve(args.cwd) : undefined,
      cellTimeoutMs: args.executionTimeoutS !== undefined ? args.executionTimeoutS * 1000 : undefined,
      runTimeoutMs: args.runTimeoutS !== undefined ? args.runTimeoutS * 1000 : undefined,
      // parentPoller: false, as cli/kernel-first.ts: the kernel outlives the CLI by its teardown (launcher.ts).
      kernels: cliKernels(early, { startTimeoutMs: args.startTimeoutS * 1000, parentPoller: false }),
      reportMode: args.reportMode,
      prepareOnly: args.prepareOnly,
      signal: controller.signal,
      onEvent,
      saveIntervalMs: args.autosaveSeconds !== undefined ? args.autosaveSeconds * 1000 : undefined,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    bar?.stop();
    await Promise.all([stdoutFile, stderrFile].map((s) => s && new Promise((r) => s.end(r))));
  }
  await result.kernelClosed;
  for (const w of result.warnings) log(`Warning: ${w}\n`);
  if (toStdout) process.stdout.write(serializeNotebook(result.notebook));
  if (result.status === 'succeeded') return 0;
  log(formatFailure(result));
  log(`hubmill: run ${result.status.replace('_', ' ')}: ${result.error?.ename}: ${result.error?.evalue}\n`);
  if (output && !toStdout) log(`hubmill: partial output saved to ${output}\n`);
  return 1;
}
