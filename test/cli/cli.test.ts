import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { code, makeNotebook, processAlive, tempDir, waitFor, writeNotebook } from '../helpers/notebooks.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'index.js');
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does it)`);

function hubmill(args: string[], opts: { input?: string; cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { input: opts.input, cwd: opts.cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Json = Record<string, any>;
const readJson = async (p: string) => JSON.parse(await readFile(p, 'utf8')) as Json;

describe('hubmill run (papermill options)', () => {
  test('-p typing, -r, -y, -f, -b precedence, and output templating from parameters', async () => {
    const dir = await tempDir();
    const input = await writeNotebook(dir, 'in.ipynb', makeNotebook([code('a = 0', ['parameters']), code('print(repr(a), repr(b), repr(c), repr(d), repr(e), repr(f))')]));
    const yamlFile = join(dir, 'p.yaml');
    await writeFile(yamlFile, 'd: 2019-01-01\ne: yes\nb: from-file\n');
    const b64 = Buffer.from('f: [1, 2]\nc: from-b64').toString('base64');
    const r = hubmill(['run', input, join(dir, 'out_{a}.ipynb'), '-p', 'a', '1e3', '-r', 'b', '5', '-y', 'c: from-yaml', '-f', yamlFile, '-b', b64, '--no-progress-bar']);
    assert.equal(r.code, 0, r.stderr);
    const out = await readJson(join(dir, 'out_1000.0.ipynb'));
    assert.equal(out.cells[2].outputs[0].text, "1000.0 '5' 'from-yaml' '2019-01-01' True [1, 2]\n");
    assert.deepEqual(Object.keys(out.metadata.papermill.parameters).sort(), ['a', 'b', 'c', 'd', 'e', 'f']);
  });

  test('true stays a string, True becomes a bool, 0x10 stays a string', async () => {
    const dir = await tempDir();
    const input = await writeNotebook(dir, 'in.ipynb', makeNotebook([code('x = 0', ['parameters']), code('print(repr(x), repr(y), repr(z))')]));
    const r = hubmill(['run', input, join(dir, 'o.ipynb'), '-p', 'x', 'true', '-p', 'y', 'True', '-p', 'z', '0x10']);
    assert.equal(r.code, 0, r.stderr);
    const out = await readJson(join(dir, 'o.ipynb'));
    assert.equal(out.cells[2].outputs[0].text, "'true' True '0x10'\n");
  });

  test("'-' reads the notebook from stdin and writes the output to stdout", async () => {
    const nb = JSON.stringify(makeNotebook([code('print(6*7)')]));
    const r = hubmill(['run', '-', '-'], { input: nb });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.cells[0].outputs[0].text, '42\n');
  });

  test('an execution failure exits 1 with the failing cell and a colourless traceback on stderr', async () => {
    const dir = await tempDir();
    const input = await writeNotebook(dir, 'in.ipynb', makeNotebook([code('x = 1', ['parameters']), code('def f():\n    raise KeyError("missing")\nf()')]));
    const r = hubmill(['run', input, join(dir, 'o.ipynb'), '-p', 'x', '2']);
    assert.equal(r.code, 1);
    // Named as everywhere: the index in the input notebook (the injected cell not counted), then In [n].
    assert.match(r.stderr, /Exception encountered at cell 1 \(In \[3\]\):/);
    assert.match(r.stderr, /KeyError: 'missing'/);
    assert.ok(!r.stderr.includes('\u001b['), 'no ANSI codes');
    assert.ok(existsSync(join(dir, 'o.ipynb')));
  });

  test('bad usage and bad input exit 2 with a clear message naming the problem', async () => {
    const dir = await tempDir();
    const notJson = join(dir, 'broken.ipynb');
    await writeFile(notJson, '{"cells": [');
    const v3 = join(dir, 'v3.ipynb');
    await writeFile(v3, JSON.stringify({ nbformat: 3, nbformat_minor: 0, worksheets: [], metadata: {} }));
    const ok = await writeNotebook(dir, 'ok.ipynb', makeNotebook([code('1')]));
    const cases: Array<[string[], RegExp]> = [
      [['run'], /Missing argument/],
      [['run', ok, join(dir, 'o.ipynb'), '--bogus'], /No such option: --bogus/],
      [['run', ok, join(dir, 'o.ipynb'), '-p', 'only-name'], /requires 2 arguments/],
      [['run', notJson, join(dir, 'o.ipynb')], /broken\.ipynb/],
      [['run', v3, join(dir, 'o.ipynb')], /nbformat 3/],
      [['run', join(dir, 'missing.ipynb'), join(dir, 'o.ipynb')], /missing\.ipynb/],
      [['run', ok, join(dir, 'o.ipynb'), '-k', 'no-such-kernel'], /No such kernel named 'no-such-kernel'/],
      [['run', ok, join(dir, 'o_{nope}.ipynb')], /Missing parameter 'nope'/],
      [['run', ok, join(dir, 'o.ipynb'), '-y', '- not a mapping'], /mapping/i],
      [['run', ok, join(dir, 'o.ipynb'), '--execution-timeout', 'soon'], /execution-timeout/],
    ];
    for (const [args, pattern] of cases) {
      const r = hubmill(args);
      assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, pattern, args.join(' '));
    }
  });

  test('--prepare-only, --report-mode, --cwd, --stdout-file and --log-output', async () => {
    const dir = await tempDir();
    const work = await tempDir();
    const input = await writeNotebook(dir, 'in.ipynb', makeNotebook([code('n = 1', ['parameters']), code('import os\nprint(os.getcwd())\nprint(n)')]));
    const prep = hubmill(['run', input, join(dir, 'prep.ipynb'), '-p', 'n', '5', '--prepare-only']);
    assert.equal(prep.code, 0, prep.stderr);
    const p = await readJson(join(dir, 'prep.ipynb'));
    assert.equal(p.cells[2].execution_count, null);
    assert.equal(p.cells[1].source.join ? p.cells[1].source.join('') : p.cells[1].source, '# Parameters\nn = 5\n');
    const r = hubmill(['run', input, join(dir, 'o.ipynb'), '--cwd', work, '--report-mode', '--stdout-file', join(dir, 'stdout.txt'), '--log-output']);
    assert.equal(r.code, 0, r.stderr);
    const o = await readJson(join(dir, 'o.ipynb'));
    assert.equal(o.cells[1].metadata.jupyter.source_hidden, true);
    assert.equal(await readFile(join(dir, 'stdout.txt'), 'utf8'), `${work}\n1\n`);
    assert.match(r.stderr, new RegExp(`${work}\\n1\\n`));
  });

  test('--stdout-file takes a 6 MiB stream message whole, written piece by piece', async () => {
    const dir = await tempDir();
    // One message over the large-message threshold: its text is read from the frame in slices (kernel/large-stream.ts).
    const input = await writeNotebook(dir, 'in.ipynb', makeNotebook([code("import sys\nsys.stdout.write(''.join('%1023d\\n' % i for i in range(6 * 1024)))\nsys.stdout.flush()")]));
    const r = hubmill(['run', input, join(dir, 'o.ipynb'), '--stdout-file', join(dir, 'stdout.txt')]);
    assert.equal(r.code, 0, r.stderr);
    const expected = Array.from({ length: 6 * 1024 }, (_, i) => `${String(i).padStart(1023)}\n`).join('');
    assert.ok((await readFile(join(dir, 'stdout.txt'), 'utf8')) === expected, 'the stdout file holds the whole text, in order');
  });

  test('--help-notebook and inspect print the parameters; inspect --json for machines', async () => {
    const dir = await tempDir();
    const input = await writeNotebook(dir, 'in.ipynb', makeNotebook([code('lr: float = 0.01  # learning rate\nepochs = 10  # type: int\nname = "x"', ['parameters']), code('1')]));
    const h = hubmill(['run', input, '--help-notebook']);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /lr: float \(default 0\.01\)\s+learning rate/);
    const j = hubmill(['inspect', input, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const parsed = JSON.parse(j.stdout);
    assert.deepEqual(parsed.parameters.map((p: Json) => [p.name, p.inferred_type_name, p.default, p.help]), [
      ['lr', 'float', '0.01', 'learning rate'],
      ['epochs', 'int', '10', ''],
      ['name', 'None', '"x"', ''],
    ]);
    const none = await writeNotebook(dir, 'none.ipynb', makeNotebook([code('1')]));
    const n = hubmill(['inspect', none]);
    assert.notEqual(n.code, 0);
    assert.match(n.stdout + n.stderr, /parameters/);
  });

  test('--inject-paths adds PAPERMILL_INPUT_PATH and PAPERMILL_OUTPUT_PATH, explicit parameters still win', async () => {
    const dir = await tempDir();
    const input = await writeNotebook(dir, 'in.ipynb', makeNotebook([code('x = 0', ['parameters']), code('print(PAPERMILL_INPUT_PATH, PAPERMILL_OUTPUT_PATH)')]));
    const out = join(dir, 'o.ipynb');
    const r = hubmill(['run', input, out, '--inject-paths', '-p', 'PAPERMILL_OUTPUT_PATH', 'mine']);
    assert.equal(r.code, 0, r.stderr);
    const o = await readJson(out);
    assert.equal(o.cells[2].outputs[0].text, `${input} mine\n`);
  });

  test('kernelspecs lists the installed kernels', () => {
    const r = hubmill(['kernelspecs']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /python3/);
    assert.match(r.stdout, /\bir\b/);
    const j = JSON.parse(hubmill(['kernelspecs', '--json']).stdout);
    assert.ok(j.kernelspecs.some((s: Json) => s.name === 'python3'));
  });
});

describe('no orphan kernels', () => {
  for (const kernel of ['python3', 'ir'] as const) {
    test(`SIGKILL of the CLI mid-run takes the ${kernel} kernel with it within seconds`, async () => {
      const dir = await tempDir();
      const pidFile = join(dir, 'kernel.pid');
      const cell = kernel === 'python3'
        ? `import os, time\nopen(${JSON.stringify(pidFile)}, "w").write(str(os.getpid()))\ntime.sleep(120)`
        : `writeLines(as.character(Sys.getpid()), ${JSON.stringify(pidFile)})\nSys.sleep(120)`;
      const input = await writeNotebook(dir, 'in.ipynb', makeNotebook([code(cell)], kernel));
      const child = spawn(process.execPath, [CLI, 'run', input, join(dir, 'o.ipynb')], { stdio: 'ignore' });
      try {
        assert.ok(await waitFor(() => existsSync(pidFile) && (require_read(pidFile) ?? '') !== '', 30_000), 'kernel started');
        const kernelPid = Number(require_read(pidFile));
        assert.ok(processAlive(kernelPid));
        child.kill('SIGKILL');
        assert.ok(await waitFor(() => !processAlive(kernelPid), 8000, 100), `kernel ${kernelPid} outlived the CLI`);
      } finally {
        child.kill('SIGKILL');
      }
    });
  }
});

import { readFileSync } from 'node:fs';
function require_read(p: string): string | null {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return null;
  }
}
