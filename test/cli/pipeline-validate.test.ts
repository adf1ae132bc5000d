/**
 * `hubmill pipeline validate` (dist/cli): the problems the API's 422 names,
 * each printed with its line in the YAML file, and the exit codes (0 valid,
 * 1 problems, 2 an unreadable file). Notebooks are read (their kernels and
 * parameters checked) but no kernel starts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { code, makeNotebook, tempDir, writeNotebook } from '../helpers/notebooks.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'index.js');
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does it)`);

function hubmill(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function project(): Promise<string> {
  const dir = await tempDir('hubmill-plval-');
  await mkdir(join(dir, 'nb'));
  await writeNotebook(join(dir, 'nb'), 'extract.ipynb', makeNotebook([code('rows = 1', ['parameters']), code('print(rows)')]));
  await writeNotebook(join(dir, 'nb'), 'train.ipynb', makeNotebook([code('lr = 0.1\ndepth = 1\nrows = 0', ['parameters']), code('print(lr)')]));
  await writeNotebook(join(dir, 'nb'), 'report.ipynb', makeNotebook([code('scores = []', ['parameters']), code('print(scores)')]));
  return dir;
}

const VALID = `name: sweep
parameters:
  rows: 10
tasks:
  - key: extract
    notebook: nb/extract.ipynb
  - key: sweep
    notebook: nb/train.ipynb
    depends_on: [extract]
    parameters:
      rows: "{{tasks.extract.result.rows}}"
    for_each:
      grid: {lr: [0.1, 0.01], depth: [2, 4]}
  - key: report
    notebook: nb/report.ipynb
    depends_on: [sweep]
    parameters:
      scores: "{{tasks.sweep.result.score}}"
`;

/** A pipeline of `tasks` (YAML lines, indented under `tasks:`), the task list starting on line 3. */
const pipeline = (...tasks: string[]) => `name: p\ntasks:\n${tasks.join('\n')}\n`;

describe('hubmill pipeline validate', () => {
  test('a valid YAML file exits 0 and names its tasks; JSON is read too, with --json for machines', async () => {
    const dir = await project();
    await writeFile(join(dir, 'ok.yaml'), VALID);
    const r = hubmill(['pipeline', 'validate', join(dir, 'ok.yaml')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ok\.yaml: valid: 3 tasks \(extract, sweep, report\)/);
    await writeFile(join(dir, 'ok.json'), JSON.stringify({ name: 'j', tasks: [{ key: 'a', notebook: 'nb/extract.ipynb', timeout_s: 60 }] }));
    const j = hubmill(['pipeline', 'validate', join(dir, 'ok.json'), '--json']);
    assert.equal(j.code, 0, j.stdout + j.stderr);
    assert.deepEqual(JSON.parse(j.stdout).problems, []);
    // --home: the notebook paths are relative to it, not to the file's folder.
    await mkdir(join(dir, 'elsewhere'));
    await writeFile(join(dir, 'elsewhere', 'ok.yaml'), VALID);
    assert.equal(hubmill(['pipeline', 'validate', join(dir, 'elsewhere', 'ok.yaml')]).code, 1);
    assert.equal(hubmill(['pipeline', 'validate', join(dir, 'elsewhere', 'ok.yaml'), '--home', dir]).code, 0);
  });

  test('each kind of problem is printed with its task, path and line, and exits 1', async () => {
    const dir = await project();
    const many = Array.from({ length: 1025 }, (_, i) => i).join(', ');
    const cases: Array<{ name: string; yaml: string; line: number; task: string | null; pattern: RegExp }> = [
      {
        name: 'cycle',
        yaml: pipeline('  - key: a', '    notebook: nb/extract.ipynb', '    depends_on: [b]', '  - key: b', '    notebook: nb/extract.ipynb', '    depends_on: [a]'),
        line: 5,
        task: 'a',
        pattern: /cycle.*\ba\b.*\bb\b/i,
      },
      {
        name: 'unknown depends_on',
        yaml: pipeline('  - key: a', '    notebook: nb/extract.ipynb', '    depends_on:', '      - nope'),
        line: 6,
        task: 'a',
        pattern: /nope/,
      },
      {
        name: 'duplicate key',
        yaml: pipeline('  - key: a', '    notebook: nb/extract.ipynb', '  - key: a', '    notebook: nb/extract.ipynb'),
        line: 5,
        task: 'a',
        pattern: /duplicate|more than once|twice/i,
      },
      {
        name: 'bad key',
        yaml: pipeline('  - key: "a b"', '    notebook: nb/extract.ipynb'),
        line: 3,
        task: 'a b',
        pattern: /key/i,
      },
      {
        name: 'reference to a task not upstream',
        yaml: pipeline('  - key: a', '    notebook: nb/extract.ipynb', '  - key: b', '    notebook: nb/train.ipynb', '    parameters:', '      rows: "{{tasks.a.result.rows}}"'),
        line: 8,
        task: 'b',
        pattern: /upstream/i,
      },
      {
        name: 'unknown pipeline parameter',
        yaml: pipeline('  - key: a', '    notebook: nb/train.ipynb', '    parameters:', '      rows: "{{parameters.nope}}"'),
        line: 6,
        task: 'a',
        pattern: /nope/,
      },
      {
        name: 'missing notebook',
        yaml: pipeline('  - key: a', '    notebook: nb/missing.ipynb'),
        line: 4,
        task: 'a',
        pattern: /missing\.ipynb/,
      },
      {
        name: 'a parameter name Python cannot take',
        yaml: pipeline('  - key: a', '    notebook: nb/extract.ipynb', '    parameters:', '      "not a name": 1'),
        line: 6,
        task: 'a',
        pattern: /not a name/,
      },
      {
        name: 'a literal for_each over 1,024 items',
        yaml: pipeline('  - key: a', '    notebook: nb/extract.ipynb', '    parameters: {rows: "{{item}}"}', '    for_each:', `      items: [${many}]`),
        line: 7,
        task: 'a',
        pattern: /1,?024/,
      },
      {
        name: 'an unknown run_if',
        yaml: pipeline('  - key: a', '    notebook: nb/extract.ipynb', '  - key: b', '    notebook: nb/extract.ipynb', '    depends_on: [a]', '    run_if: sometimes'),
        line: 8,
        task: 'b',
        pattern: /sometimes/,
      },
      {
        name: 'an unquoted reference (YAML reads it as a mapping)',
        yaml: pipeline('  - key: a', '    notebook: nb/train.ipynb', '    parameters:', '      rows: {{tasks.x.result.y}}'),
        line: 6,
        task: 'a',
        pattern: /quoted/,
      },
    ];
    for (const c of cases) {
      const file = join(dir, `${c.name.replace(/\W+/g, '-')}.yaml`);
      await writeFile(file, c.yaml);
      const r = hubmill(['pipeline', 'validate', file]);
      assert.equal(r.code, 1, `${c.name}: ${r.stdout}${r.stderr}`);
      const expected = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${c.line}:${c.task ? ` task ${c.task}:` : ''} .+?: .+$`, 'm');
      assert.match(r.stdout, expected, `${c.name}: ${r.stdout}`);
      const own = r.stdout.split('\n').find((l) => expected.test(l))!;
      assert.match(own, c.pattern, `${c.name}: ${own}`);
      assert.match(r.stdout, /\d+ problems? in /, c.name);
    }
  });

  test('more than 1,000 tasks is one problem for the pipeline, found without reading 1,001 notebooks', async () => {
    const dir = await project();
    const tasks = Array.from({ length: 1001 }, (_, i) => `  - {key: t${i}, notebook: nb/missing-${i}.ipynb}`);
    await writeFile(join(dir, 'big.yaml'), pipeline(...tasks));
    const r = hubmill(['pipeline', 'validate', join(dir, 'big.yaml'), '--json']);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.valid, false);
    assert.ok(out.problems.some((p: { message: string }) => /1,?000/.test(p.message)), r.stdout);
    assert.ok(!out.problems.some((p: { message: string }) => /missing-/.test(p.message)), 'no notebook was read');
  });

  test('an unreadable file exits 2: missing, not YAML (with its line), not a mapping', async () => {
    const dir = await project();
    const missing = hubmill(['pipeline', 'validate', join(dir, 'nope.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.yaml: cannot read the pipeline file \(ENOENT\)/);
    await writeFile(join(dir, 'broken.yaml'), 'name: p\ntasks:\n  - key: a\n    notebook: [unclosed\n');
    const broken = hubmill(['pipeline', 'validate', join(dir, 'broken.yaml')]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /broken\.yaml:\d+: not valid YAML or JSON/);
    await writeFile(join(dir, 'list.yaml'), '- a\n- b\n');
    const list = hubmill(['pipeline', 'validate', join(dir, 'list.yaml')]);
    assert.equal(list.code, 2);
    assert.match(list.stderr, /a pipeline file is a mapping/);
    assert.equal(hubmill(['pipeline', 'validate']).code, 2);
    assert.equal(hubmill(['pipeline', 'frobnicate', 'x']).code, 2);
    assert.equal(hubmill(['pipeline', '--help']).code, 0);
  });
});
