import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { homePathFor, isValidUsername, resolveHome, validateHomeTemplate, validateUsername } from '../../src/users/home.js';
import { InvalidUsernameError, NotFoundError, UsageError } from '../../src/errors.js';

describe('usernames', () => {
  test('accepts JupyterHub-style names', () => {
    for (const n of ['testuser', 'alice', 'a', 'ana@example.org', 'first.last', 'user_1', '_svc', 'x-y+z', 'Bob', '0day', 'a'.repeat(64)]) {
      assert.equal(validateUsername(n), n);
    }
  });
  test('refuses names that could be something other than one path segment', () => {
    for (const n of ['', '.', '..', 'a..b', '../root', 'a/b', 'a\\b', 'a\0b', ' a', 'a b', '-rf', '.hidden', '~root', 'a%2fb', '{username}', 'a\nb', 'a'.repeat(65), 'ünï', 42, null, undefined]) {
      assert.equal(isValidUsername(n), false, String(n));
      assert.throws(() => validateUsername(n), InvalidUsernameError);
    }
  });
  test('an invalid username is a 400', () => {
    try {
      validateUsername('../x');
      assert.fail('should throw');
    } catch (e) {
      assert.equal((e as InvalidUsernameError).httpStatus, 400);
    }
  });
});

describe('home folders', () => {
  test('fills the template', () => {
    assert.equal(homePathFor('testuser'), '/home/testuser');
    assert.equal(homePathFor('ana@example.org', '/srv/users/{username}/'), '/srv/users/ana@example.org');
    assert.equal(homePathFor('bob', '/data/{username}/work'), '/data/bob/work');
  });
  test('refuses unsafe templates', () => {
    assert.throws(() => validateHomeTemplate('home/{username}'), UsageError);
    assert.throws(() => validateHomeTemplate('/home/user'), UsageError);
    assert.throws(() => validateHomeTemplate('/home/u-{username}'), UsageError);
    assert.throws(() => validateHomeTemplate('/home/../{username}'), UsageError);
  });
  test('resolveHome needs an existing folder', async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'hubmill-home-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(join(root, 'alice'));
    writeFileSync(join(root, 'file'), '');
    const template = join(root, '{username}');
    assert.equal(await resolveHome('alice', template), join(root, 'alice'));
    await assert.rejects(resolveHome('bob', template), NotFoundError);
    await assert.rejects(resolveHome('file', template), NotFoundError);
    await assert.rejects(resolveHome('../alice', template), InvalidUsernameError);
  });
});
