/**
 * `hubmill secrets rotate-key`: the real command (through tsx) on a SQLite
 * data dir, and the same function on a PostgreSQL schema. Every value is
 * re-sealed under the new key (the new key opens them, the old one no longer
 * starts), the rotation is audited, and bad input is a usage error (exit 2).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { secretStoreFor } from '../../src/store/open.js';
import { SecretVault } from '../../src/runner/secret-vault.js';
import { SecretKeyMismatchError } from '../../src/secrets/errors.js';
import { rotateKey } from '../../src/cli/secrets-command.js';
import { pgStore, PG_TEST_URL } from '../helpers/pg.js';

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'index.ts');
const ADMIN = { name: 'root', origin: null };

function hubmill(args: string[], env: Record<string, string>, input?: string) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HUBMILL_')));
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...clean, ...env }, input, encoding: 'utf8', timeout: 120_000 });
}

describe('hubmill secrets rotate-key', { timeout: 180_000 }, () => {
  it('re-seals every value of a SQLite data dir under the new key read from a file or stdin', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'hubmill-rotate-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const db = join(dir, 'data', 'jobs.sqlite');
    let jobs = new SqliteJobStore({ path: db });
    await new SecretVault(secretStoreFor(jobs), oldKey).create('user:alice', 'DB_PASSWORD', 'value-of-alice', ADMIN);
    await new SecretVault(secretStoreFor(jobs), oldKey).create('group:ops', 'OPS_TOKEN', 'value-of-ops', ADMIN);
    await jobs.close();
    const keyFile = join(dir, 'new.key');
    await writeFile(keyFile, `${newKey.toString('hex')}\n`);

    const bad = hubmill(['secrets', 'rotate-key', '--new-key-file', join(dir, 'missing'), '--data-dir', join(dir, 'data')], { HUBMILL_SECRET_KEY: oldKey.toString('base64') });
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /cannot read --new-key-file/);
    const noKey = hubmill(['secrets', 'rotate-key', '--new-key-file', keyFile, '--data-dir', join(dir, 'data')], {});
    assert.equal(noKey.status, 2, noKey.stderr);
    assert.match(noKey.stderr, /set HUBMILL_SECRET_KEY/);

    const r = hubmill(['secrets', 'rotate-key', '--new-key-file', keyFile, '--data-dir', join(dir, 'data')], { HUBMILL_SECRET_KEY: oldKey.toString('base64') });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /re-sealed 2 secret\(s\) under key [0-9a-f]{16}/);

    jobs = new SqliteJobStore({ path: db });
    t.after(() => jobs.close());
    const store = secretStoreFor(jobs);
    await assert.rejects(new SecretVault(store, oldKey).checkAtStart(), SecretKeyMismatchError);
    const fresh = new SecretVault(store, newKey);
    await fresh.checkAtStart();
    const opened = await fresh.openForJob({ id: 'j', username: 'alice', secrets: [{ name: 'DB_PASSWORD', scope: 'user:alice' }, { name: 'OPS_TOKEN', scope: 'group:ops' }] });
    assert.deepEqual(opened?.env, { DB_PASSWORD: 'value-of-alice', OPS_TOKEN: 'value-of-ops' });
    const audit = (await store.listAudit({ action: 'secret.rotate-key', limit: 5 })).entries;
    assert.equal(audit.length, 1);
    assert.match(audit[0]!.actor, /^cli:/);

    // From standard input, back to the old key (base64 this time).
    const back = hubmill(['secrets', 'rotate-key', '--new-key-file', '-', '--data-dir', join(dir, 'data')], { HUBMILL_SECRET_KEY: newKey.toString('hex') }, `${oldKey.toString('base64')}\n`);
    assert.equal(back.status, 0, back.stderr);
    await new SecretVault(store, oldKey).checkAtStart();
  });

  it('rotates a PostgreSQL store', async (t) => {
    const jobs = await pgStore(t);
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    await new SecretVault(secretStoreFor(jobs), oldKey).create('user:bob', 'API_KEY', 'value-of-bob', ADMIN);
    const dir = await mkdtemp(join(tmpdir(), 'hubmill-rotate-pg-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'k'), newKey.toString('base64'));
    const r = await rotateKey({ databaseUrl: `${PG_TEST_URL}?schema=${jobs.schema}`, dataDir: dir, secretKey: oldKey.toString('base64') }, { newKeyFile: join(dir, 'k') });
    assert.equal(r.count, 1);
    const fresh = new SecretVault(secretStoreFor(jobs), newKey);
    await fresh.checkAtStart();
    assert.deepEqual((await fresh.openForJob({ id: 'j', username: 'bob', secrets: [{ name: 'API_KEY', scope: 'user:bob' }] }))?.env, { API_KEY: 'value-of-bob' });
  });
});
