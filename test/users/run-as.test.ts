import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, statSync, readdirSync, symlinkSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chownToUser, lookupRunAs, parsePasswd } from '../../src/users/run-as.js';
import { reserveSeedOutput, seedOutputName, seedTimestamp } from '../../src/users/seed-output-name.js';

const PASSWD = `root:x:0:0:root:/root:/bin/bash
# comment
alice:x:1001:1002:Alice,,,:/home/alice:/bin/bash
broken:x:abc:1:::
`;

describe('run as the user', () => {
  test('parses passwd entries', () => {
    assert.deepEqual(parsePasswd(PASSWD, 'alice'), { uid: 1001, gid: 1002, home: '/home/alice', username: 'alice' });
    assert.equal(parsePasswd(PASSWD, 'ali'), null);
    assert.equal(parsePasswd(PASSWD, 'broken'), null);
  });

  test('only root gets a RunAs, and only for an existing system user', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hubmill-runas-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const passwdPath = join(dir, 'passwd');
    writeFileSync(passwdPath, PASSWD);
    assert.deepEqual(await lookupRunAs('alice', { isRoot: true, passwdPath, useGetent: false }), { uid: 1001, gid: 1002, home: '/home/alice', username: 'alice' });
    assert.equal(await lookupRunAs('alice', { isRoot: false, passwdPath }), null);
    assert.equal(await lookupRunAs('nobody-such-user', { isRoot: true, passwdPath, useGetent: false }), null);
    assert.equal(await lookupRunAs('../alice', { isRoot: true, passwdPath }), null);
  });

  test('finds real system users through /etc/passwd or getent when root', { skip: process.getuid?.() !== 0 && 'needs root (CI runs as root)' }, async () => {
    const nobody = await lookupRunAs('nobody');
    assert.equal(nobody?.uid, 65534);
    assert.equal(await lookupRunAs('hubmill-no-such-user-xyz'), null);
  });

  test('chownToUser gives the file to the user', { skip: process.getuid?.() !== 0 && 'needs root (CI runs as root)' }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hubmill-chown-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const f = join(dir, 'out.ipynb');
    writeFileSync(f, '{}');
    await chownToUser(f, { uid: 65534, gid: 65534, home: '/nonexistent', username: 'nobody' });
    assert.equal(statSync(f).uid, 65534);
    await chownToUser(f, null); // no-op
    assert.equal(statSync(f).uid, 65534);
  });
});

describe('seed output names', () => {
  const when = new Date(2024, 10, 19, 12, 0, 0);

  test('follow <stem>_output_<YYYYMMDD_HHMMSS>.ipynb', () => {
    assert.equal(seedTimestamp(when), '20241119_120000');
    assert.equal(seedOutputName('/home/t/notebooks/Test_notebook.ipynb', when), 'Test_notebook_output_20241119_120000.ipynb');
    assert.equal(seedOutputName('x.ipynb', when, 2), 'x_output_20241119_120000_2.ipynb');
  });

  test('never overwrite: concurrent reservations in the same second get distinct files', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hubmill-seedout-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'Test_notebook_output_20241119_120000.ipynb'), 'precious');
    const paths = await Promise.all(Array.from({ length: 20 }, () => reserveSeedOutput(dir, 'Test_notebook.ipynb', { now: when })));
    assert.equal(new Set(paths).size, 20);
    assert.ok(!paths.includes(join(dir, 'Test_notebook_output_20241119_120000.ipynb')));
    assert.equal(readFileSync(join(dir, 'Test_notebook_output_20241119_120000.ipynb'), 'utf8'), 'precious');
    assert.equal(readdirSync(dir).length, 21);
  });

  test('a symlink planted at the output name is not followed', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hubmill-seedout-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const victim = join(dir, 'victim');
    symlinkSync(victim, join(dir, 'nb_output_20241119_120000.ipynb'));
    const p = await reserveSeedOutput(dir, 'nb.ipynb', { now: when });
    assert.equal(p, join(dir, 'nb_output_20241119_120000_1.ipynb'));
    assert.ok(!readdirSync(dir).includes('victim'));
  });
});
