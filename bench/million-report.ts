/** Renders bench/million.ts's results as the RESULTS.md section, with verdicts against issue 16's targets. */
import type { BackendResult, MillionBenchResults } from './million.js';
import { median } from './lib/stats.js';

const f = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const verdict = (ok: boolean | null) => (ok === null ? 'n/a' : ok ? '**PASS**' : '**FAIL**');
const NAMES = { sqlite: 'SQLite', postgres: 'PostgreSQL' } as const;

/** The UI verdict is on the median of the timed loads (the slowest is shown beside it). */
export const UI_TARGET_MS = 1000;
export const CLAIM_RATIO_MAX = 1.2;
export const PRUNE_CLAIM_MAX_MS = 100;

export function renderMillionBench(r: MillionBenchResults): string {
  if (!r.measured) return `Not measured (${r.reason}).`;
  const [a, b] = r.backends as [BackendResult, BackendResult];
  const L: string[] = [];
  const p = (s = '') => L.push(s);
  p(
    `Measured ${r.date}. ${r.n.toLocaleString('en')} jobs in each store (${r.users} users, ${r.schedules} schedules, every state; bench/million-seed.ts), ` +
      `seeded in ${f(a.seedMs / 1000)} s (SQLite) and ${f(b.seedMs / 1000)} s (PostgreSQL, then VACUUM ANALYZE). Listing through the HTTP API of \`hubmill serve\` on the store (\`--role api\` on PostgreSQL; HUBMILL_RETENTION_DAYS=0), ` +
      `admin token, ${r.pageLimit} jobs a page, one request at a time on a keep-alive connection; each case timed up to 200 times or 15 s after one warm-up. Whole section: ${f(r.durationS, 0)} s; 1-minute load average ${r.loadAvg ? `${r.loadAvg[0]} at its start, ${r.loadAvg[1]} at its end` : 'n/a'} on this shared 2-core machine.`,
  );
  p();
  p('| target | SQLite | verdict | PostgreSQL | verdict |');
  p('| --- | --- | --- | --- | --- |');
  for (let i = 0; i < a.listing.length; i++) {
    const x = a.listing[i]!;
    const y = b.listing[i];
    const cell = (c: typeof x | undefined) => (c ? `p99 **${f(c.latency.p99Ms)} ms** (median ${f(c.latency.medianMs)}, max ${f(c.latency.maxMs)}, n ${c.latency.n}, ${c.rows} rows)` : 'n/a');
    p(`| \`GET /api/v1/jobs\` ${x.name}: p99 < ${x.targetMs} ms | ${cell(x)} | ${verdict(x.latency.p99Ms < x.targetMs)} | ${cell(y)} | ${verdict(y ? y.latency.p99Ms < y.targetMs : null)} |`);
  }
  const ui = (x: BackendResult) => (x.ui ? `median **${f(median(x.ui.firstPageMs), 0)} ms** (max ${f(Math.max(...x.ui.firstPageMs), 0)}, n ${x.ui.firstPageMs.length}); "Older" ${f(median(x.ui.olderMs), 0)} ms` : `not measured: ${x.uiError}`);
  const uiOk = (x: BackendResult) => (x.ui ? median(x.ui.firstPageMs) < UI_TARGET_MS : null);
  p(`| UI jobs page (all users) in Chromium, navigation → 25 newest rows shown: < ${UI_TARGET_MS} ms | ${ui(a)} | ${verdict(uiOk(a))} | ${ui(b)} | ${verdict(uiOk(b))} |`);
  const claim = (x: BackendResult) => `**${f(x.claims.ratio, 2)}×**: ${f(x.claims.million.medianMs, 2)} ms seeded vs ${f(x.claims.empty.medianMs, 2)} ms empty (median; p99 ${f(x.claims.million.p99Ms, 2)} vs ${f(x.claims.empty.p99Ms, 2)})`;
  p(`| claimNext + markFinished, seeded store ≤ ${CLAIM_RATIO_MAX}× empty store | ${claim(a)} | ${verdict(a.claims.ratio <= CLAIM_RATIO_MAX)} | ${claim(b)} | ${verdict(b.claims.ratio <= CLAIM_RATIO_MAX)} |`);
  const prune = (x: BackendResult) =>
    x.prune
      ? `longest claim **${f(x.prune.during.maxMs)} ms** (p99 ${f(x.prune.during.p99Ms)}, median ${f(x.prune.during.medianMs, 2)}, n ${x.prune.during.n}) while ${x.prune.deleted.toLocaleString('en')} jobs were pruned in ${f(x.prune.durationMs / 1000)} s; before: max ${f(x.prune.before.maxMs)} ms; longest finish during ${f(x.prune.finishDuring.maxMs)} ms`
      : `not measured: ${x.pruneError}`;
  const pruneOk = (x: BackendResult) => (x.prune ? x.prune.during.maxMs < PRUNE_CLAIM_MAX_MS && x.prune.during.n > 0 : null);
  p(`| retention prunes 100,000 expired jobs; no claim (another process) waits > ${PRUNE_CLAIM_MAX_MS} ms | ${prune(a)} | ${verdict(pruneOk(a))} | ${prune(b)} | ${verdict(pruneOk(b))} |`);
  p();
  p('The listing queries straight on the store (the same SQL, no HTTP; median / p99 over up to 50 runs): what the database itself spends, less at the mercy of the load.');
  p();
  p('| listing | SQLite | PostgreSQL |');
  p('| --- | --- | --- |');
  for (let i = 0; i < a.explain.length; i++) {
    const q = (e: BackendResult['explain'][number] | undefined) => (e ? `${f(e.query.medianMs, 2)} / ${f(e.query.p99Ms, 2)} ms` : 'n/a');
    p(`| ${a.explain[i]!.name} | ${q(a.explain[i])} | ${q(b.explain[i])} |`);
  }
  p();
  p(
    'SQLite has no api-only role, so its `hubmill serve` is a whole node: at start it fails the seeded running jobs (their worker is gone) and runs the 30 queued ones (their homes do not exist), hence 0 rows for status=running there. ' +
      'The p99 of a request is mostly the machine: the same queries take well under a millisecond at the median straight on the store (table above), and the load average of the shared 2 cores is in the header.',
  );
  p();
  p(`Reaching page 500 by following \`next_cursor\` (499 requests): SQLite ${f(a.walkTo500Ms / 1000)} s, PostgreSQL ${f(b.walkTo500Ms / 1000)} s.`);
  p();
  p(
    'Claims: enqueue (untimed), then `claimNext` + `markFinished` timed, 400 per store (after 100 untimed ones: the page cache of a serving node is warm, that of a store just opened is not) in blocks of 20 over the seeded and a fresh empty store of each kind (the order of the four stores turning every round, each block after a 20 ms pause so the I/O the previous block left pending is not timed). ' +
      'Retention: `Retention.prune` (src/runner/retention.ts) in the bench process with `days: 1` and a clock set so the oldest 100,000 jobs are expired; ' +
      'meanwhile bench/million-claimer.ts, a separate process on the same SQLite file or with its own PostgreSQL pool, enqueues and claims about 100 jobs a second. ' +
      'The UI: headless Debian Chromium signed in with the service token, `#/jobs?all=1` loaded from about:blank (the bundle cached after a warm-up load), until the table holds the 25 newest jobs; then "Older" until the next 25 replaced them.',
  );
  p();
  p('<details><summary>Query plans of the listing queries (the stores\' SQL with literals; PostgreSQL with EXPLAIN ANALYZE)</summary>');
  p();
  for (const x of r.backends) {
    for (const e of x.explain) {
      p(`**${NAMES[x.kind]}, ${e.name}**`);
      p();
      p('```');
      p(e.sql);
      p('--');
      p(e.plan);
      p('```');
      p();
    }
  }
  p('</details>');
  return L.join('\n');
}
