/**
 * In-process measurement of the engine's orchestration overhead per cell
 * (issue 2): the same 200 cells run (a) as raw round trips through hubmill's
 * KernelClient (`k.execute(code)`, which waits for the reply and the idle
 * status) and (b) through `executeNotebook` on the same warm kernel
 * (`givenKernel(k, { keep: true })`, same cwd, so no kernel start), which adds output
 * mapping, papermill metadata, events and the debounced saving of the output
 * file (first and final save included). Rounds alternate a then b; the
 * overhead per cell is the median over rounds of (b - a) / 200.
 *
 * It imports the built JavaScript in dist/ (what `hubmill run` executes), and
 * runs as its own process: `node --import tsx bench/overhead.ts DIR ROUNDS`;
 * the last stdout line is the JSON result.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median } from './lib/stats.js';

// The built code (dist/), typed by its sources.
const dist = (p: string): Promise<unknown> => import(new URL(`../dist/${p}`, import.meta.url).href);
const { KernelClient } = (await dist('kernel/kernel-client.js')) as typeof import('../src/kernel/kernel-client.js');
const { getKernelSpec } = (await dist('kernel/kernelspec-discovery.js')) as typeof import('../src/kernel/kernelspec-discovery.js');
const { executeNotebook } = (await dist('engine/execute.js')) as typeof import('../src/engine/execute.js');
const { givenKernel } = (await dist('engine/kernel-source.js')) as typeof import('../src/engine/kernel-source.js');
const { readNotebookFile, sourceText } = (await dist('notebook/read.js')) as typeof import('../src/notebook/read.js');
const { parseJsonExact } = (await dist('notebook/exact-json.js')) as typeof import('../src/notebook/exact-json.js');

const dir = process.argv[2]!;
const rounds = Number(process.argv[3] ?? 7);
const nbPath = join(dir, 'cells200.ipynb');

// Whole script bounded: never leave the bench hanging.
setTimeout(() => {
  process.stderr.write('overhead: gave up after 150 s\n');
  process.exit(3);
}, 150_000).unref();

const spec = await getKernelSpec('python3');
const startTimes: number[] = [];
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const k0 = await KernelClient.launch(spec, { cwd: dir });
  startTimes.push(performance.now() - t0);
  await k0.shutdown();
}

const nb = await readNotebookFile(nbPath);
const codes: string[] = nb.cells.filter((c) => c.cell_type === 'code').map((c) => sourceText(c));
if (codes.length !== 200) throw new Error(`expected 200 code cells, got ${codes.length}`);

const k = await KernelClient.launch(spec, { cwd: dir });
const raw: number[] = [];
const engine: number[] = [];
const engineLoop: number[] = [];
const diffs: number[] = [];
const oneCell: number[] = [];
try {
  const runRaw = async () => {
    const t0 = performance.now();
    for (const code of codes) {
      const reply = await k.execute(code);
      if (reply.status !== 'ok') throw new Error(`raw execute failed: ${JSON.stringify(reply)}`);
    }
    return performance.now() - t0;
  };
  const runEngine = async () => {
    let first = 0;
    let last = 0;
    const t0 = performance.now();
    const res = await executeNotebook({
      notebook: nb,
      inputPath: nbPath,
      outputPath: join(dir, 'overhead-out.ipynb'),
      parameters: {},
      kernelName: 'python3',
      kernels: givenKernel(k, { keep: true }),
      cwd: dir,
      onEvent: (e) => {
        if (e.type !== 'cell_started' && e.type !== 'cell_finished') return;
        if (e.type === 'cell_started' && e.index === 0) first = performance.now();
        if (e.type === 'cell_finished' && e.index === codes.length - 1) last = performance.now();
      },
    });
    const wall = performance.now() - t0;
    if (res.status !== 'succeeded') throw new Error(`engine run ${res.status}: ${JSON.stringify(res.error)}`);
    return { wall, loop: last - first };
  };
  // Warm-up: imports, JIT, kernel history database.
  await runRaw();
  await runEngine();
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await k.execute('1+1');
    oneCell.push(performance.now() - t0);
  }
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first so drift in the machine's load cancels.
    let a: number;
    let b: { wall: number; loop: number };
    if (r % 2 === 0) {
      a = await runRaw();
      b = await runEngine();
    } else {
      b = await runEngine();
      a = await runRaw();
    }
    raw.push(a);
    engine.push(b.wall);
    engineLoop.push(b.loop);
    diffs.push((b.wall - a) / codes.length);
    process.stderr.write(`  overhead round ${r + 1}/${rounds}: raw ${a.toFixed(1)} ms, engine ${b.wall.toFixed(1)} ms (cell loop ${b.loop.toFixed(1)} ms)\n`);
  }
} finally {
  await k.shutdown();
}

/**
 * The cost of keeping numbers exact (issue 16 §0), which the difference above cannot show: the raw
 * round trips decode their messages through the same codec. A display message whose content holds
 * floats and a big integer (the path a cell's JSON display or float result takes) is decoded exactly
 * and with plain JSON.parse, alternately; per message, in microseconds.
 */
function exactDecodeUs(): { exactUs: number; plainUs: number; bytes: number } {
  const content = JSON.stringify({
    data: { 'application/json': { x: 1.5, rows: Array.from({ length: 20 }, (_, i) => ({ i, v: i + 0.25 })) }, 'text/plain': "{'x': 1.5, ...}" },
    metadata: {},
    transient: {},
  }).replace('"x":1.5', '"x":1.0,"big":9223372036854775809');
  const n = 5000;
  const exact: number[] = [];
  const plain: number[] = [];
  for (let r = 0; r < 7; r++) {
    let t = performance.now();
    for (let i = 0; i < n; i++) parseJsonExact(content);
    exact.push(((performance.now() - t) * 1000) / n);
    t = performance.now();
    for (let i = 0; i < n; i++) JSON.parse(content);
    plain.push(((performance.now() - t) * 1000) / n);
  }
  return { exactUs: median(exact), plainUs: median(plain), bytes: content.length };
}

const result = {
  cells: codes.length,
  exactDisplayDecode: exactDecodeUs(),
  rounds,
  kernelStartMs: { runs: startTimes, median: median(startTimes) },
  oneTrivialCellRoundTripMs: median(oneCell),
  rawTotalMs: raw,
  engineTotalMs: engine,
  engineCellLoopMs: engineLoop,
  medianRawPerCellMs: median(raw) / codes.length,
  medianEnginePerCellMs: median(engine) / codes.length,
  overheadPerCellMs: median(diffs),
  overheadPerCellLoopOnlyMs: median(engineLoop.map((l, i) => (l - raw[i]!) / codes.length)),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
