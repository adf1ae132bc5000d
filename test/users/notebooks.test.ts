import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync, realpathSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNotebookByName, listNotebooks, localIsoSeconds } from '../../src/users/notebook-listing.js';
import { NotFoundError, UnsafePathError } from '../../src/errors.js';

let root: string;
let home: string;

before(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'hubmill-nbs-')));
  home = join(root, 'testuser');
  mkdirSync(join(home, 'notebooks', 'deeper'), { recursive: true });
  mkdirSync(join(home, 'a-first'), { recursive: true });
  mkdirSync(join(home, '.ipynb_checkpoints'));
  mkdirSync(join(home, '.hidden'));
  mkdirSync(join(root, 'outside'));
  writeFileSync(join(home, 'Test_notebook.ipynb'.replace('Test', 'Top')), '{"x":1}');
  writeFileSync(join(home, 'notebooks', 'Test_notebook.ipynb'), '{"cells":[]}');
  writeFileSync(join(home, 'notebooks', 'deeper', 'Test_notebook.ipynb'), '{}');
  writeFileSync(join(home, 'a-first', 'dup.ipynb'), '{}');
  writeFileSync(join(home, 'notebooks', 'dup.ipynb'), '{}');
  writeFileSync(join(home, 'notebooks', 'readme.md'), 'no');
  writeFileSync(join(home, '.ipynb_checkpoints', 'Test_notebook-checkpoint.ipynb'), '{}');
  writeFileSync(join(home, '.hidden', 'secret.ipynb'), '{}');
  writeFileSync(join(root, 'outside', 'escape.ipynb'), '{}');
  symlinkSync('../outside', join(home, 'outside-dir'));
  symlinkSync('../outside/escape.ipynb', join(home, 'escape.ipynb'));
  symlinkSync('notebooks/dup.ipynb', join(home, 'alias.ipynb'));
  symlinkSync('..', join(home, 'notebooks', 'loop'));
  utimesSync(join(home, 'notebooks', 'Test_notebook.ipynb'), new Date(2024, 10, 19, 10, 30, 0), new Date(2024, 10, 19, 10, 30, 0));
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('listNotebooks', () => {
  test('lists notebooks recursively with the seed fields, skipping hidden folders and escapes', async () => {
    const list = await listNotebooks(home);
    assert.deepEqual(list.map((n) => n.relative_path), [
      'Top_notebook.ipynb',
      'a-first/dup.ipynb',
      'alias.ipynb',
      'notebooks/Test_notebook.ipynb',
      'notebooks/deeper/Test_notebook.ipynb',
      'notebooks/dup.ipynb',
    ]);
    const nb = list.find((n) => n.relative_path === 'notebooks/Test_notebook.ipynb')!;
    assert.deepEqual(nb, {
      name: 'Test_notebook.ipynb',
      path: join(home, 'notebooks', 'Test_notebook.ipynb'),
      relative_path: 'notebooks/Test_notebook.ipynb',
      size: 12,
      modified: '2024-11-19T10:30:00',
    });
  });

  test('is bounded in depth and count', async () => {
    assert.deepEqual((await listNotebooks(home, { maxDepth: 0 })).map((n) => n.relative_path), ['Top_notebook.ipynb', 'alias.ipynb']);
    assert.equal((await listNotebooks(home, { maxCount: 3 })).length, 3);
  });

  test('a missing home is not found', async () => {
    await assert.rejects(listNotebooks(join(root, 'nobody')), NotFoundError);
  });

  test('formats local naive times like Python isoformat without microseconds', () => {
    assert.equal(localIsoSeconds(new Date(2024, 0, 2, 3, 4, 5, 678).getTime()), '2024-01-02T03:04:05');
  });
});

describe('findNotebookByName', () => {
  test('finds a bare name anywhere, shallowest first', async () => {
    const found = await findNotebookByName(home, 'Test_notebook.ipynb');
    assert.equal(found.relative_path, 'notebooks/Test_notebook.ipynb');
    assert.equal(found.path, join(home, 'notebooks', 'Test_notebook.ipynb'));
  });
  test('same depth: alphabetical path wins', async () => {
    assert.equal((await findNotebookByName(home, 'dup.ipynb')).relative_path, 'a-first/dup.ipynb');
  });
  test('accepts the name without .ipynb', async () => {
    assert.equal((await findNotebookByName(home, 'Top_notebook')).relative_path, 'Top_notebook.ipynb');
  });
  test('takes a relative path', async () => {
    assert.equal((await findNotebookByName(home, 'notebooks/deeper/Test_notebook.ipynb')).relative_path, 'notebooks/deeper/Test_notebook.ipynb');
  });
  test('never finds hidden, escaping or missing notebooks', async () => {
    await assert.rejects(findNotebookByName(home, 'secret.ipynb'), NotFoundError);
    await assert.rejects(findNotebookByName(home, 'escape.ipynb'), NotFoundError);
    await assert.rejects(findNotebookByName(home, 'Test_notebook-checkpoint.ipynb'), NotFoundError);
    await assert.rejects(findNotebookByName(home, 'nope.ipynb'), NotFoundError);
    await assert.rejects(findNotebookByName(home, 'notebooks'), NotFoundError);
  });
  test('refuses hostile names', async () => {
    await assert.rejects(findNotebookByName(home, '../outside/escape.ipynb'), UnsafePathError);
    await assert.rejects(findNotebookByName(home, 'outside-dir/escape.ipynb'), UnsafePathError);
    await assert.rejects(findNotebookByName(home, '/etc/passwd'), UnsafePathError);
    await assert.rejects(findNotebookByName(home, 'a\0.ipynb'), UnsafePathError);
    await assert.rejects(findNotebookByName(home, '..'), UnsafePathError);
    await assert.rejects(findNotebookByName(home, ''), UnsafePathError);
  });
});
