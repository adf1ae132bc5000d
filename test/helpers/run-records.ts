/**
 * The kernels' own records of which job ran where, for the multi-node tests.
 *
 * The recording notebook appends lines `<node> <pid> <phase> <epoch ms>` to
 * `runs/<tag>.txt` in the home: `start`, a `tick` every 50 ms while it sleeps,
 * then `end`. The node name comes from the environment variable each serve
 * process passes to its kernels. One run of a job is the lines of one kernel
 * (node, pid); its interval is [first line, last line], so a run cut short by a
 * crash still ends at the last moment its kernel proved to be alive.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { code, makeNotebook, notebookJson } from './notebooks.js';

export const RECORDS_DIR = 'runs';

/** The code that records a run in RECORDS_DIR/<tag>.txt: start, a tick every 50 ms for `sleep_s`, end (each with node and pid). */
export function recordingSource(nodeEnvVar: string): string {
  return [
    'import os, time',
    `_node = os.environ.get(${JSON.stringify(nodeEnvVar)}, '?')`,
    `_f = open(os.path.join(${JSON.stringify(RECORDS_DIR)}, tag + '.txt'), 'a', buffering=1)`,
    'def _rec(phase):',
    "    _f.write(f'{_node} {os.getpid()} {phase} {time.time() * 1000:.1f}\\n')",
    "_rec('start')",
    '_until = time.time() + sleep_s',
    'while time.time() < _until:',
    '    time.sleep(0.05)',
    "    _rec('tick')",
    "_rec('end')",
    '_f.close()',
  ].join('\n');
}

/** The recording notebook: parameters `tag` and `sleep_s`; prints `done <tag> on <node>` at the end. */
export function recordingNotebook(nodeEnvVar: string): Record<string, unknown> {
  const record = recordingSource(nodeEnvVar);
  return makeNotebook([code("tag = 'none'\nsleep_s = 0.1", ['parameters']), code(record), code("print(f'done {tag} on {_node}')")]);
}

/**
 * The plainer record of the two-process tests: one line per run of `tag` (the
 * kernel's pid) in runs/<tag>.txt, then a sleep of `sleep_s`, then `done <tag>`.
 */
export function pidRecordingNotebookJson(): string {
  const record = [
    'import os, time',
    `with open(os.path.join(${JSON.stringify(RECORDS_DIR)}, tag + '.txt'), 'a') as f:`,
    "    f.write(f'{os.getpid()}\\n')",
    'time.sleep(sleep_s)',
    "print('done', tag)",
  ].join('\n');
  return notebookJson([code("tag = 'none'\nsleep_s = 0", ['parameters']), code(record)]);
}

export interface Run {
  node: string;
  pid: number;
  startMs: number;
  lastMs: number;
  ended: boolean;
}

/** The runs recorded for `tag`, by kernel, oldest first; throws on a malformed line. */
export function runsOf(home: string, tag: string): Run[] {
  const f = join(home, RECORDS_DIR, `${tag}.txt`);
  if (!existsSync(f)) return [];
  const byKernel = new Map<string, Run>();
  for (const line of readFileSync(f, 'utf8').split('\n')) {
    if (line === '') continue;
    const m = /^(\S+) (\d+) (start|tick|end) (\d+(?:\.\d+)?)$/.exec(line);
    if (!m) throw new Error(`malformed record in ${f}: ${JSON.stringify(line)}`);
    const [, node, pid, phase, at] = m;
    const key = `${node} ${pid}`;
    const t = Number(at);
    const r = byKernel.get(key) ?? { node: node!, pid: Number(pid), startMs: t, lastMs: t, ended: false };
    r.startMs = Math.min(r.startMs, t);
    r.lastMs = Math.max(r.lastMs, t);
    if (phase === 'end') r.ended = true;
    byKernel.set(key, r);
  }
  return [...byKernel.values()].sort((a, b) => a.startMs - b.startMs);
}

/** Every tag that has records. */
export function recordedTags(home: string): string[] {
  const dir = join(home, RECORDS_DIR);
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.txt')).map((n) => n.slice(0, -4)) : [];
}

/** Pairs of runs of one job whose intervals overlap (two kernels running it at once); [] when none. */
export function overlaps(runs: Run[]): Array<[Run, Run]> {
  const out: Array<[Run, Run]> = [];
  for (let i = 0; i < runs.length; i++) {
    for (let j = i + 1; j < runs.length; j++) {
      const a = runs[i]!;
      const b = runs[j]!;
      if (a.startMs <= b.lastMs && b.startMs <= a.lastMs) out.push([a, b]);
    }
  }
  return out;
}

/**
 * Checks a succeeded run's output notebook: valid nbformat 4 JSON, papermill
 * metadata with an end time and no exception, every cell `completed`, every code
 * cell executed, and the last cell's output `done <tag> on <node>` (so it is this
 * job's output and it ran to the end). `problems` is empty when it is complete;
 * `node` is the node its last cell names.
 */
export function checkOutput(text: string, tag: string): { problems: string[]; node: string | null } {
  let nb: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    nb = JSON.parse(text);
  } catch (e) {
    return { problems: [`not JSON: ${(e as Error).message}`], node: null };
  }
  if (nb?.nbformat !== 4 || !Array.isArray(nb.cells)) return { problems: ['not an nbformat 4 notebook'], node: null };
  const problems: string[] = [];
  const pm = nb.metadata?.papermill;
  if (!pm || typeof pm.end_time !== 'string') problems.push('metadata.papermill.end_time missing');
  if (pm?.exception) problems.push('metadata.papermill.exception is set');
  for (const [i, cell] of (nb.cells as any[]).entries()) { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (cell.metadata?.papermill?.status !== 'completed') problems.push(`cell ${i} is ${cell.metadata?.papermill?.status}`);
    if (cell.cell_type === 'code' && typeof cell.execution_count !== 'number') problems.push(`cell ${i} was not executed`);
  }
  const outputs: Array<{ text?: string | string[] }> = nb.cells.at(-1)?.outputs ?? [];
  const printed = outputs.map((o) => (Array.isArray(o.text) ? o.text.join('') : o.text ?? '')).join('');
  const m = new RegExp(`^done ${tag} on (\\S+)\\n$`).exec(printed);
  if (!m) problems.push(`last cell printed ${JSON.stringify(printed)}`);
  return { problems, node: m ? m[1]! : null };
}
