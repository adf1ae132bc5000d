/**
 * The service section of the bench (bench/service.ts: warm-pool latency,
 * throughput) on several builds in one run, round by round in alternating
 * order, so a change is compared with an earlier commit on the same machine in
 * the same hour rather than with an old RESULTS.md.
 *
 * Each argument is a checkout with its dist/ built, optionally followed by
 * `|NAME=VALUE,...` for extra environment, e.g.
 *   git worktree add /tmp/base b55a275 && (cd /tmp/base && npm ci && npm run build)
 *   node --import tsx bench/ab-service.ts /tmp/base . '.|HUBMILL_FORK_SERVER=false'
 * Environment: AB_ROUNDS (3), AB_N (latency requests per round, 20),
 * AB_THROUGHPUT_N (40). The last stdout line is the JSON of every round.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeNotebooks } from './lib/notebooks.js';
import { median } from './lib/stats.js';
import { benchService } from './service.js';

const envNum = (name: string, dflt: number) => (process.env[name] && Number.isFinite(Number(process.env[name])) ? Number(process.env[name]) : dflt);
const ROUNDS = envNum('AB_ROUNDS', 3);
const N = envNum('AB_N', 20);
const THROUGHPUT_N = envNum('AB_THROUGHPUT_N', 40);
const variants = process.argv.slice(2);
if (variants.length === 0) {
  process.stderr.write('usage: node --import tsx bench/ab-service.ts CHECKOUT[|NAME=VALUE,...] ...\n');
  process.exit(2);
}

interface Round {
  variant: string;
  round: number;
  load: number;
  medianMs: number | null;
  p90Ms: number | null;
  perSecond: number | null;
  problem: string | null;
}
const rounds: Round[] = [];
for (let r = 0; r < ROUNDS; r++) {
  for (const variant of r % 2 ? [...variants].reverse() : variants) {
    const [dir, envs] = variant.split('|');
    const extra = Object.fromEntries((envs ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    const work = mkdtempSync(join(tmpdir(), 'hubmill-ab-'));
    try {
      const nbs = writeNotebooks(work);
      const out = await benchService({
        root: resolve(dir!),
        workDir: work,
        trivialNotebook: nbs.trivial,
        env: { ...process.env, ...extra },
        latencyN: N,
        throughputN: THROUGHPUT_N,
        healthSeconds: 1,
        log: () => {},
      });
      const row: Round = {
        variant,
        round: r + 1,
        load: loadavg()[0]!,
        medianMs: out.latency?.medianMs ?? null,
        p90Ms: out.latency?.p90Ms ?? null,
        perSecond: out.throughput?.perSecond ?? null,
        problem: out.reason ?? (Object.values(out.sectionErrors)[0] as string | undefined) ?? null,
      };
      rounds.push(row);
      const f = (x: number | null, d = 1) => (x === null ? '-' : x.toFixed(d));
      process.stderr.write(`round ${row.round} ${variant}: load ${row.load.toFixed(2)} | warm latency median ${f(row.medianMs)} ms, p90 ${f(row.p90Ms)} ms | throughput ${f(row.perSecond, 2)}/s${row.problem ? ` | ${row.problem}` : ''}\n`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}
for (const variant of variants) {
  const mine = rounds.filter((x) => x.variant === variant);
  const med = (k: 'medianMs' | 'p90Ms' | 'perSecond') => {
    const xs = mine.flatMap((x) => (x[k] === null ? [] : [x[k]!]));
    return xs.length ? median(xs).toFixed(k === 'perSecond' ? 2 : 1) : '-';
  };
  process.stderr.write(`${variant}: median over rounds: warm latency ${med('medianMs')} ms (p90 ${med('p90Ms')} ms), throughput ${med('perSecond')}/s\n`);
}
process.stdout.write(`${JSON.stringify(rounds)}\n`);
