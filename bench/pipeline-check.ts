/**
 * Checking a 1,000-task pipeline (issue 17: under 100 ms): checkPipeline and
 * buildPlan on a chain and on a layered DAG whose tasks read upstream results,
 * timed in process after a warm-up. The pure core only: the notebook checks of
 * the intake (reading each notebook) are not in this figure.
 *
 * Alone: node --import tsx bench/pipeline-check.ts
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { checkPipeline } from '../src/pipelines/check.js';
import { buildPlan } from '../src/pipelines/plan.js';
import { MAX_TASKS, type PipelineSpec, type TaskSpec } from '../src/pipelines/types.js';
import { max, median, percentile } from './lib/stats.js';

export interface PipelineCheckBench {
  tasks: number;
  rounds: number;
  chain: { medianMs: number; p90Ms: number; maxMs: number };
  dag: { medianMs: number; p90Ms: number; maxMs: number };
}

function chain(n: number): PipelineSpec {
  const tasks: TaskSpec[] = Array.from({ length: n }, (_, i): TaskSpec => ({
    key: `t${i}`,
    notebook: 'step.ipynb',
    depends_on: i === 0 ? [] : [`t${i - 1}`],
    parameters: i === 0 ? { x: '{{parameters.x}}' } : { prev: `{{tasks.t${i - 1}.result.v}}`, first: '{{tasks.t0.result.v}}' },
  }));
  return { name: 'chain', parameters: { x: 1 }, tasks: tasks.reverse() };
}

/** 40 layers of 25 tasks, each depending on 3 tasks of the layer above and reading one of them; the middle layer is a grid sweep. */
function dag(n: number): PipelineSpec {
  const width = 25;
  const tasks: TaskSpec[] = Array.from({ length: n }, (_, i) => {
    const layer = Math.floor(i / width);
    const deps = layer === 0 ? [] : [0, 7, 13].map((d) => `n${(layer - 1) * width + ((i + d) % width)}`);
    const t: TaskSpec = { key: `n${i}`, notebook: `nb/${i % 9}.ipynb`, depends_on: deps, parameters: deps.length > 0 ? { a: `{{tasks.${deps[0]}.result.v}}`, s: 'x-{{run.id}}' } : {} };
    if (layer === 20) t.for_each = { grid: { lr: [0.1, 0.01, 0.001], depth: [2, 4, 8, 16] }, concurrency: 4 };
    if (layer === 20) t.parameters = { ...t.parameters, tag: '{{item.lr}}' };
    return t;
  });
  return { name: 'dag', tasks };
}

function time(spec: PipelineSpec, rounds: number): { medianMs: number; p90Ms: number; maxMs: number } {
  const info = () => ({ kernel: 'python3', kernel_language: 'python', declared_parameters: ['x'] });
  const problems = checkPipeline(spec);
  if (problems.length > 0) throw new Error(`the bench pipeline has problems: ${JSON.stringify(problems.slice(0, 3))}`);
  for (let i = 0; i < 5; i++) buildPlan(spec, info, 4);
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    buildPlan(spec, info, 4); // checkPipeline, then the plan: the intake's whole pure part
    ms.push(performance.now() - t0);
  }
  return { medianMs: median(ms), p90Ms: percentile(ms, 90), maxMs: max(ms) };
}

export function benchPipelineCheck(rounds = 30): PipelineCheckBench {
  return { tasks: MAX_TASKS, rounds, chain: time(chain(MAX_TASKS), rounds), dag: time(dag(MAX_TASKS), rounds) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = benchPipelineCheck();
  const line = (name: string, x: { medianMs: number; p90Ms: number; maxMs: number }): string =>
    `${name}: median ${x.medianMs.toFixed(1)} ms, p90 ${x.p90Ms.toFixed(1)} ms, max ${x.maxMs.toFixed(1)} ms`;
  process.stdout.write(`checking a ${r.tasks}-task pipeline (check + plan, ${r.rounds} rounds)\n${line('chain', r.chain)}\n${line('dag', r.dag)}\n`);
}
