/**
 * The service section of the bench (bench/service.ts: warm-pool latency,
 * throughput) on several builds in one run, round by round in alternating
 * order, so a change is compared with an earlier commit on the same machine in
 * the same hour rather than with an old RESULTS.md. `npm run bench` runs it
 * when BENCH_BASELINE names a checkout of the earlier commit with dist/ built
 * (this build, and this build without the fork server, are the other variants).
 *
 * Alone: each argument is a checkout with dist/ built, optionally followed by
 * `|NAME=VALUE,...` for extra environment, e.g.
 *   git worktree add /tmp/base b55a275 && (cd /tmp/base && npm ci && npx tsc -p tsconfig.build.json)
 *   node --import tsx bench/ab-service.ts /tmp/base . '.|HUBMILL_FORK_SERVER=false'
 * Environment: AB_ROUNDS (3), AB_N (latency requests per round, 20),
 * AB_THROUGHPUT_N (40). The last stdout line is the JSON result.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeNotebooks } from './lib/notebooks.js';
import { median } from './lib/stats.js';
import { benchService } from './service.js';

export interface AbRound {
  variant: string;
  round: number;
  load: number;
  medianMs: number | null;
  p90Ms: number | null;
  perSecond: number | null;
  problem: string | null;
}
export interface AbResults {
  rounds: number;
  latencyN: number;
  throughputN: number;
  /** Per variant: the checkout's commit (when it is a git checkout) and its extra environment. */
  variants: Array<{ variant: string; commit: string | null; env: Record<string, string> }>;
  results: AbRound[];
}

function parseVariant(variant: string): { dir: string; env: Record<string, string> } {
  const [dir, envs] = variant.split('|');
  const env = Object.fromEntries((envs ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return { dir: resolve(dir!), env };
}

function commitOf(dir: string): string | null {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export async function benchAgainst(variants: string[], o: { rounds: number; latencyN: number; throughputN: number; log: (s: string) => void }): Promise<AbResults> {
  const results: AbRound[] = [];
  for (let r = 0; r < o.rounds; r++) {
    for (const variant of r % 2 ? [...variants].reverse() : variants) {
      const { dir, env } = parseVariant(variant);
      const work = mkdtempSync(join(tmpdir(), 'hubmill-ab-'));
      try {
        const nbs = writeNotebooks(work);
        const out = await benchService({ root: dir, workDir: work, trivialNotebook: nbs.trivial, env: { ...process.env, ...env }, latencyN: o.latencyN, throughputN: o.throughputN, healthSeconds: 1, log: () => {} });
        const row: AbRound = {
          variant,
          round: r + 1,
          load: loadavg()[0]!,
          medianMs: out.latency?.medianMs ?? null,
          p90Ms: out.latency?.p90Ms ?? null,
          perSecond: out.throughput?.perSecond ?? null,
          problem: out.reason ?? (Object.values(out.sectionErrors)[0] as string | undefined) ?? null,
        };
        results.push(row);
        const f = (x: number | null, d = 1) => (x === null ? '-' : x.toFixed(d));
        o.log(`  round ${row.round} ${variant}: load ${row.load.toFixed(2)} | warm latency median ${f(row.medianMs)} ms, p90 ${f(row.p90Ms)} ms | throughput ${f(row.perSecond, 2)}/s${row.problem ? ` | ${row.problem}` : ''}`);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }
  }
  return {
    rounds: o.rounds,
    latencyN: o.latencyN,
    throughputN: o.throughputN,
    variants: variants.map((v) => {
      const { dir, env } = parseVariant(v);
      return { variant: v, commit: commitOf(dir), env };
    }),
    results,
  };
}

/** The RESULTS.md section: one row per variant, medians over its rounds. */
export function renderAbSection(ab: AbResults): string[] {
  const L = ['## The service against an earlier build, in the same run', ''];
  L.push(
    `\`bench/service.ts\`'s warm-pool latency (${ab.latencyN} sequential \`POST /api/v1/jobs?wait=true\`, pool \`python3:2\` full before each) and throughput (${ab.throughputN} at once) for each build, ${ab.rounds} rounds in alternating order; medians over the rounds.`,
    '',
    '| build | commit | warm latency median | p90 | throughput | rounds (latency medians) |',
    '| --- | --- | ---: | ---: | ---: | --- |',
  );
  for (const v of ab.variants) {
    const mine = ab.results.filter((x) => x.variant === v.variant);
    const med = (k: 'medianMs' | 'p90Ms' | 'perSecond', d: number) => {
      const xs = mine.flatMap((x) => (x[k] === null ? [] : [x[k]!]));
      return xs.length ? median(xs).toFixed(d) : 'n/a';
    };
    const envText = Object.entries(v.env).map(([k, x]) => `${k}=${x}`).join(', ');
    L.push(`| \`${parseVariant(v.variant).dir}\`${envText ? ` (${envText})` : ''} | ${v.commit ?? '?'} | ${med('medianMs', 1)} ms | ${med('p90Ms', 1)} ms | ${med('perSecond', 2)}/s | ${mine.map((x) => (x.medianMs === null ? `failed: ${x.problem}` : x.medianMs.toFixed(1))).join(', ')} |`);
  }
  L.push('');
  return L;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const envNum = (name: string, dflt: number) => (process.env[name] && Number.isFinite(Number(process.env[name])) ? Number(process.env[name]) : dflt);
  const variants = process.argv.slice(2);
  if (variants.length === 0) {
    process.stderr.write('usage: node --import tsx bench/ab-service.ts CHECKOUT[|NAME=VALUE,...] ...\n');
    process.exit(2);
  }
  const ab = await benchAgainst(variants, { rounds: envNum('AB_ROUNDS', 3), latencyN: envNum('AB_N', 20), throughputN: envNum('AB_THROUGHPUT_N', 40), log: (s) => process.stderr.write(`${s}\n`) });
  process.stderr.write(`${renderAbSection(ab).join('\n')}\n`);
  process.stdout.write(`${JSON.stringify(ab)}\n`);
}
