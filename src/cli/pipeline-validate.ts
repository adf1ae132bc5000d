/**
 * `hubmill pipeline validate FILE`: the save-time check of the service
 * (the graph by pipelines/check.ts, each task's notebook by the producer's own
 * check, through runner/pipeline-intake.ts) against the local home, printing
 * the problems a 422 would name, each with its line in the file.
 * Exit 0 valid, 1 problems, 2 an unreadable file.
 */
import { PipelineInvalidError } from '../pipelines/pipeline-errors.js';
import type { PipelineProblem } from '../pipelines/types.js';
import { formatProblem, readPipelineFile, type PipelineFile } from './pipeline-file.js';
import { localChecker, localHome, localOwner } from './local-check.js';
import type { PipelineArgs } from './pipeline-args.js';

/** The problems a PipelineInvalidError lists; null for any other error. */
export function problemsOf(err: unknown): PipelineProblem[] | null {
  if (!(err instanceof PipelineInvalidError)) return null;
  return err.problems;
}

/** The file's own problems, then the check's, in the order of the file. */
export function allProblems(file: PipelineFile, checked: readonly PipelineProblem[]): PipelineProblem[] {
  const seen = new Set<string>();
  const out: PipelineProblem[] = [];
  for (const p of [...file.problems, ...checked]) {
    const key = `${p.task}\u0000${p.path}\u0000${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out.sort((a, b) => (file.lineOf(a.path) ?? 0) - (file.lineOf(b.path) ?? 0));
}

/** Checks the file's pipeline for `home`; its problems (none: valid). */
export async function checkPipelineFile(file: PipelineFile, home: string): Promise<PipelineProblem[]> {
  let checked: PipelineProblem[] = [];
  try {
    await localChecker(home).plan(file.spec, localOwner(), localOwner());
  } catch (err) {
    const found = problemsOf(err);
    if (!found) throw err;
    checked = found;
  }
  return allProblems(file, checked);
}

export async function validateCommand(args: PipelineArgs): Promise<number> {
  const file = await readPipelineFile(args.file);
  const home = await localHome(args.file, args.home);
  const problems = await checkPipelineFile(file, home);
  if (args.json) {
    const listed = problems.map((p) => ({ ...p, line: p.path ? file.lineOf(p.path) : null }));
    process.stdout.write(JSON.stringify({ file: args.file, home, valid: problems.length === 0, problems: listed }, null, 2) + '\n');
    return problems.length === 0 ? 0 : 1;
  }
  if (problems.length === 0) {
    const tasks = Array.isArray(file.spec.tasks) ? file.spec.tasks.map((t) => t.key) : [];
    process.stdout.write(`${args.file}: valid: ${tasks.length} task${tasks.length === 1 ? '' : 's'} (${tasks.join(', ')})\n`);
    return 0;
  }
  for (const p of problems) process.stdout.write(formatProblem(file, p) + '\n');
  process.stdout.write(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${args.file}\n`);
  return 1;
}
