/** Renders bench/pipelines.ts's results as the RESULTS.md section, with verdicts against issue 17's targets. */
import type { PipelineBench } from './pipelines.js';

export const EDGE_MEDIAN_MAX_MS = 20;
export const FANOUT_RATIO_MIN = 0.8;
export const CHECK_MAX_MS = 100;
export const PAGE_MAX_MS = 1000;

const f = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const verdict = (ok: boolean) => (ok ? '**PASS**' : '**FAIL**');

export function renderPipelineSection(r: PipelineBench | undefined): string[] {
  if (!r) return [];
  const L = ['## Pipelines against plain jobs (issue 17)', ''];
  if (!r.measured) return [...L, `Not measured (${r.reason}).`, ''];
  const { edge, fanout, check, page } = r;
  L.push(
    `One \`hubmill serve\` (dist/, default settings, fork server on) measured ${r.date ?? ''}; 1-minute load average ${r.loadAvg ? `${r.loadAvg[0]} at the start, ${r.loadAvg[1]} at the end` : 'n/a'}. bench/pipelines.ts.`,
    '',
    '| target | hubmill pipelines | the peer, same run | verdict |',
    '| --- | --- | --- | --- |',
  );
  if (edge) {
    L.push(
      `| edge latency: an upstream job's end to its dependent's start, median < ${EDGE_MEDIAN_MAX_MS} ms | median **${f(edge.pipeline.medianMs)} ms** (p90 ${f(edge.pipeline.p90Ms)}, max ${f(edge.pipeline.maxMs)}, n ${edge.pipeline.n}; ${edge.runs} runs of a ${edge.chainTasks}-task chain) | a client chaining plain jobs with \`?wait=true\`: median ${f(edge.plainChain.medianMs)} ms (p90 ${f(edge.plainChain.p90Ms)}) | ${verdict(edge.pipeline.medianMs < EDGE_MEDIAN_MAX_MS)} |`,
    );
  }
  if (fanout) {
    const rounds = fanout.rounds.map((x) => `${f(x.pipelinePerS, 2)}/s`).join(', ');
    const plain = fanout.rounds.map((x) => `${f(x.plainPerS, 2)}/s`).join(', ');
    L.push(
      `| fan-out: ${fanout.items} trivial items of one \`for_each\` ≥ ${FANOUT_RATIO_MIN * 100}% of ${fanout.items} plain jobs submitted at once | ${rounds}; ratio (median of rounds) **${f(fanout.ratio, 2)}** | ${plain} | ${verdict(fanout.ratio >= FANOUT_RATIO_MIN)} |`,
    );
  }
  if (check) {
    const worst = Math.max(check.chain.maxMs, check.dag.maxMs);
    L.push(
      `| checking a ${check.tasks}-task pipeline < ${CHECK_MAX_MS} ms | check + plan, slowest of ${check.rounds} rounds **${f(worst)} ms** (chain median ${f(check.chain.medianMs)}, layered DAG with a grid median ${f(check.dag.medianMs)}); the whole \`POST /api/v1/pipelines\` (reads the notebook of every task): median ${f(check.httpCreateMs.medianMs, 0)} ms | — | ${verdict(worst < CHECK_MAX_MS)} |`,
    );
  }
  if (page) {
    L.push(
      `| the run page of a live ${page.tasks}-task run drawn < ${PAGE_MAX_MS} ms (Chromium) | median **${f(page.medianMs, 0)} ms**, slowest ${f(page.maxMs, 0)} (samples ${page.samplesMs.join(', ')}) | — | ${verdict(page.medianMs < PAGE_MAX_MS)} |`,
    );
  } else if (r.pageError) {
    L.push(`| the run page of a live 1,000-task run drawn < ${PAGE_MAX_MS} ms | not measured: ${r.pageError} | — | n/a |`);
  }
  L.push(
    '',
    'Edge latency uses the jobs\' own timestamps (`finished_at` of the upstream job, `started_at` of the dependent); the pipeline advances in the transaction that records the end. ' +
      'Fan-out: from the run\'s creation (or the first plain submission) to the last job\'s end, rounds alternating which goes first, 2 s apart. ' +
      'Checking: bench/pipeline-check.ts in process after a warm-up (a chain where every task reads the first one\'s result, and 40 layers of 25 with a 12-item grid). ' +
      'Run page: from the hash change that opens it (the app already loaded) to the graph drawn (every box in view with its status; a graph of 300 tasks or more builds the boxes in view and a margin, the others as they scroll in), the first visit untimed; the run\'s first layer is running meanwhile.',
    '',
  );
  return L;
}
