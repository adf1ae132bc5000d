import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { homePathFor, isValidUsername, ownHomeOutsideTemplate, resolveHome, validateHomeTemplate, validateUsername } from '../../src/users/home-path.js';
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

describe("the home of the user hubmill runs as, when the template has none (npm start as root)", () => {
  test('its passwd home, only when the template folder is missing and the passwd home exists', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hubmill-own-home-'));
    try {
      const template = join(root, 'homes', '{username}');
      mkdirSync(join(root, 'homes', 'alice'), { recursive: true });
      mkdirSync(join(root, 'root-home'));
      // Like root under /home/{username}: no template folder, a passwd home.
      const own = ownHomeOutsideTemplate(template, { username: 'root', homedir: join(root, 'root-home') + '/' });
      assert.deepEqual(own, { username: 'root', home: join(root, 'root-home') });
      assert.equal(homePathFor('root', template, own), join(root, 'root-home'));
      assert.equal(await resolveHome('root', template, own), join(root, 'root-home'));
      // Everyone else still by the template.
      assert.equal(homePathFor('alice', template, own), join(root, 'homes', 'alice'));
      await assert.rejects(resolveHome('bob', template, own), NotFoundError);
      // The template's folder exists: it wins. Neither exists, or an unusable entry: none.
      assert.equal(ownHomeOutsideTemplate(template, { username: 'alice', homedir: join(root, 'root-home') }), null);
      assert.equal(ownHomeOutsideTemplate(template, { username: 'root', homedir: join(root, 'missing') }), null);
      assert.equal(ownHomeOutsideTemplate(template, { username: 'root', homedir: 'relative' }), null);
      assert.equal(ownHomeOutsideTemplate(template, { username: '../x', homedir: join(root, 'root-home') }), null);
      // Without it, root has no home.
      await assert.rejects(resolveHome('root', template), NotFoundError);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
