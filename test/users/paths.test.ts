import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync, realpathSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInside, relativeToHome, resolveInside, splitUserPath } from '../../src/users/paths.js';
import { NotFoundError, UnsafePathError } from '../../src/errors.js';

let root: string;
let home: string;

before(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'hubmill-paths-')));
  home = join(root, 'alice');
  mkdirSync(join(home, 'notebooks', 'deep'), { recursive: true });
  mkdirSync(join(root, 'outside'));
  mkdirSync(join(root, 'alice2'));
  writeFileSync(join(root, 'outside', 'secret'), 'secret');
  writeFileSync(join(root, 'alice2', 'secret'), 'secret');
  writeFileSync(join(home, 'notebooks', 'a.ipynb'), '{}');
  writeFileSync(join(home, 'ノート.ipynb'), '{}');
  writeFileSync(join(home, '....'), 'dots are a fine name');
  symlinkSync('/etc', join(home, 'link-etc'));
  symlinkSync('../outside', join(home, 'link-out'));
  symlinkSync('../alice2', join(home, 'link-prefix'));
  symlinkSync('../outside/new-file', join(home, 'dangling'));
  symlinkSync('notebooks', join(home, 'link-inside'));
  symlinkSync('..', join(home, 'notebooks', 'up'));
  symlinkSync('../../outside', join(home, 'notebooks', 'deep', 'out'));
  symlinkSync('loop', join(home, 'loop'));
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('resolveInside', () => {
  test('resolves ordinary paths to real paths inside the home', async () => {
    assert.equal(await resolveInside(home, 'notebooks/a.ipynb'), join(home, 'notebooks', 'a.ipynb'));
    assert.equal(await resolveInside(home, './notebooks//a.ipynb'), join(home, 'notebooks', 'a.ipynb'));
    assert.equal(await resolveInside(home, 'notebooks/deep/../a.ipynb'), join(home, 'notebooks', 'a.ipynb'));
    assert.equal(await resolveInside(home, 'ノート.ipynb'), join(home, 'ノート.ipynb'));
    assert.equal(await resolveInside(home, '....'), join(home, '....'));
    assert.equal(await resolveInside(home, ''), home);
    assert.equal(await resolveInside(home, '.'), home);
  });

  test('follows symlinks that stay inside and returns the real path', async () => {
    assert.equal(await resolveInside(home, 'link-inside/a.ipynb'), join(home, 'notebooks', 'a.ipynb'));
    assert.equal(await resolveInside(home, 'notebooks/up/ノート.ipynb'), join(home, 'ノート.ipynb'));
  });

  test('checks the parent of an output that does not exist yet', async () => {
    assert.equal(await resolveInside(home, 'new/out.ipynb'), join(home, 'new', 'out.ipynb'));
    assert.equal(await resolveInside(home, 'link-inside/out.ipynb'), join(home, 'notebooks', 'out.ipynb'));
    await assert.rejects(resolveInside(home, 'link-out/out.ipynb'), UnsafePathError);
    await assert.rejects(resolveInside(home, 'new/out.ipynb', { mustExist: true }), NotFoundError);
  });

  test('a file used as a folder is not found', async () => {
    await assert.rejects(resolveInside(home, 'notebooks/a.ipynb/x'), NotFoundError);
  });

  test('a missing home is not found', async () => {
    await assert.rejects(resolveInside(join(root, 'nobody-here'), 'x.ipynb'), NotFoundError);
  });

  test('absolute paths only with allowAbsolute, and only inside the home', async () => {
    await assert.rejects(resolveInside(home, join(home, 'notebooks', 'a.ipynb')), UnsafePathError);
    assert.equal(await resolveInside(home, join(home, 'notebooks', 'a.ipynb'), { allowAbsolute: true }), join(home, 'notebooks', 'a.ipynb'));
    await assert.rejects(resolveInside(home, join(root, 'outside', 'secret'), { allowAbsolute: true }), UnsafePathError);
    await assert.rejects(resolveInside(home, `${home}/../outside/secret`, { allowAbsolute: true }), UnsafePathError);
    await assert.rejects(resolveInside(home, `${home}2/secret`, { allowAbsolute: true }), UnsafePathError);
    await assert.rejects(resolveInside(home, '/etc/passwd', { allowAbsolute: true }), UnsafePathError);
  });

  // Every entry either is refused or resolves inside realpath(home); none may name anything outside.
  const hostile: [string, 'unsafe' | 'notfound' | 'inside'][] = [
    ['..', 'unsafe'],
    ['../..', 'unsafe'],
    ['../alice2/secret', 'unsafe'],
    ['/etc/passwd', 'unsafe'],
    ['//etc/passwd', 'unsafe'],
    ['a/../../x', 'unsafe'],
    ['./../outside/secret', 'unsafe'],
    ['notebooks/../../outside/secret', 'unsafe'],
    ['notebooks/./../..', 'unsafe'],
    ['nb\0.ipynb', 'unsafe'],
    ['notebooks/a.ipynb\0.txt', 'unsafe'],
    ['line\nbreak.ipynb', 'unsafe'],
    ['link-etc', 'unsafe'],
    ['link-etc/passwd', 'unsafe'],
    // `..` is applied lexically before any symlink is looked at, so this names <home>/alice/notebooks/a.ipynb.
    ['link-etc/../alice/notebooks/a.ipynb', 'inside'],
    ['link-out', 'unsafe'],
    ['link-out/secret', 'unsafe'],
    ['link-prefix/secret', 'unsafe'],
    ['notebooks/deep/out/secret', 'unsafe'],
    ['dangling', 'unsafe'],
    ['loop', 'unsafe'],
    ['loop/x', 'unsafe'],
    ['~root', 'unsafe'],
    ['~root/.ssh/authorized_keys', 'unsafe'],
    ['~/x.ipynb', 'unsafe'],
    ['%2e%2e/outside/secret', 'unsafe'],
    ['%2E%2E%2Foutside', 'unsafe'],
    ['..%2fsecret', 'unsafe'],
    ['nb%00.ipynb', 'unsafe'],
    ['..\\outside\\secret', 'unsafe'],
    ['notebooks\\a.ipynb', 'unsafe'],
    ['x'.repeat(300), 'unsafe'],
    ['a/'.repeat(2100), 'unsafe'],
    ['é'.repeat(200), 'unsafe'], // 400 bytes in one segment
    ['..../outside', 'notfound'], // `....` is a file in the home
    ['....', 'inside'],
    ['ノート.ipynb', 'inside'],
    ['\u202etxt.ipynb', 'inside'],
    ['x'.repeat(255), 'inside'],
    ['notebooks/a.ipynb', 'inside'],
  ];
  for (const [p, expected] of hostile) {
    test(`hostile path ${JSON.stringify(p.length > 40 ? p.slice(0, 40) + '…' : p)} → ${expected}`, async () => {
      const realHome = realpathSync(home);
      let result: string | undefined;
      let error: unknown;
      try {
        result = await resolveInside(home, p);
      } catch (e) {
        error = e;
      }
      if (expected === 'inside') {
        assert.ok(result !== undefined, `expected a path, got ${String(error)}`);
        assert.ok(isInside(realHome, result), result);
      } else {
        assert.ok(error instanceof (expected === 'unsafe' ? UnsafePathError : NotFoundError), `expected ${expected}, got ${String(error ?? result)}`);
        assert.equal((error as UnsafePathError).httpStatus, expected === 'unsafe' ? 400 : 404);
        assert.ok(!String((error as Error).message).includes('\0'), 'no raw NUL in messages');
      }
    });
  }

  test('non-string input is refused', async () => {
    await assert.rejects(resolveInside(home, 42), UnsafePathError);
    await assert.rejects(resolveInside(home, null), UnsafePathError);
    await assert.rejects(resolveInside(home, ['a']), UnsafePathError);
  });

  test('nothing was created or changed outside the home by the corpus', () => {
    assert.deepEqual(readdirSync(join(root, 'outside')).sort(), ['secret']);
    assert.deepEqual(readdirSync(root).sort(), ['alice', 'alice2', 'outside']);
  });
});

describe('path helpers', () => {
  test('isInside compares whole segments', () => {
    assert.ok(isInside('/home/alice', '/home/alice'));
    assert.ok(isInside('/home/alice', '/home/alice/x'));
    assert.ok(!isInside('/home/alice', '/home/alice2'));
    assert.ok(!isInside('/home/alice', '/home'));
    assert.ok(isInside('/', '/etc'));
  });

  test('splitUserPath normalizes without touching the disk', () => {
    assert.deepEqual(splitUserPath('/h', 'a/./b/../c//d'), ['a', 'c', 'd']);
    assert.deepEqual(splitUserPath('/h', '/h/a/b', { allowAbsolute: true }), ['a', 'b']);
  });

  test('relativeToHome gives slash-separated relative paths', async () => {
    assert.equal(await relativeToHome(home, join(home, 'notebooks', 'a.ipynb')), 'notebooks/a.ipynb');
    assert.equal(await relativeToHome(home, join(home, '..x')), '..x');
    await assert.rejects(relativeToHome(home, join(root, 'outside')), UnsafePathError);
  });
});
