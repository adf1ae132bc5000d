/** Renders bench/cold.ts's results as the RESULTS.md section, with verdicts against issue 19's cold-CLI targets. */
import { COLD_GAP_MAX_MS, COLD_RATIO_MAX, type ColdResults } from './cold.js';

const f = (x: number | undefined, d = 0) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const verdict = (ok: boolean | null) => (ok === null ? 'n/a' : ok ? '**PASS**' : '**FAIL**');

export function renderColdBench(r: ColdResults): string {
  if (!r.measured) return `Not measured (${r.reason}).`;
  const m = r.medians;
  const good = r.rounds.filter((x) => x.ok).length;
  const L: string[] = [];
  const p = (s = '') => L.push(s);
  p(
    `Measured ${r.date}, ${good} of ${r.rounds.length} rounds with every command succeeding; 1-minute load average ${r.loadAvg ? `${r.loadAvg[0]} at the start, ${r.loadAvg[1]} at the end` : 'n/a'} on this shared machine. ` +
      `The peer: ${r.peer.label} (${r.peer.version ? `papermill ${r.peer.version}, ` : ''}${r.peer.source}).` +
      (r.peer.id === 'papermill' ? '' : ' **The ratio target is against papermill, which was not found: the ratio below is against nbconvert and has no verdict.**'),
  );
  p();
  p('| target | measured | verdict |');
  p('| --- | --- | --- |');
  p(
    `| \`hubmill run\` on the trivial notebook ≤ ${COLD_RATIO_MAX}× ${r.peer.id}'s wall time, paired run by run (median of the per-round ratios) | **${f(m.ratio, 3)}×** (ratios ${f(m.ratioMin, 3)}–${f(m.ratioMax, 3)}; medians: hubmill ${f(m.hubmillMs)} ms, ${r.peer.id} ${f(m.peerMs)} ms) | ${verdict(r.verdicts.ratio)} |`,
  );
  p(
    `| \`hubmill run\` within ${COLD_GAP_MAX_MS / 1000} s of the bare kernel's start (median of the per-round differences) | **${f(m.gapMs)} ms** above it (bare kernel start median ${f(m.bareKernelMs)} ms) | ${verdict(r.verdicts.gap)} |`,
  );
  p();
  p(
    `For scale: \`node -e 0\` (Node's own start and exit) took a median ${f(m.nodeMs)} ms in the same rounds. ` +
      'Each round runs the four commands once, the order turned and reversed from round to round, after one untimed warm-up of each.',
  );
  p();
  p('<details><summary>Every round (ms)</summary>');
  p();
  p('| round | order | hubmill | peer | ratio | bare kernel | node -e 0 |');
  p('| --- | --- | --- | --- | --- | --- | --- |');
  r.rounds.forEach((x, i) =>
    p(`| ${i + 1} | ${x.order.join(' → ')} | ${f(x.hubmillMs)} | ${f(x.peerMs)} | ${x.ok ? f(x.hubmillMs / x.peerMs, 3) : `failed: ${x.problem}`} | ${f(x.bareKernelMs)} | ${f(x.nodeMs)} |`),
  );
  p();
  p('</details>');
  p();
  p(
    '- Method: wall time from `spawn` to exit (`runMeasured`, bench/lib/proctree.ts) for `node dist/cli/index.js run trivial.ipynb OUT --no-progress-bar`; ' +
      `the peer on the same notebook (${r.peer.label}); the bare kernel start, \`/usr/bin/python3 -c "import os; from ipykernel.kernelapp import IPKernelApp; IPKernelApp.instance().initialize(); os._exit(0)" -f CONN\` ` +
      "(ipykernel imported and the kernel initialized with its sockets bound, then leaving without Python's teardown); and `node -e 0`. " +
      'hubmill spawns the kernel before it loads the engine (src/cli/kernel-first.ts), so its wall time is Node\'s start, the spawn, the kernel\'s start overlapped with loading the engine, the cell, the save and the kernel\'s shutdown_reply: ' +
      'it does not wait for the kernel\'s Python teardown (docs/architecture.md), so before the next command starts the bench waits, untimed, until the processes a command left (JPY_PARENT_PID) are gone.',
  );
  return L.join('\n');
}
