/**
 * Arguments of `hubmill pipeline validate|run`, parsed by hand because `-p`
 * takes two values (NAME VALUE, as `hubmill run` and papermill take it).
 */
import { UsageError } from '../errors.js';

export interface PipelineArgs {
  command: 'validate' | 'run' | 'help';
  file: string;
  /** The owner's home: notebook paths are relative to it (default: the file's folder). */
  home?: string;
  /** Where the outputs go (default: as jobs write them, next to each notebook). */
  outputDir?: string;
  /** Jobs running at once, and a for_each's items when it sets no concurrency (default: the CPU cores). */
  concurrency?: number;
  p: [string, string][];
  r: [string, string][];
  json: boolean;
  logOutput: boolean;
  help: boolean;
}

interface Spec {
  names: string[];
  arity: 0 | 1 | 2;
  commands: PipelineArgs['command'][];
  meta?: string;
  help: string;
  apply(a: PipelineArgs, v: string[]): void;
}

const positiveInt = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} expects a positive whole number, got '${v}'`);
  return n;
};

const OPTIONS: Spec[] = [
  { names: ['-p', '--parameters'], arity: 2, commands: ['run'], meta: 'NAME VALUE', help: "A pipeline parameter for this run; VALUE typed as `hubmill run -p` types it (1.0 a float, 10 an int, True a bool).", apply: (a, [n, v]) => a.p.push([n!, v!]) },
  { names: ['-r', '--parameters-raw', '--parameters_raw'], arity: 2, commands: ['run'], meta: 'NAME VALUE', help: 'A pipeline parameter passed as a raw string.', apply: (a, [n, v]) => a.r.push([n!, v!]) },
  { names: ['--home'], arity: 1, commands: ['validate', 'run'], meta: 'DIR', help: "The home the notebook paths are relative to (default: the file's folder).", apply: (a, [v]) => (a.home = v) },
  { names: ['--output-dir'], arity: 1, commands: ['run'], meta: 'DIR', help: 'Write the executed notebooks here, inside the home, as TASK-STEM[-ITEM].ipynb (default: as jobs do, NOTEBOOK_FOLDER/hubmill-outputs/STEM-JOBID.ipynb).', apply: (a, [v]) => (a.outputDir = v) },
  { names: ['--concurrency'], arity: 1, commands: ['run'], meta: 'N', help: 'Jobs running at once (default: the CPU cores).', apply: (a, [v]) => (a.concurrency = positiveInt('--concurrency', v!)) },
  { names: ['--log-output'], arity: 0, commands: ['run'], help: "Stream the notebooks' outputs to stderr as they arrive.", apply: (a) => (a.logOutput = true) },
  { names: ['--json'], arity: 0, commands: ['validate', 'run'], help: 'validate: the problems as JSON; run: the finished run as JSON on stdout.', apply: (a) => (a.json = true) },
  { names: ['-h', '--help'], arity: 0, commands: ['validate', 'run', 'help'], help: 'Show this help.', apply: (a) => (a.help = true) },
];

export function parsePipelineArgs(argv: string[]): PipelineArgs {
  const a: PipelineArgs = { command: 'help', file: '', p: [], r: [], json: false, logOutput: false, help: false };
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') return { ...a, help: true };
  if (sub !== 'validate' && sub !== 'run') throw new UsageError(`unknown pipeline command '${sub}' (use: hubmill pipeline validate FILE | hubmill pipeline run FILE)`);
  a.command = sub;
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const tok = rest[i]!;
    if (tok === '--') {
      positional.push(...rest.slice(i + 1));
      break;
    }
    if (!tok.startsWith('-') || tok === '-') {
      positional.push(tok);
      continue;
    }
    const eq = tok.startsWith('--') ? tok.indexOf('=') : -1;
    const name = eq > 0 ? tok.slice(0, eq) : tok;
    const spec = OPTIONS.find((s) => s.names.includes(name) && s.commands.includes(a.command));
    if (!spec) throw new UsageError(`No such option for 'pipeline ${a.command}': ${name}`);
    const values: string[] = [];
    if (eq > 0) {
      if (spec.arity !== 1) throw new UsageError(`Option ${name} does not take a value with '='`);
      values.push(tok.slice(eq + 1));
    } else {
      for (let k = 0; k < spec.arity; k++) {
        const v = rest[++i];
        if (v === undefined) throw new UsageError(`Option ${name} requires ${spec.arity} argument${spec.arity > 1 ? 's' : ''}`);
        values.push(v);
      }
    }
    spec.apply(a, values);
  }
  if (a.help) return a;
  if (positional.length === 0) throw new UsageError(`Missing argument 'FILE' (hubmill pipeline ${a.command} FILE)`);
  if (positional.length > 1) throw new UsageError(`Got unexpected extra argument (${positional[1]})`);
  a.file = positional[0]!;
  return a;
}

export function pipelineHelp(command: PipelineArgs['command']): string {
  const lines =
    command === 'validate'
      ? ['Usage: hubmill pipeline validate [OPTIONS] FILE', '', '  Check a pipeline file (YAML or JSON, the body of POST /api/v1/pipelines) as the', "  service checks it when it is saved, and print each problem with its line.", '', '  Exit status: 0 valid, 1 problems found, 2 the file cannot be read.']
      : command === 'run'
        ? ['Usage: hubmill pipeline run [OPTIONS] FILE', '', '  Run a pipeline file here, with no server: every task runs as a job on a local', "  kernel, in its notebook's folder. Prints each task's and item's state changes.", '', '  Exit status: 0 the run succeeded, 1 it did not, 2 bad usage or input.']
        : ['Usage: hubmill pipeline COMMAND [OPTIONS] FILE', '', 'Commands:', '  validate FILE    check a pipeline file (the problems the API answers 422 with)', '  run FILE         run a pipeline file locally with the engine, no server', '', 'See hubmill pipeline validate --help and hubmill pipeline run --help.'];
  if (command !== 'help') {
    lines.push('', 'Options:');
    for (const s of OPTIONS) {
      if (!s.commands.includes(command)) continue;
      const left = `  ${s.names.filter((n) => !n.includes('_')).join(', ')}${s.meta ? ' ' + s.meta : ''}`;
      lines.push(left.length < 30 ? left.padEnd(30) + s.help : `${left}\n${' '.repeat(30)}${s.help}`);
    }
  }
  return lines.join('\n') + '\n';
}
