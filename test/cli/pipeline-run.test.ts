/**
 * `hubmill pipeline run` (dist/cli) with real python3 kernels: an extract →
 * grid sweep → report pipeline whose tasks read the files upstream tasks wrote
 * and receive typed values; a failing task; bad parameters; Ctrl-C.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { code, makeNotebook, processAlive, tempDir, waitFor, writeNotebook } from '../helpers/notebooks.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'index.js');
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does it)`);

function hubmill(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const glue = (name: string, expr: string) =>
  `from IPython.display import display\ndisplay({'application/scrapbook.scrap.json+json': {'name': '${name}', 'data': ${expr}, 'encoder': 'json', 'version': 1}}, raw=True)`;

type Json = Record<string, any>;
const readJson = async (p: string) => JSON.parse(await readFile(p, 'utf8')) as Json;
/** The text a notebook printed, all cells. */
const printed = (nb: Json) =>
  nb.cells
    .flatMap((c: Json) => c.outputs ?? [])
    .filter((o: Json) => o.output_type === 'stream')
    .map((o: Json) => (Array.isArray(o.text) ? o.text.join('') : o.text))
    .join('');

async function sweepProject(): Promise<string> {
  const dir = await tempDir('hubmill-plrun-');
  const work = join(dir, 'work');
  await mkdir(work);
  await writeNotebook(
    work,
    'extract.ipynb',
    makeNotebook([
      code('n = 2', ['parameters']),
      code("with open('data.txt', 'w') as f:\n    f.write('\\n'.join(str(i) for i in range(n)))"),
      code(`${glue('rows', 'n')}\n${glue('big', '2**63 + 1')}\n${glue('names', "['a', 'b']")}`),
    ]),
  );
  await writeNotebook(
    work,
    'train.ipynb',
    makeNotebook([
      code('lr = 0.5\ndepth = 0\nrate = 0.0\nrows = 0', ['parameters']),
      code("file_rows = len(open('data.txt').read().splitlines())\nprint('typed', repr(lr), repr(depth), repr(rate), repr(rows), file_rows)"),
      code(glue('score', 'lr * depth * rate')),
    ]),
  );
  await writeNotebook(
    work,
    'report.ipynb',
    makeNotebook([
      code('scores = []\nbig = 0\nnames = []', ['parameters']),
      code("print('report', type(scores).__name__, [type(s).__name__ for s in scores], big == 2**63 + 1, names)\nopen('report.txt', 'w').write(str(len(scores)))"),
    ]),
  );
  await writeFile(
    join(dir, 'pipeline.yaml'),
    [
      'name: sweep-demo',
      'parameters:',
      '  rate: 0.5',
      '  n: 2',
      'tasks:',
      '  - key: extract',
      '    notebook: work/extract.ipynb',
      '  - key: sweep',
      '    notebook: work/train.ipynb',
      '    depends_on: [extract]',
      '    parameters:',
      '      rows: "{{tasks.extract.result.rows}}"',
      '    for_each:',
      '      grid: {lr: [0.1, 1.0], depth: [1, 2]}',
      '      concurrency: 2',
      '  - key: report',
      '    notebook: work/report.ipynb',
      '    depends_on: [sweep]',
      '    parameters:',
      '      scores: "{{tasks.sweep.result.score}}"',
      '      big: "{{tasks.extract.result.big}}"',
      '      names: "{{tasks.extract.result.names}}"',
      '',
    ].join('\n'),
  );
  return dir;
}

describe('hubmill pipeline run', { timeout: 300_000 }, () => {
  test('runs extract → a grid sweep → a report locally: exit 0, typed values, shared files, outputs as jobs write them', async () => {
    const dir = await sweepProject();
    const r = hubmill(['pipeline', 'run', join(dir, 'pipeline.yaml'), '-p', 'rate', '1.0', '-p', 'n', '3', '--concurrency', '2']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // One line per change, in order for each task.
    const lines = r.stdout.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    assert.ok(at(/^task extract: succeeded$/) >= 0, r.stdout);
    assert.ok(at(/^task sweep: running/) > at(/^task extract: succeeded$/), r.stdout);
    assert.ok(at(/^task sweep: succeeded 4\/4$/) > 0, r.stdout);
    assert.ok(at(/^ {2}sweep\[3\] \(lr=1\.0, depth=2\): succeeded → /) > 0, r.stdout);
    assert.ok(at(/^task report: succeeded$/) > at(/^task sweep: succeeded 4\/4$/), r.stdout);
    assert.match(r.stdout, /^run \S+ succeeded in [\d.]+ s$/m);

    // Outputs as jobs write them: <notebook folder>/hubmill-outputs/<stem>-<job id>.ipynb.
    const outs = (await readdir(join(dir, 'work', 'hubmill-outputs'))).sort();
    assert.equal(outs.length, 6, outs.join(' '));
    assert.equal(outs.filter((f) => f.startsWith('train-')).length, 4);
    const trains = await Promise.all(outs.filter((f) => f.startsWith('train-')).map((f) => readJson(join(dir, 'work', 'hubmill-outputs', f))));
    // -p rate 1.0 stays a float; the grid's ints stay ints; extract's int result arrives as an int; the file extract wrote is read.
    const typed = trains.map((nb) => printed(nb).trim()).sort();
    assert.deepEqual(typed, ['typed 0.1 1 1.0 3 3', 'typed 0.1 2 1.0 3 3', 'typed 1.0 1 1.0 3 3', 'typed 1.0 2 1.0 3 3']);
    const report = await readJson(join(dir, 'work', 'hubmill-outputs', outs.find((f) => f.startsWith('report-'))!));
    // A for_each result arrives as the list of item values in item order, a big integer exactly, a list as a list.
    assert.equal(printed(report).trim(), "report list ['float', 'float', 'float', 'float'] True ['a', 'b']");
    assert.equal(await readFile(join(dir, 'work', 'report.txt'), 'utf8'), '4');
  });

  test('a failing task: exit 1, its error and the tasks it held back; --output-dir names outputs by task and item', async () => {
    const dir = await tempDir('hubmill-plfail-');
    await writeNotebook(dir, 'ok.ipynb', makeNotebook([code('x = 1', ['parameters']), code('print(x)')]));
    await writeNotebook(dir, 'boom.ipynb', makeNotebook([code('x = 1', ['parameters']), code('raise ValueError("boom at " + str(x))')]));
    await writeFile(
      join(dir, 'p.json'),
      JSON.stringify({
        name: 'fails',
        tasks: [
          { key: 'first', notebook: 'ok.ipynb' },
          { key: 'explode', notebook: 'boom.ipynb', depends_on: ['first'], for_each: { items: [1, 2] }, parameters: { x: '{{item}}' } },
          { key: 'after', notebook: 'ok.ipynb', depends_on: ['explode'] },
          { key: 'cleanup', notebook: 'ok.ipynb', depends_on: ['explode'], run_if: 'any_failed' },
        ],
      }),
    );
    // --json: the progress lines go to stderr, the finished run to stdout; --log-output: the notebooks' output to stderr.
    const r = hubmill(['pipeline', 'run', join(dir, 'p.json'), '--output-dir', join(dir, 'out'), '--json', '--log-output']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /^ {2}explode\[1\] \(2\): failed: ValueError: boom at 2/m);
    assert.match(r.stderr, /^task explode: failed 2\/2/m);
    assert.match(r.stderr, /^task after: upstream_failed/m);
    assert.match(r.stderr, /^task cleanup: succeeded$/m);
    assert.match(r.stderr, /^run \S+ failed in/m);
    assert.match(r.stderr, /^\[first\] 1$/m);
    assert.match(r.stderr, /^\[explode\[0\] \(1\)\] ValueError: boom at 1$/m);
    const run = JSON.parse(r.stdout);
    assert.equal(run.status, 'failed');
    assert.deepEqual(
      run.tasks.map((t: Json) => [t.key, t.status]),
      [['first', 'succeeded'], ['explode', 'failed'], ['after', 'upstream_failed'], ['cleanup', 'succeeded']],
    );
    assert.deepEqual((await readdir(join(dir, 'out'))).sort(), ['cleanup-ok.ipynb', 'explode-boom-0.ipynb', 'explode-boom-1.ipynb', 'first-ok.ipynb']);
    const failed = await readJson(join(dir, 'out', 'explode-boom-0.ipynb'));
    assert.equal(failed.metadata.papermill.exception, true);
  });

  test('bad input exits 2: an unknown -p name, problems in the file, an --output-dir outside the home', async () => {
    const dir = await tempDir('hubmill-plbad-');
    await writeNotebook(dir, 'ok.ipynb', makeNotebook([code('x = 1', ['parameters']), code('print(x)')]));
    await writeFile(join(dir, 'p.yaml'), 'name: p\nparameters: {x: 2}\ntasks:\n  - {key: a, notebook: ok.ipynb}\n');
    const unknown = hubmill(['pipeline', 'run', join(dir, 'p.yaml'), '-p', 'y', '1']);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /'y' is not a parameter of the pipeline/);
    await writeFile(join(dir, 'bad.yaml'), 'name: p\ntasks:\n  - {key: a, notebook: missing.ipynb}\n');
    const bad = hubmill(['pipeline', 'run', join(dir, 'bad.yaml')]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /bad\.yaml:3: task a: tasks\[0\]\.notebook: .*missing\.ipynb/);
    const outside = hubmill(['pipeline', 'run', join(dir, 'p.yaml'), '--output-dir', '/tmp']);
    assert.equal(outside.code, 2, outside.stderr);
    assert.match(outside.stderr, /outside the home/);
  });

  test('Ctrl-C cancels the run, stops its kernel and exits 1', async () => {
    const dir = await tempDir('hubmill-plint-');
    await writeNotebook(dir, 'slow.ipynb', makeNotebook([code("import os, time\nwith open('kernel.pid', 'w') as f:\n    f.write(str(os.getpid()))\nfor _ in range(1200):\n    time.sleep(0.1)")]));
    await writeNotebook(dir, 'ok.ipynb', makeNotebook([code('print(1)')]));
    await writeFile(join(dir, 'p.yaml'), 'name: slow\ntasks:\n  - key: slow\n    notebook: slow.ipynb\n  - key: next\n    notebook: ok.ipynb\n    depends_on: [slow]\n');
    const child = spawn(process.execPath, [CLI, 'pipeline', 'run', join(dir, 'p.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    let timer: NodeJS.Timeout | undefined;
    try {
      const pidOf = () => Number(existsSync(join(dir, 'kernel.pid')) ? readFileSync(join(dir, 'kernel.pid'), 'utf8') : 0);
      assert.ok(await waitFor(() => pidOf() > 0 && out.includes('slow: running'), 60_000), out);
      const pid = pidOf();
      assert.ok(processAlive(pid));
      child.kill('SIGINT');
      const exitCode = await Promise.race([exited, new Promise<string>((r) => (timer = setTimeout(() => r('timeout'), 60_000)))]);
      assert.equal(exitCode, 1, out);
      assert.match(out, /SIGINT received, cancelling the run/);
      assert.match(out, /^task slow: cancelled/m);
      assert.match(out, /^run \S+ cancelled/m);
      assert.doesNotMatch(out, /^task next: running/m);
      assert.ok(await waitFor(() => !processAlive(pid), 15_000), 'the kernel is stopped');
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
