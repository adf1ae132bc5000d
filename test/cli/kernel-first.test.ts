/**
 * `hubmill run` spawns its kernel before it loads the engine (cli/kernel-first.ts):
 * the built entry loads no package and no engine module before the spawn; the
 * early kernel is the one the run uses; a kernel spawned for a run that then
 * stops on bad input is stopped; a kernel that dies while Node loads is
 * reported as before. Kernels are real (ipykernel), behind a kernelspec that
 * notes each process it starts.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { code, makeNotebook, processAlive, tempDir, writeNotebook } from '../helpers/notebooks.js';
import { eventually } from '../helpers/wait.js';

const DIST = join(import.meta.dirname, '..', '..', 'dist');
const CLI = join(DIST, 'cli', 'index.js');
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does it)`);

/** The modules a built module loads before it runs (static imports, followed), and the packages among them. */
export function staticClosure(entry: string): { modules: string[]; packages: string[] } {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (modules.has(file)) return;
    modules.add(file);
    const text = readFileSync(file, 'utf8');
    // `import … from '…'`, `export … from '…'`, `import '…'` at the start of a line; not `import(…)`.
    for (const m of text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s*['"]([^'"]+)['"];|^import\s*['"]([^'"]+)['"];/gm)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  };
  visit(entry);
  return { modules: [...modules].map((f) => f.slice(DIST.length + 1)).sort(), packages: [...packages].sort() };
}

/** A kernelspec `name` in `dir`/kernels whose every process appends its pid to `pids`, then runs `then`. */
async function notingKernelspec(dir: string, name: string, pids: string, then: string): Promise<void> {
  const k = join(dir, 'kernels', name);
  await mkdir(k, { recursive: true });
  const script = `echo $$ >> ${JSON.stringify(pids)}; ${then}`;
  await writeFile(join(k, 'kernel.json'), JSON.stringify({ argv: ['/bin/sh', '-c', script, '{connection_file}'], display_name: name, language: 'python' }));
}

const IPYKERNEL = 'exec /usr/bin/python3 -m ipykernel_launcher -f "$0"';
const pidsIn = async (file: string): Promise<number[]> => (existsSync(file) ? (await readFile(file, 'utf8')).trim().split('\n').filter(Boolean).map(Number) : []);

function hubmill(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('hubmill run starts its kernel first', () => {
  test('the built entry loads no package and no engine, notebook reader or HTTP module before the spawn', () => {
    const { modules, packages } = staticClosure(CLI);
    assert.deepEqual(packages, [], `packages loaded before the kernel is spawned: ${packages.join(', ')}`);
    const heavy = modules.filter((m) => /^(engine|http|store|runner|settings|pipelines|schedules)\/|^notebook\/(read|parameters|exact-json)\.js$|^server\.js$/.test(m));
    assert.deepEqual(heavy, [], `loaded before the spawn: ${heavy.join(', ')}`);
    // The check can fail: the run module itself loads the engine and ZeroMQ.
    const run = staticClosure(join(DIST, 'cli', 'run.js'));
    assert.ok(run.packages.includes('zeromq') && run.modules.includes('engine/execute.js'), run.modules.join(', '));
  });

  test('the kernel spawned first is the one that runs the notebook; no second kernel', async () => {
    const dir = await tempDir();
    const pids = join(dir, 'pids');
    await notingKernelspec(dir, 'noting', pids, IPYKERNEL);
    const input = await writeNotebook(dir, 'in.ipynb', makeNotebook([code('x = 0', ['parameters']), code('import os\nprint(os.getpid(), os.getcwd(), x)')], 'noting'));
    const r = hubmill(['run', input, join(dir, 'o.ipynb'), '-p', 'x', '7', '--no-progress-bar'], { JUPYTER_PATH: dir });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(await readFile(join(dir, 'o.ipynb'), 'utf8'));
    const [pid, cwd, x] = (out.cells[2].outputs[0].text as string).trim().split(' ');
    assert.deepEqual(await pidsIn(pids), [Number(pid)]);
    assert.equal(cwd, dir);
    assert.equal(x, '7');
  });

  test('bad input found after the spawn (parameters) exits 2 as before, and the early kernel is stopped', async () => {
    const dir = await tempDir();
    const pids = join(dir, 'pids');
    await notingKernelspec(dir, 'noting', pids, IPYKERNEL);
    const input = await writeNotebook(dir, 'in.ipynb', makeNotebook([code('print(1)')], 'noting'));
    const r = hubmill(['run', input, join(dir, 'o.ipynb'), '-y', '- not a mapping'], { JUPYTER_PATH: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^hubmill: error: .*mapping/im);
    const started = await pidsIn(pids);
    assert.equal(started.length, 1, 'the kernel was spawned before the parameters were read');
    await eventually(() => !processAlive(started[0]!), 10_000, `kernel ${started[0]} to be gone`);
    assert.ok(!existsSync(join(dir, 'o.ipynb')));
  });

  test('a notebook over 4 MiB is not read twice: no early kernel, so bad parameters start none', async () => {
    const dir = await tempDir();
    const pids = join(dir, 'pids');
    await notingKernelspec(dir, 'noting', pids, IPYKERNEL);
    const big = makeNotebook([{ type: 'markdown', source: 'x'.repeat(5 * 1024 * 1024) }, code('print(1)')], 'noting');
    const input = await writeNotebook(dir, 'in.ipynb', big);
    const r = hubmill(['run', input, join(dir, 'o.ipynb'), '-y', '- not a mapping'], { JUPYTER_PATH: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(await pidsIn(pids), []);
  });

  test('a kernel that dies while Node loads is reported as a start failure, as before', async () => {
    const dir = await tempDir();
    const pids = join(dir, 'pids');
    await notingKernelspec(dir, 'dying', pids, 'echo "broken kernel" >&2; exit 3');
    const input = await writeNotebook(dir, 'in.ipynb', makeNotebook([code('print(1)')], 'dying'));
    const r = hubmill(['run', input, join(dir, 'o.ipynb')], { JUPYTER_PATH: dir });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Kernel 'dying' exited during start-up:\nbroken kernel/);
    // The early process (dead before the engine asked for it, so not used), then the ordinary
    // start that reported it; on a machine so busy that the shell had not exited by then, the
    // early one only, which the engine reports the same way.
    const started = (await pidsIn(pids)).length;
    assert.ok(started === 2 || started === 1, `${started} kernel processes`);
  });
});
