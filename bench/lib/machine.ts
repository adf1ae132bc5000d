/** What the numbers were measured on: machine, load, versions. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

function tryRun(cmd: string, args: string[], cwd?: string): string | null {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 }).trim();
  } catch {
    return null;
  }
}

export interface MachineInfo {
  date: string;
  hostname: string;
  nproc: number;
  cpuModel: string;
  memTotalMb: number;
  loadAvgStart: number[];
  kernel: string;
  versions: Record<string, string | null>;
  gitCommit: string | null;
  gitDirty: boolean | null;
}

/** The processor, as /proc/cpuinfo names it ("model name"), else as Node reports it. */
export function cpuModelName(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]?.trim()) return m[1].trim();
  } catch {
    // Not Linux: Node's view below.
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export function machineInfo(root: string): MachineInfo {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const py = tryRun('/usr/bin/python3', [
    '-c',
    'import json,sys,importlib.metadata as m\n' +
      'out={"python":sys.version.split()[0]}\n' +
      'for p in ["nbconvert","nbclient","jupyter_client","ipykernel","pyzmq"]:\n' +
      '  try: out[p]=m.version(p)\n' +
      '  except Exception: out[p]=None\n' +
      'try: out["papermill"]=m.version("papermill")\n' +
      'except Exception: out["papermill"]=None\n' +
      'print(json.dumps(out))',
  ]);
  const pyv = (py ? JSON.parse(py) : {}) as Record<string, string | null>;
  const status = tryRun('git', ['status', '--porcelain', '--untracked-files=no'], root);
  return {
    date: new Date().toISOString(),
    hostname: os.hostname(),
    nproc: os.availableParallelism(),
    cpuModel: cpuModelName(),
    memTotalMb: Math.round(os.totalmem() / 2 ** 20),
    loadAvgStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    versions: {
      hubmill: pkg.version,
      node: process.version,
      python: pyv.python ?? null,
      nbconvert: pyv.nbconvert ?? null,
      nbclient: pyv.nbclient ?? null,
      jupyter_client: pyv.jupyter_client ?? null,
      ipykernel: pyv.ipykernel ?? null,
      pyzmq: pyv.pyzmq ?? null,
      papermill: pyv.papermill ?? null,
    },
    gitCommit: tryRun('git', ['rev-parse', '--short', 'HEAD'], root),
    gitDirty: status === null ? null : status.length > 0,
  };
}
