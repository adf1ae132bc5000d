/**
 * `hubmill pipeline validate|run FILE`: pipeline files (the body of
 * POST /api/v1/pipelines as YAML or JSON) checked and run on this machine.
 * Each command loads only what it needs (validate starts no runner).
 */
import { parsePipelineArgs, pipelineHelp } from './pipeline-args.js';

export async function pipelineCommand(argv: string[]): Promise<number> {
  const args = parsePipelineArgs(argv);
  if (args.help) {
    process.stdout.write(pipelineHelp(args.command));
    return 0;
  }
  if (args.command === 'validate') return (await import('./pipeline-validate.js')).validateCommand(args);
  return (await import('./pipeline-run.js')).pipelineRunCommand(args);
}
