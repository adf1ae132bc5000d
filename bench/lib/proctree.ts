/**
 * Runs a command and measures its wall time and the peak resident memory of its
 * whole process tree (the process, its children and theirs: a Jupyter kernel is
 * a child of the tool that started it even when it sits in its own session).
 *
 * The tree is found through /proc/<pid>/task/<tid>/children (every thread, since
 * a child belongs to the thread that forked it) and each member's RSS is read
 * from /proc/<pid>/statm; the sum is sampled every `sampleMs` (default 20 ms)
 * and the maximum kept. RSS counts shared pages once per process (not PSS), so
 * the sum slightly overstates what the tree costs the machine; the same rule is
 * applied to every tool. A process that lives less than one sample interval can
 * be missed.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const PAGE_KB = 4; // getconf PAGESIZE = 4096 on x86-64 and arm64 Debian

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null; // the process (or thread) went away between two reads
  }
}

/** Pids of `root` and all its descendants, now. */
export function treePids(root: number): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  const stack = [root];
  while (stack.length > 0 && out.length < 10_000) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    out.push(pid);
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      const kids = readText(`/proc/${pid}/task/${tid}/children`);
      if (!kids) continue;
      for (const k of kids.trim().split(/\s+/)) if (k) stack.push(Number(k));
    }
  }
  return out;
}

/** Resident set size of one process in KiB (0 when it is gone). */
export function rssKb(pid: number): number {
  const statm = readText(`/proc/${pid}/statm`);
  if (!statm) return 0;
  return Number(statm.split(' ')[1] ?? 0) * PAGE_KB;
}

/** Sum of RSS over the tree rooted at `root`, in KiB. */
export function treeRssKb(root: number): number {
  let sum = 0;
  for (const pid of treePids(root)) sum += rssKb(pid);
  return sum;
}

/** Peak RSS the kernel recorded for one process (VmHWM), in KiB. */
export function hwmKb(pid: number): number {
  const status = readText(`/proc/${pid}/status`);
  const m = status ? /VmHWM:\s+(\d+)\s+kB/.exec(status) : null;
  return m ? Number(m[1]) : 0;
}

export interface MeasuredRun {
  /** The command's own process. */
  pid: number | undefined;
  wallMs: number;
  peakTreeRssKb: number;
  samples: number;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stderrTail: string;
}

export function killTree(root: number, sig: NodeJS.Signals = 'SIGKILL'): void {
  for (const pid of treePids(root).reverse()) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

export function runMeasured(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; sampleMs?: number } = {},
): Promise<MeasuredRun> {
  const sampleMs = opts.sampleMs ?? 20;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] };
    const t0 = performance.now();
    const child = spawn(cmd, args, spawnOpts);
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-4000);
    });
    let peak = 0;
    let samples = 0;
    let timedOut = false;
    const sample = () => {
      if (child.pid === undefined || child.exitCode !== null) return;
      const s = treeRssKb(child.pid);
      samples++;
      if (s > peak) peak = s;
    };
    const timer = setInterval(sample, sampleMs);
    const killer = setTimeout(() => {
      timedOut = true;
      if (child.pid) killTree(child.pid);
    }, timeoutMs);
    child.once('error', (err) => {
      clearInterval(timer);
      clearTimeout(killer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      const wallMs = performance.now() - t0;
      clearInterval(timer);
      clearTimeout(killer);
      // Let stderr drain before reporting.
      child.stderr?.once('close', () => undefined);
      setImmediate(() =>
        resolve({ pid: child.pid, wallMs, peakTreeRssKb: peak, samples, exitCode: code, signal, timedOut, stderrTail: stderr.slice(-1500) }),
      );
    });
    sample();
  });
}
