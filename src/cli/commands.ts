/**
 * The `hubmill` commands other than `run` and `pipeline`, through commander:
 * inspect, kernelspecs, serve, secrets, --help, --version. Loaded only for them
 * (cli/index.ts), so that `hubmill run` starts its kernel without these modules.
 */
import { Command } from 'commander';
import { findKernelSpecs } from '../kernel/kernelspec-discovery.js';
import { formatInspection, inspectParameters } from '../notebook/inspect.js';
import { parseNotebook, readNotebookFile } from '../notebook/read.js';
import { HUBMILL_VERSION } from '../version.js';
import { SETTINGS, type Setting } from '../settings/table.js';
import { shownDefault } from '../settings/docs.js';
import { fail } from './fail.js';

/** Markdown of the docs as terminal text: no backticks or bold. */
const plainText = (md: string): string => md.replace(/`|\*\*/g, '');

/** Runs one command; the exit code, or -1 to keep running (serve). */
export async function otherCommand(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('hubmill')
    .description('Run parameterized Jupyter notebooks like papermill, as a CLI or a JupyterHub service.')
    .version(HUBMILL_VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.command('run').description('execute a notebook with parameters (papermill options; see `hubmill run --help`)');
  program.command('pipeline').description('validate or run a pipeline file locally (see `hubmill pipeline --help`)');
  program
    .command('inspect')
    .argument('<notebook>', "notebook path, or '-' for stdin")
    .option('--json', 'machine-readable output')
    .option('-k, --kernel <name>', 'kernel name for the translator')
    .option('-l, --language <lang>', 'language for the translator')
    .description("print the notebook's parameters (papermill --help-notebook)")
    .action(async (path: string, o: { json?: boolean; kernel?: string; language?: string }) => {
      const nb = path === '-' ? parseNotebook(await readAll(), '<stdin>') : await readNotebookFile(path);
      const params = inspectParameters(nb, { kernelName: o.kernel, language: o.language });
      if (o.json) process.stdout.write(JSON.stringify({ notebook: path, parameters: params }, null, 2) + '\n');
      else process.stdout.write(formatInspection(path, params));
    });
  program
    .command('kernelspecs')
    .option('--json', 'machine-readable output')
    .description('list the Jupyter kernels found')
    .action(async (o: { json?: boolean }) => {
      const specs = await findKernelSpecs();
      if (o.json) {
        process.stdout.write(JSON.stringify({ kernelspecs: specs }, null, 2) + '\n');
        return;
      }
      if (specs.length === 0) {
        process.stdout.write('No kernels found. Install one, e.g. apt-get install python3-ipykernel\n');
        code = 1;
        return;
      }
      process.stdout.write('Available kernels:\n');
      const w = Math.max(...specs.map((s) => s.name.length));
      for (const s of specs) process.stdout.write(`  ${s.name.padEnd(w)}    ${s.resource_dir}  (${s.display_name}, ${s.language})\n`);
    });
  const serve = program.command('serve').description('run the HTTP service (every setting, with its environment variable: README, Configuration)');
  for (const s of Object.values(SETTINGS) as Setting<unknown>[]) {
    if (s.flag) serve.option(`${s.flag.name} ${s.flag.arg}`, plainText(`${s.doc} (${s.env}, default ${shownDefault(s)})`));
  }
  serve.action(async (o: Record<string, string | undefined>) => {
    const { loadConfig } = await import('../config.js');
    const { startServer } = await import('../server.js');
    const flags = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    await startServer(loadConfig(flags as never));
    code = -1; // keep running
  });
  const secrets = program.command('secrets').description('manage stored secrets (see README, Secrets)');
  const rotate = secrets
    .command('rotate-key')
    .description(
      're-seal every stored secret under a new key, in one transaction; the current key is HUBMILL_SECRET_KEY (or HUBMILL_SECRET_KEY_FILE). ' +
        'Stop hubmill first, then start every node with the new key',
    )
    .requiredOption('--new-key-file <path>', "file whose first line is the new key (32 bytes: 44 base64 characters or 64 hex digits); '-' reads standard input");
  for (const s of [SETTINGS.databaseUrl, SETTINGS.dataDir] as Setting<unknown>[]) {
    if (s.flag) rotate.option(`${s.flag.name} ${s.flag.arg}`, plainText(`${s.doc} (${s.env})`));
  }
  rotate.action(async (o: Record<string, string | undefined>) => {
    const { loadConfig } = await import('../config.js');
    const { rotateKey } = await import('./secrets-command.js');
    const { newKeyFile, ...rest } = o;
    const flags = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    const r = await rotateKey(loadConfig(flags as never), { newKeyFile: newKeyFile! });
    process.stdout.write(`re-sealed ${r.count} secret(s) under key ${r.keyId}; start every node with the new key (HUBMILL_SECRET_KEY or HUBMILL_SECRET_KEY_FILE)\n`);
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    const ce = err as { code?: string; exitCode?: number };
    if (ce.code === 'commander.helpDisplayed' || ce.code === 'commander.version') return 0;
    if (typeof ce.code === 'string' && ce.code.startsWith('commander.')) return 2;
    return fail(err);
  }
  return code;
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

