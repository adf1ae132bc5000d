/**
 * papermill's `run` options, parsed by hand because papermill takes two values
 * after -p/-r (click's nargs=2) and allows options before and after the paths.
 */
import { UsageError } from '../errors.js';

export interface RunArgs {
  input: string;
  output: string | null;
  p: [string, string][];
  r: [string, string][];
  yaml: string[];
  files: string[];
  base64Yaml: string[];
  kernel?: string;
  language?: string;
  cwd?: string;
  executionTimeoutS?: number;
  startTimeoutS: number;
  runTimeoutS?: number;
  prepareOnly: boolean;
  reportMode: boolean;
  logOutput: boolean;
  progressBar: boolean | undefined;
  injectInputPath: boolean;
  injectOutputPath: boolean;
  stdoutFile?: string;
  stderrFile?: string;
  helpNotebook: boolean;
  autosaveSeconds?: number;
  help: boolean;
}

interface Spec {
  names: string[];
  arity: 0 | 1 | 2;
  apply: (a: RunArgs, v: string[]) => void;
  help: string;
  meta?: string;
}

const num = (name: string, v: string, allowZero = false): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new UsageError(`${name} expects a positive number of seconds, got '${v}'`);
  return n;
};

export const RUN_OPTIONS: Spec[] = [
  { names: ['-p', '--parameters'], arity: 2, meta: 'NAME VALUE', help: 'Parameter to pass; VALUE typed like papermill (int, float, True/False/None, else string).', apply: (a, [n, v]) => a.p.push([n!, v!]) },
  { names: ['-r', '--parameters_raw', '--parameters-raw'], arity: 2, meta: 'NAME VALUE', help: 'Parameter passed as a raw string.', apply: (a, [n, v]) => a.r.push([n!, v!]) },
  { names: ['-y', '--parameters_yaml', '--parameters-yaml'], arity: 1, meta: 'YAML', help: 'YAML mapping of parameters.', apply: (a, [v]) => a.yaml.push(v!) },
  { names: ['-f', '--parameters_file', '--parameters-file'], arity: 1, meta: 'PATH', help: 'YAML or JSON file of parameters.', apply: (a, [v]) => a.files.push(v!) },
  { names: ['-b', '--parameters_base64', '--parameters-base64'], arity: 1, meta: 'B64', help: 'Base64-encoded YAML mapping of parameters.', apply: (a, [v]) => a.base64Yaml.push(v!) },
  { names: ['-k', '--kernel'], arity: 1, meta: 'NAME', help: "Kernel to run with (default: the notebook's).", apply: (a, [v]) => (a.kernel = v) },
  { names: ['-l', '--language'], arity: 1, meta: 'LANG', help: 'Language for parameter translation (default: the kernel\'s).', apply: (a, [v]) => (a.language = v) },
  { names: ['--cwd'], arity: 1, meta: 'DIR', help: "Working directory of the kernel (default: the input notebook's folder).", apply: (a, [v]) => (a.cwd = v) },
  { names: ['--execution-timeout', '--execution_timeout'], arity: 1, meta: 'S', help: 'Per-cell time limit in seconds: interrupt, then kill.', apply: (a, [v]) => (a.executionTimeoutS = num('--execution-timeout', v!)) },
  { names: ['--start-timeout', '--start_timeout'], arity: 1, meta: 'S', help: 'Kernel start time limit in seconds (default 60).', apply: (a, [v]) => (a.startTimeoutS = num('--start-timeout', v!)) },
  { names: ['--run-timeout'], arity: 1, meta: 'S', help: 'Whole-run time limit in seconds (hubmill extension).', apply: (a, [v]) => (a.runTimeoutS = num('--run-timeout', v!)) },
  { names: ['--prepare-only'], arity: 0, help: 'Inject parameters and write the output without executing.', apply: (a) => (a.prepareOnly = true) },
  { names: ['--no-prepare-only'], arity: 0, help: '', apply: (a) => (a.prepareOnly = false) },
  { names: ['--report-mode'], arity: 0, help: 'Hide the source of code cells in the output.', apply: (a) => (a.reportMode = true) },
  { names: ['--no-report-mode', '--not-report-mode'], arity: 0, help: '', apply: (a) => (a.reportMode = false) },
  { names: ['--log-output'], arity: 0, help: 'Stream cell outputs to the terminal (stderr) as they arrive.', apply: (a) => (a.logOutput = true) },
  { names: ['--no-log-output'], arity: 0, help: '', apply: (a) => (a.logOutput = false) },
  { names: ['--progress-bar'], arity: 0, help: 'Show a progress bar (default: on a terminal).', apply: (a) => (a.progressBar = true) },
  { names: ['--no-progress-bar'], arity: 0, help: 'Hide the progress bar.', apply: (a) => (a.progressBar = false) },
  { names: ['--inject-input-path'], arity: 0, help: 'Add PAPERMILL_INPUT_PATH to the parameters.', apply: (a) => (a.injectInputPath = true) },
  { names: ['--inject-output-path'], arity: 0, help: 'Add PAPERMILL_OUTPUT_PATH to the parameters.', apply: (a) => (a.injectOutputPath = true) },
  { names: ['--inject-paths'], arity: 0, help: 'Add both paths to the parameters.', apply: (a) => ((a.injectInputPath = true), (a.injectOutputPath = true)) },
  { names: ['--stdout-file'], arity: 1, meta: 'PATH', help: "Also write the notebook's stdout stream to this file.", apply: (a, [v]) => (a.stdoutFile = v) },
  { names: ['--stderr-file'], arity: 1, meta: 'PATH', help: "Also write the notebook's stderr stream to this file.", apply: (a, [v]) => (a.stderrFile = v) },
  { names: ['--help-notebook'], arity: 0, help: "Print the notebook's parameters and exit.", apply: (a) => (a.helpNotebook = true) },
  { names: ['--autosave-cell-every'], arity: 1, meta: 'S', help: 'Save the output at most this often during the run (default 1).', apply: (a, [v]) => (a.autosaveSeconds = num('--autosave-cell-every', v!, true)) },
  // Accepted for papermill compatibility; hubmill has one engine and always saves progress.
  { names: ['--request-save-on-cell-execute', '--no-request-save-on-cell-execute'], arity: 0, help: '', apply: () => {} },
  { names: ['--engine'], arity: 1, meta: 'NAME', help: '', apply: (_a, [v]) => { if (v !== 'nbclient' && v !== 'hubmill') throw new UsageError(`Unknown engine '${v}' (hubmill has its own engine)`); } },
  { names: ['--log-level'], arity: 1, meta: 'LEVEL', help: '', apply: () => {} },
  { names: ['-h', '--help'], arity: 0, help: 'Show this help.', apply: (a) => (a.help = true) },
];

export function parseRunArgs(argv: string[]): RunArgs {
  const a: RunArgs = {
    input: '',
    output: null,
    p: [],
    r: [],
    yaml: [],
    files: [],
    base64Yaml: [],
    startTimeoutS: 60,
    prepareOnly: false,
    reportMode: false,
    logOutput: false,
    progressBar: undefined,
    injectInputPath: false,
    injectOutputPath: false,
    helpNotebook: false,
    help: false,
  };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (tok.startsWith('-') && tok !== '-') {
      let name = tok;
      let inline: string | undefined;
      const eq = tok.indexOf('=');
      if (tok.startsWith('--') && eq > 0) {
        name = tok.slice(0, eq);
        inline = tok.slice(eq + 1);
      }
      const spec = RUN_OPTIONS.find((s) => s.names.includes(name));
      if (!spec) throw new UsageError(`No such option: ${name}`);
      const values: string[] = [];
      if (inline !== undefined) {
        if (spec.arity !== 1) throw new UsageError(`Option ${name} does not take a value with '='`);
        values.push(inline);
      } else {
        for (let k = 0; k < spec.arity; k++) {
          const v = argv[++i];
          if (v === undefined) throw new UsageError(`Option ${name} requires ${spec.arity} argument${spec.arity > 1 ? 's' : ''}`);
          values.push(v);
        }
      }
      spec.apply(a, values);
      continue;
    }
    positional.push(tok);
  }
  if (a.help) return a;
  if (positional.length === 0) throw new UsageError("Missing argument 'NOTEBOOK_PATH'");
  if (positional.length > 2) throw new UsageError(`Got unexpected extra argument (${positional[2]})`);
  a.input = positional[0]!;
  a.output = positional[1] ?? null;
  return a;
}

export function runHelp(): string {
  const lines = [
    'Usage: hubmill run [OPTIONS] NOTEBOOK_PATH [OUTPUT_PATH]',
    '',
    '  Execute NOTEBOOK_PATH with parameters and write the executed notebook to',
    "  OUTPUT_PATH, like papermill. Use '-' for stdin/stdout. OUTPUT_PATH may use",
    '  {name} fields filled from the parameters.',
    '',
    'Options:',
  ];
  for (const s of RUN_OPTIONS) {
    if (!s.help) continue;
    const left = `  ${s.names.filter((n) => !n.includes('_')).join(', ')}${s.meta ? ' ' + s.meta : ''}`;
    lines.push(left.length < 34 ? left.padEnd(34) + s.help : `${left}\n${' '.repeat(34)}${s.help}`);
  }
  lines.push('', 'Exit status: 0 success, 1 execution failure, 2 bad usage or input.');
  return lines.join('\n') + '\n';
}
