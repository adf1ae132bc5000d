/**
 * The fork-server parts of the bench (issue 11), each its own process:
 * bench/fork-kernels.ts, bench/jupyter_client_start.py, bench/fork-service.ts.
 * `npm run bench` includes them; `node --import tsx bench/fork.ts` runs only
 * them (plus the nbconvert peer's throughput, 2 in parallel, for the ratio),
 * prints the RESULTS.md section and writes bench/fork-results.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tools } from './engine.js';
import { renderForkSection, type ForkBenchResults } from './fork-report.js';
import { runJsonChild } from './lib/child.js';
import { writeNotebooks } from './lib/notebooks.js';
import { runMeasured } from './lib/proctree.js';
import { peerThroughput } from './service.js';

export async function benchFork(root: string, rounds: number): Promise<ForkBenchResults> {
  const kernels = await runJsonChild(process.execPath, ['--import', 'tsx', join(root, 'bench/fork-kernels.ts'), String(rounds)], 600_000);
  const jc = await runJsonChild('/usr/bin/python3', [join(root, 'bench/jupyter_client_start.py'), String(rounds)], 300_000);
  const svc = await runJsonChild(process.execPath, ['--import', 'tsx', join(root, 'bench/fork-service.ts')], 900_000);
  const errors: Record<string, string> = {};
  if (kernels.error) errors.kernels = kernels.error;
  if (jc.error) errors.jupyterClient = jc.error;
  if (svc.error) errors.service = svc.error;
  return {
    kernels: kernels.json as ForkBenchResults['kernels'],
    jupyterClient: jc.json as ForkBenchResults['jupyterClient'],
    service: svc.json as ForkBenchResults['service'],
    errors,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const loadStart = loadavg();
  log(`fork bench: load ${loadStart.map((x) => x.toFixed(2)).join(' ')}`);
  const fork = await benchFork(root, Number(process.env.BENCH_FORK_ROUNDS ?? 10));
  const work = mkdtempSync(join(tmpdir(), 'hubmill-forkpeer-'));
  const n = Number(process.env.BENCH_FORK_PEER_N ?? 20);
  try {
    const nbs = writeNotebooks(work);
    const nbconvert = tools(root).find((t) => t.id === 'nbconvert')!;
    const peer = await peerThroughput({
      notebook: nbs.trivial,
      workDir: work,
      n,
      parallel: 2,
      env: process.env,
      runOne: async (i) => {
        const dir = join(work, `peer-${i}`);
        mkdirSync(dir, { recursive: true });
        const c = nbconvert.command(nbs.trivial, dir, 'out');
        const r = await runMeasured(c.cmd, c.args, { cwd: work, env: process.env, timeoutMs: 120_000, sampleMs: 200 });
        return r.exitCode === 0;
      },
    });
    const out = { date: new Date().toISOString(), loadAvgStart: loadStart, loadAvgEnd: loadavg(), fork, peerThroughput: peer };
    writeFileSync(join(root, 'bench/fork-results.json'), `${JSON.stringify(out, null, 2)}\n`);
    process.stdout.write(`${renderForkSection(fork, peer.perSecond).join('\n')}\n`);
    log(`load at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}; peer ${peer.ok}/${peer.n} at ${peer.perSecond.toFixed(2)}/s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.exit(0);
}
