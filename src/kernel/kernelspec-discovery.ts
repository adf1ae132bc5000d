/**
 * Kernelspec discovery across Jupyter's data dirs, in jupyter_client's order:
 * $JUPYTER_PATH entries, the user data dir, {sys.prefix}/share/jupyter,
 * /usr/local/share/jupyter, /usr/share/jupyter. First match wins; names are
 * case-insensitive.
 */
import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { NoSuchKernelError } from '../errors.js';

export interface KernelSpec {
  /** Lower-cased folder name, as jupyter_client reports it. */
  name: string;
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: 'signal' | 'message';
  env: Record<string, string>;
  metadata: Record<string, unknown>;
  /** The kernelspec's folder ({resource_dir}). */
  resource_dir: string;
}

export interface KernelSpecSearchOptions {
  /** Environment to read JUPYTER_PATH / JUPYTER_DATA_DIR / XDG_DATA_HOME from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Home directory for the user data dir (default os.homedir()). */
  home?: string;
  /** Extra data dirs searched after JUPYTER_PATH (e.g. a Python environment's share/jupyter). */
  extraDataDirs?: string[];
}

export function jupyterDataDirs(opts: KernelSpecSearchOptions = {}): string[] {
  const env = opts.env ?? process.env;
  const home = opts.home ?? homedir();
  const dirs: string[] = [];
  if (env.JUPYTER_PATH) dirs.push(...env.JUPYTER_PATH.split(delimiter).filter(Boolean));
  if (env.JUPYTER_DATA_DIR) dirs.push(env.JUPYTER_DATA_DIR);
  else if (env.XDG_DATA_HOME) dirs.push(join(env.XDG_DATA_HOME, 'jupyter'));
  else dirs.push(join(home, '.local', 'share', 'jupyter'));
  dirs.push(...(opts.extraDataDirs ?? []));
  // {sys.prefix}/share/jupyter for Debian's /usr/bin/python3 is /usr/share/jupyter.
  dirs.push('/usr/local/share/jupyter', '/usr/share/jupyter');
  return [...new Set(dirs)];
}

function parseSpec(name: string, dir: string, raw: unknown): KernelSpec | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const o = raw as Record<string, unknown>;
  if (!Array.isArray(o.argv) || o.argv.length === 0 || !o.argv.every((a) => typeof a === 'string')) return null;
  return {
    name,
    argv: o.argv as string[],
    display_name: typeof o.display_name === 'string' ? o.display_name : name,
    language: typeof o.language === 'string' ? o.language : '',
    interrupt_mode: o.interrupt_mode === 'message' ? 'message' : 'signal',
    env: typeof o.env === 'object' && o.env !== null ? (o.env as Record<string, string>) : {},
    metadata: typeof o.metadata === 'object' && o.metadata !== null ? (o.metadata as Record<string, unknown>) : {},
    resource_dir: dir,
  };
}

/** A kernelspec folder's parsed kernel.json, or null (no or broken kernel.json: jupyter_client skips it too). */
async function readSpec(name: string, dir: string): Promise<KernelSpec | null> {
  try {
    return parseSpec(name, dir, JSON.parse(await readFile(join(dir, 'kernel.json'), 'utf8')));
  } catch {
    return null;
  }
}

/**
 * All kernelspecs found, first data dir winning for a given (case-insensitive) name.
 * The folders and kernel.json files are read concurrently (the CLI spawns its kernel
 * only after this), then taken in data dir order as before.
 */
export async function findKernelSpecs(opts: KernelSpecSearchOptions = {}): Promise<KernelSpec[]> {
  const perDir = await Promise.all(
    jupyterDataDirs(opts).map(async (dataDir) => {
      const kernelsDir = join(dataDir, 'kernels');
      let entries: string[];
      try {
        entries = await readdir(kernelsDir);
      } catch {
        return [];
      }
      return Promise.all(entries.sort().map((entry) => readSpec(entry.toLowerCase(), join(kernelsDir, entry))));
    }),
  );
  const found = new Map<string, KernelSpec>();
  for (const specs of perDir) {
    for (const spec of specs) if (spec && !found.has(spec.name)) found.set(spec.name, spec);
  }
  return [...found.values()];
}

/** One kernelspec by (case-insensitive) name, or NoSuchKernelError listing what exists. */
export async function getKernelSpec(name: string, opts: KernelSpecSearchOptions = {}): Promise<KernelSpec> {
  const specs = await findKernelSpecs(opts);
  const spec = specs.find((s) => s.name === name.toLowerCase());
  if (!spec) {
    const available = specs.map((s) => s.name).join(', ') || 'none';
    throw new NoSuchKernelError(`No such kernel named '${name}' (available kernels: ${available})`);
  }
  return spec;
}
