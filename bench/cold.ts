/**
 * The cold CLI (issue 19): `hubmill run` on the trivial notebook against
 * papermill on the same notebook, paired run by run, and against the bare
 * kernel's own start (`/usr/bin/python3` importing ipykernel.kernelapp and
 * running `IPKernelApp.initialize()`, then leaving at once), all measured the
 * same way: wall time from spawn to exit (lib/proctree.ts runMeasured).
 *
 * The peer is papermill, found by bench/lib/peer.ts (PATH, /usr/bin/python3 or
 * BENCH_PAPERMILL_PATH); without papermill it is `jupyter nbconvert --execute`,
 * and the report says so.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { NODE, tools } from './engine.js';
import { findPeer, type PeerTool } from './lib/peer.js';
import { runMeasured } from './lib/proctree.js';
import { median } from './lib/stats.js';

export const COLD_RATIO_MAX = 0.48;
export const COLD_GAP_MAX_MS = 150;

/** What a kernel process does from its start to ready, and no more: ipykernel imported, the app initialized (sockets bound), then gone. */
const BARE_KERNEL = 'import os\nfrom ipykernel.kernelapp import IPKernelApp\nIPKernelApp.instance().initialize()\nos._exit(0)';

/** The peer, as bench/lib/peer.ts found it. */
export type ColdPeer = PeerTool;

export interface ColdRound {
  order: string[];
  hubmillMs: number;
  peerMs: number;
  bareKernelMs: number;
  nodeMs: number;
  ok: boolean;
  problem?: string;
}

export interface ColdResults {
  measured: boolean;
  reason?: string;
  date: string;
  loadAvg: [number, number] | null;
  peer: ColdPeer;
  rounds: ColdRound[];
  /** Medians over the rounds where every command succeeded. */
  medians: { hubmillMs: number; peerMs: number; bareKernelMs: number; nodeMs: number; ratio: number; gapMs: number; ratioMin: number; ratioMax: number };
  /** ratio: null when the peer is not papermill (the target is against papermill). */
  verdicts: { ratio: boolean | null; gap: boolean };
}

type Cmd = { cmd: string; args: string[]; env?: NodeJS.ProcessEnv; output: string | null };

/** Processes started for `parentPid` that outlive it: kernels carry JPY_PARENT_PID (hubmill's and jupyter_client's alike). */
function leftovers(parentPid: number): number[] {
  const mark = `JPY_PARENT_PID=${parentPid}\0`;
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // hubmill run's kernels carry no JPY_PARENT_PID (src/kernel/launcher.ts): they name a connection file
      // in a hubmill-kernel-* folder. Nothing else runs hubmill kernels during the bench.
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').includes(mark) || readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes('/hubmill-kernel-')) found.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

/**
 * `hubmill run` exits once the kernel answered shutdown_reply and leaves it to finish its
 * teardown (docs/architecture.md): that teardown must not overlap the next command measured,
 * so the bench waits (untimed, at most 10 s) until the processes a command left are gone.
 */
async function waitLeftovers(parentPid: number | undefined): Promise<void> {
  if (!parentPid || !existsSync('/proc/self/environ')) return;
  const deadline = Date.now() + 10_000;
  while (leftovers(parentPid).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

export async function benchCold(opts: { root: string; trivialNotebook: string; rounds: number; log: (s: string) => void }): Promise<ColdResults> {
  const date = new Date().toISOString();
  const load0 = os.loadavg()[0]!;
  const { peer, env: peerEnv, argv: peerArgv } = findPeer(process.env);
  const work = mkdtempSync(join(os.tmpdir(), 'hubmill-bench-cold-'));
  const hubmill = tools(opts.root).find((t) => t.id === 'hubmill')!;
  let n = 0;
  const commands: Record<string, () => Cmd> = {
    hubmill: () => {
      const dir = join(work, `h${n++}`);
      mkdirSync(dir);
      return hubmill.command(opts.trivialNotebook, dir, 'out');
    },
    peer: () => {
      const dir = join(work, `p${n++}`);
      mkdirSync(dir);
      const output = join(dir, peer.id === 'nbconvert' ? 'peer.ipynb' : 'out.ipynb');
      return { ...peerArgv(opts.trivialNotebook, output), env: peerEnv, output };
    },
    bare: () => {
      const dir = join(work, `b${n++}`);
      mkdirSync(dir);
      return { cmd: '/usr/bin/python3', args: ['-c', BARE_KERNEL, '-f', join(dir, 'kernel.json')], output: null };
    },
    node: () => ({ cmd: NODE, args: ['-e', '0'], output: null }),
  };
  const once = async (id: string): Promise<{ ms: number; problem?: string }> => {
    const c = commands[id]!();
    // Sampling memory is not the point here: once a second keeps the bench's own CPU out of the way.
    const r = await runMeasured(c.cmd, c.args, { cwd: work, env: c.env ?? process.env, timeoutMs: 120_000, sampleMs: 1000 });
    await waitLeftovers(r.pid);
    const ok = r.exitCode === 0 && (!c.output || (existsSync(c.output) && statSync(c.output).size > 0));
    return ok ? { ms: r.wallMs } : { ms: r.wallMs, problem: `${id}: exit ${r.exitCode}${r.signal ? ` (${r.signal})` : ''}: ${r.stderrTail.slice(-300)}` };
  };
  try {
    const ids = ['hubmill', 'peer', 'bare', 'node'];
    for (const id of ids) await once(id); // warm-up: the page cache, Python's bytecode
    const rounds: ColdRound[] = [];
    for (let i = 0; i < opts.rounds; i++) {
      // The order turns every round, so that no command always runs first or right after another.
      const order = ids.map((_, k) => ids[(i + k) % ids.length]!);
      if (i % 2 === 1) order.reverse();
      const t: Record<string, number> = {};
      const problems: string[] = [];
      for (const id of order) {
        const r = await once(id);
        t[id] = r.ms;
        if (r.problem) problems.push(r.problem);
      }
      rounds.push({ order, hubmillMs: t.hubmill!, peerMs: t.peer!, bareKernelMs: t.bare!, nodeMs: t.node!, ok: problems.length === 0, ...(problems.length ? { problem: problems.join('; ') } : {}) });
      opts.log(`  round ${i + 1}: hubmill ${t.hubmill!.toFixed(0)} ms, ${peer.id} ${t.peer!.toFixed(0)} ms (${(t.hubmill! / t.peer!).toFixed(3)}×), bare kernel ${t.bare!.toFixed(0)} ms, node -e 0 ${t.node!.toFixed(0)} ms${problems.length ? ` FAILED ${problems.join('; ')}` : ''}`);
    }
    const good = rounds.filter((r) => r.ok);
    const ratios = good.map((r) => r.hubmillMs / r.peerMs);
    const medians = {
      hubmillMs: median(good.map((r) => r.hubmillMs)),
      peerMs: median(good.map((r) => r.peerMs)),
      bareKernelMs: median(good.map((r) => r.bareKernelMs)),
      nodeMs: median(good.map((r) => r.nodeMs)),
      ratio: median(ratios),
      gapMs: median(good.map((r) => r.hubmillMs - r.bareKernelMs)),
      ratioMin: ratios.length ? Math.min(...ratios) : NaN,
      ratioMax: ratios.length ? Math.max(...ratios) : NaN,
    };
    return {
      measured: good.length > 0,
      ...(good.length ? {} : { reason: rounds[0]?.problem ?? 'no round' }),
      date,
      loadAvg: [Math.round(load0 * 100) / 100, Math.round(os.loadavg()[0]! * 100) / 100],
      peer,
      rounds,
      medians,
      verdicts: { ratio: peer.id === 'papermill' ? medians.ratio <= COLD_RATIO_MAX : null, gap: medians.gapMs <= COLD_GAP_MAX_MS },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
