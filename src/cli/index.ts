#!/usr/bin/env node
/**
 * The `hubmill` command: run, pipeline, inspect, kernelspecs, serve, secrets.
 * Exit codes: 0 success, 1 execution failure, 2 bad usage or input.
 *
 * This entry imports almost nothing: `hubmill run` spawns its kernel first
 * (cli/kernel-first.ts) and loads the engine while Python imports ipykernel;
 * every other command loads its own modules when it is chosen.
 */
import { UsageError } from '../errors.js';
import { fail } from './fail.js';
import { startKernelFirst } from './kernel-first.js';

async function main(argv: string[]): Promise<number> {
  // `run` has papermill's own grammar (-p NAME VALUE); everything else goes through commander.
  if (argv[0] === 'run') {
    const early = startKernelFirst(argv.slice(1));
    try {
      // The spawn first: loading the engine's modules would hold the event loop before it.
      await early?.spawned;
      const { runCommand } = await import('./run.js');
      return await runCommand(argv.slice(1), early);
    } catch (err) {
      return fail(err);
    } finally {
      await early?.discard();
    }
  }
  // `pipeline run` takes -p NAME VALUE too.
  if (argv[0] === 'pipeline') {
    try {
      const { pipelineCommand } = await import('./pipeline-command.js');
      return await pipelineCommand(argv.slice(1));
    } catch (err) {
      return fail(err);
    }
  }
  const { otherCommand } = await import('./commands.js');
  return otherCommand(argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) {
      process.exitCode = code;
      // Kernels are shut down by now; don't wait for stray handles.
      setTimeout(() => process.exit(code), 50).unref();
    }
  },
  (err) => {
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
