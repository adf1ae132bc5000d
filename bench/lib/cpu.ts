/** CPU time of processes from /proc (utime, stime, and the reaped children's cutime, cstime), for the benches. */
import { readFileSync } from 'node:fs';
import { treePids } from './proctree.js';

export const TICK_MS = 10; // USER_HZ = 100 on Linux

/** utime+stime (self) and cutime+cstime (reaped children) of one process, in ms. */
export function cpuMs(pid: number): { self: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the name start at field 3 (state): utime is 14, stime 15, cutime 16, cstime 17.
    const n = (i: number) => Number(f[i - 3]);
    return { self: (n(14) + n(15)) * TICK_MS, children: (n(16) + n(17)) * TICK_MS };
  } catch {
    return { self: 0, children: 0 };
  }
}

export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, 2).join(' ');
  } catch {
    return '';
  }
}

/**
 * CPU of the service process alone, of its whole tree (live members plus reaped children of
 * live members), and by part: kernels (the fork server's children, live and reaped), the fork
 * server itself, the rest (watchdog shell and what it runs).
 */
export function treeCpu(root: number): { service: number; tree: number; kernels: number; forkServer: number; other: number } {
  let tree = 0;
  let kernels = 0;
  let forkServer = 0;
  const pids = treePids(root);
  const servers = new Set(pids.filter((p) => p !== root && commandOf(p).includes('hubmill_forkserver') && !pids.some((q) => q !== p && commandOf(q).includes('hubmill_forkserver') && childOf(p, q))));
  for (const pid of pids) {
    const c = cpuMs(pid);
    const own = c.self + (pid === root ? 0 : c.children);
    tree += own;
    if (servers.has(pid)) {
      forkServer += c.self;
      kernels += c.children;
    } else if ([...servers].some((s) => childOf(pid, s))) kernels += own;
  }
  const service = cpuMs(root).self;
  return { service, tree, kernels, forkServer, other: tree - service - kernels - forkServer };
}

export function childOf(pid: number, parent: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
  } catch {
    return false;
  }
}

