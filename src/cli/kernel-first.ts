/**
 * `hubmill run` starts its kernel before it loads the engine: Python takes far
 * longer to import ipykernel than Node takes to load the rest, so the two
 * overlap. This module is what `hubmill run` loads first, and it imports only
 * what spawning a kernel needs (the argument parser, kernelspec discovery, the
 * launcher): no engine, no notebook reader, no YAML, no ZeroMQ.
 *
 * The kernel it starts is a guess from the argv and the notebook's own
 * metadata, for the plain case: a notebook file whose path is not templated
 * from the parameters, to be executed. cli/run.ts resolves the kernel as it
 * always did and uses this one only when the name and folder agree
 * (`take`); otherwise, and on every path that does not run it, it is
 * stopped (`discard`). Any surprise here means no early kernel, never an error:
 * the ordinary path then reports it exactly as before.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { getKernelSpec, type KernelSpec } from '../kernel/kernelspec-discovery.js';
import { launchKernelProcess, type LaunchedKernel } from '../kernel/launcher.js';
import { unwatchProcessGroup } from '../kernel/watchdog.js';
import { notebookKernel } from '../notebook/kernel.js';
import type { Notebook } from '../notebook/notebook-types.js';
import { parseRunArgs } from './run-args.js';

export interface StartedKernel {
  spec: KernelSpec;
  launched: LaunchedKernel;
}

export interface EarlyKernel {
  /** The kernelspec name (lower case) and folder it was started for. */
  readonly kernelName: string;
  readonly cwd: string;
  /** Settles once the process is spawned (null: it could not be; the ordinary path will say why). */
  readonly spawned: Promise<StartedKernel | null>;
  /** The kernel, when it was started for this name and folder and is still alive; otherwise it is stopped and null returned. Once. */
  take(kernelName: string, cwd: string): Promise<StartedKernel | null>;
  /** Stops the kernel unless it was taken. Safe to call more than once. */
  discard(): Promise<void>;
}

/** Kills a kernel nobody talked to yet (its whole group), then removes its connection file and gives its ports back. */
async function stopUnused(k: StartedKernel): Promise<void> {
  const child = k.launched.child;
  const pid = child.pid;
  if (child.exitCode === null && child.signalCode === null && pid) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await exited;
  }
  if (pid) unwatchProcessGroup(pid);
  await k.launched.cleanup().catch(() => {});
}

/**
 * Notebooks larger than this are not read here: parsing one twice would cost time and
 * memory (a notebook with large outputs), and the kernel's start is a small part of its run.
 */
const GUESS_MAX_BYTES = 4 * 1024 * 1024;

/** The kernel name and folder `hubmill run` will ask for, when they can be known from the argv and the notebook alone. */
function guess(argv: string[]): { kernelName: string; cwd: string } | null {
  let args;
  try {
    args = parseRunArgs(argv);
  } catch {
    return null;
  }
  // Help, inspection and --prepare-only start no kernel; stdin and a path templated
  // from the parameters are known only once the engine's modules are loaded.
  if (args.help || args.helpNotebook || args.prepareOnly || args.input === '-' || args.input.includes('{')) return null;
  let nb: Notebook;
  try {
    if (statSync(args.input).size > GUESS_MAX_BYTES) return null;
    let text = readFileSync(args.input, 'utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    nb = JSON.parse(text) as Notebook;
    if (typeof nb !== 'object' || nb === null || typeof nb.metadata !== 'object' || nb.metadata === null) return null;
  } catch {
    return null;
  }
  const kernelName = (notebookKernel(nb, args.kernel, args.language).kernelName ?? 'python3').toLowerCase();
  const cwd = args.cwd ? resolve(args.cwd) : dirname(resolve(args.input));
  return { kernelName, cwd };
}

/** Spawns the kernel `hubmill run <argv>` will most likely need; null when it cannot tell. */
export function startKernelFirst(argv: string[]): EarlyKernel | null {
  const want = guess(argv);
  if (!want) return null;
  const spawned: Promise<StartedKernel | null> = getKernelSpec(want.kernelName)
    .then(async (spec) => ({ spec, launched: await launchKernelProcess(spec, { cwd: want.cwd, parentPoller: false }) }))
    .catch(() => null);
  let exited = false;
  void spawned.then((k) => k?.launched.child.once('exit', () => (exited = true)));
  let settled = false;
  return {
    ...want,
    spawned,
    async take(kernelName, cwd) {
      if (settled) return null;
      settled = true;
      const k = await spawned;
      if (!k) return null;
      // A kernel that died while Node loaded (a broken kernelspec): the ordinary start reports it.
      if (kernelName.toLowerCase() === want.kernelName && cwd === want.cwd && !exited && k.launched.child.exitCode === null) return k;
      await stopUnused(k);
      return null;
    },
    async discard() {
      if (settled) return;
      settled = true;
      const k = await spawned;
      if (k) await stopUnused(k);
    },
  };
}
