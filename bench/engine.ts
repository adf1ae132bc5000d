/**
 * Whole-process benchmarks of the engine (issue 2): hubmill run against the
 * peers installed here, on the same notebooks, interleaved run by run.
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runMeasured, type MeasuredRun } from './lib/proctree.js';
import { median } from './lib/stats.js';
import type { BenchNotebooks } from './lib/notebooks.js';

export interface Tool {
  id: string;
  label: string;
  /** argv for one run; `out` is a fresh directory, the function returns the file it expects (or null if the tool writes none). */
  command: (input: string, outDir: string, stem: string) => { cmd: string; args: string[]; output: string | null };
}

export const NODE = process.execPath;

export function tools(root: string): Tool[] {
  return [
    {
      id: 'hubmill',
      label: 'hubmill run',
      command: (input, outDir, stem) => {
        const output = join(outDir, `${stem}.ipynb`);
        return { cmd: NODE, args: [join(root, 'dist/cli/index.js'), 'run', input, output, '--no-progress-bar'], output };
      },
    },
    {
      id: 'nbconvert',
      label: 'jupyter nbconvert --to notebook --execute',
      command: (input, outDir, stem) => ({
        cmd: '/usr/bin/jupyter-nbconvert',
        args: ['--to', 'notebook', '--execute', input, '--output-dir', outDir, '--output', stem],
        output: join(outDir, `${stem}.ipynb`),
      }),
    },
    {
      id: 'nbclient',
      label: 'jupyter execute (nbclient)',
      // jupyter execute runs the notebook and writes nothing (nbclient 0.7 has no --output).
      command: (input) => ({ cmd: '/usr/bin/jupyter-execute', args: [input], output: null }),
    },
  ];
}

export interface RunRecord {
  tool: string;
  notebook: 'trivial' | 'cells200';
  run: number;
  wallMs: number;
  peakTreeRssKb: number;
  samples: number;
  ok: boolean;
  problem?: string;
}

export interface CellStats {
  tool: string;
  notebook: 'trivial' | 'cells200';
  runs: number;
  ok: number;
  medianWallMs: number;
  minWallMs: number;
  maxWallMs: number;
  medianPeakRssKb: number;
}

export async function benchEngine(opts: {
  root: string;
  notebooks: BenchNotebooks;
  workDir: string;
  runs: number;
  env: NodeJS.ProcessEnv;
  log: (s: string) => void;
}): Promise<{ records: RunRecord[]; stats: CellStats[] }> {
  const ts = tools(opts.root);
  const nbs: Array<['trivial' | 'cells200', string]> = [
    ['trivial', opts.notebooks.trivial],
    ['cells200', opts.notebooks.many],
  ];
  const records: RunRecord[] = [];
  // One untimed warm-up per tool so the first timed run does not pay for cold disk caches.
  for (const t of ts) {
    const dir = join(opts.workDir, `warmup-${t.id}`);
    mkdirSync(dir, { recursive: true });
    const c = t.command(opts.notebooks.trivial, dir, 'warmup');
    const r = await runMeasured(c.cmd, c.args, { cwd: opts.workDir, env: opts.env, timeoutMs: 120_000 });
    if (r.exitCode !== 0) opts.log(`warm-up of ${t.id} failed (exit ${r.exitCode}): ${r.stderrTail}`);
  }
  for (let run = 0; run < opts.runs; run++) {
    for (const [nbId, nbPath] of nbs) {
      // Rotate the order every run so no tool always goes first (or right after another).
      const order = ts.map((_, i) => ts[(i + run) % ts.length]!);
      for (const t of order) {
        const dir = join(opts.workDir, `out-${t.id}-${nbId}-${run}`);
        mkdirSync(dir, { recursive: true });
        const c = t.command(nbPath, dir, 'out');
        let r: MeasuredRun;
        let problem: string | undefined;
        try {
          r = await runMeasured(c.cmd, c.args, { cwd: opts.workDir, env: opts.env, timeoutMs: 120_000 });
        } catch (e) {
          records.push({ tool: t.id, notebook: nbId, run, wallMs: NaN, peakTreeRssKb: NaN, samples: 0, ok: false, problem: String(e) });
          continue;
        }
        if (r.timedOut) problem = 'timed out (120 s)';
        else if (r.exitCode !== 0) problem = `exit ${r.exitCode ?? r.signal}: ${r.stderrTail.trim().split('\n').slice(-3).join(' | ')}`;
        else if (c.output && !(existsSync(c.output) && statSync(c.output).size > 0)) problem = `no output notebook at ${c.output}`;
        const rec: RunRecord = {
          tool: t.id,
          notebook: nbId,
          run,
          wallMs: r.wallMs,
          peakTreeRssKb: r.peakTreeRssKb,
          samples: r.samples,
          ok: problem === undefined,
          ...(problem ? { problem } : {}),
        };
        records.push(rec);
        opts.log(
          `  run ${run + 1}/${opts.runs} ${nbId.padEnd(8)} ${t.id.padEnd(9)} ${r.wallMs.toFixed(0).padStart(6)} ms  ${(r.peakTreeRssKb / 1024).toFixed(0).padStart(4)} MB${problem ? `  FAILED: ${problem}` : ''}`,
        );
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const stats: CellStats[] = [];
  for (const t of ts) {
    for (const [nbId] of nbs) {
      const rs = records.filter((r) => r.tool === t.id && r.notebook === nbId);
      const ok = rs.filter((r) => r.ok);
      const walls = ok.map((r) => r.wallMs);
      stats.push({
        tool: t.id,
        notebook: nbId,
        runs: rs.length,
        ok: ok.length,
        medianWallMs: median(walls),
        minWallMs: walls.length ? Math.min(...walls) : NaN,
        maxWallMs: walls.length ? Math.max(...walls) : NaN,
        medianPeakRssKb: median(ok.map((r) => r.peakTreeRssKb)),
      });
    }
  }
  return { records, stats };
}
