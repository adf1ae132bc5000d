/**
 * `hubmill pipeline validate|run FILE`: pipeline files (the body of
 * POST /api/v1/pipelines as YAML or JSON) checked and run on this machine.
 */
import { parsePipelineArgs, pipelineHelp } from './pipeline-args.js';
import { pipelineRunCommand } from './pipeline-run.js';
import { validateCommand } from './pipeline-validate.js';

export async function pipelineCommand(argv: string[]): Promise<number> {
  const args = parsePipelineArgs(argv);
  if (args.help) {
    process.stdout.write(pipelineHelp(args.command));
    return 0;
  }
  return args.command === 'validate' ? validateCommand(args) : pipelineRunCommand(args);
}
