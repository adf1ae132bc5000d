/**
 * The peer the command-line targets are measured against (issue 19: papermill),
 * found the same way by every section that needs it (bench/cold.ts, bench/bigout.ts).
 *
 * papermill is not packaged by Debian: `papermill` on PATH, else importable by
 * /usr/bin/python3, else the package folder named by BENCH_PAPERMILL_PATH (e.g. an
 * unpacked source tree; its dependencies click, tqdm, tenacity, nbclient, nbformat
 * come from Debian), run as `python3 -m papermill`. Without papermill the peer is
 * `jupyter nbconvert --execute`, and the report says so.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { tools } from '../engine.js';

export interface PeerTool {
  id: 'papermill' | 'nbconvert';
  label: string;
  version: string | null;
  /** How papermill was found (PATH, /usr/bin/python3, BENCH_PAPERMILL_PATH); the reason when the peer is nbconvert. */
  source: string;
}

export interface FoundPeer {
  peer: PeerTool;
  /** The environment to run the peer in (PYTHONPATH with BENCH_PAPERMILL_PATH). */
  env: NodeJS.ProcessEnv;
  /** The command that executes `input` and writes the executed notebook to `output` (a path ending in .ipynb). */
  argv: (input: string, output: string) => { cmd: string; args: string[] };
}

function papermillVersion(python: string, env: NodeJS.ProcessEnv): string | null {
  try {
    return execFileSync(python, ['-c', 'import papermill; print(papermill.__version__)'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 }).trim();
  } catch {
    return null;
  }
}

/** papermill as a user would run it, when it can be found; else nbconvert. */
export function findPeer(env: NodeJS.ProcessEnv): FoundPeer {
  const onPath = (env.PATH ?? '').split(':').map((d) => join(d, 'papermill')).find((p) => p && existsSync(p));
  const pmArgs = (input: string, output: string) => [input, output, '--no-progress-bar'];
  if (onPath) {
    return { peer: { id: 'papermill', label: '`papermill IN OUT --no-progress-bar`', version: null, source: onPath }, env, argv: (i, o) => ({ cmd: onPath, args: pmArgs(i, o) }) };
  }
  const sys = papermillVersion('/usr/bin/python3', env);
  if (sys) {
    return { peer: { id: 'papermill', label: '`python3 -m papermill IN OUT --no-progress-bar`', version: sys, source: '/usr/bin/python3' }, env, argv: (i, o) => ({ cmd: '/usr/bin/python3', args: ['-m', 'papermill', ...pmArgs(i, o)] }) };
  }
  const dir = env.BENCH_PAPERMILL_PATH;
  if (dir) {
    const withPath = { ...env, PYTHONPATH: [dir, env.PYTHONPATH].filter(Boolean).join(':') };
    const v = papermillVersion('/usr/bin/python3', withPath);
    if (v) {
      return {
        peer: { id: 'papermill', label: '`python3 -m papermill IN OUT --no-progress-bar`', version: v, source: `BENCH_PAPERMILL_PATH=${dir}` },
        env: withPath,
        argv: (i, o) => ({ cmd: '/usr/bin/python3', args: ['-m', 'papermill', ...pmArgs(i, o)] }),
      };
    }
  }
  const nbconvert = tools('').find((t) => t.id === 'nbconvert')!;
  return {
    peer: { id: 'nbconvert', label: '`jupyter nbconvert --to notebook --execute`', version: null, source: 'papermill not found (not on PATH, not importable by /usr/bin/python3, no BENCH_PAPERMILL_PATH)' },
    env,
    argv: (i, o) => {
      const c = nbconvert.command(i, dirname(o), basename(o, '.ipynb'));
      return { cmd: c.cmd, args: c.args };
    },
  };
}
