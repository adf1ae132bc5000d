/**
 * The secret store and audit record on both databases (SQLite file, PostgreSQL
 * schema), through the vault: values sealed with AES-256-GCM (the row never
 * holds the value), a wrong key refused, no key → 503 on write and an error at
 * start, key rotation re-seals every value, names resolved for jobs (422 when
 * the owner cannot read one), and every change and use audited without a value.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { secretStoreFor } from '../../src/store/open.js';
import type { AuditStore, SecretStore } from '../../src/store/secret-store.js';
import { SecretVault } from '../../src/runner/secret-vault.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { SecretDecryptError, SecretKeyMismatchError, SecretKeyMissingError, SecretRefusedError } from '../../src/secrets/errors.js';
import { adminQuery, pgStore } from '../helpers/pg.js';

type Hooks = { after(fn: () => void | Promise<void>): void };
type Backend = { name: string; open(t: Hooks): Promise<{ store: SecretStore & AuditStore; rawRows(): Promise<Record<string, unknown>[]> }> };

const BACKENDS: Backend[] = [
  {
    name: 'SQLite',
    async open(t) {
      const dir = await mkdtemp(join(tmpdir(), 'hubmill-secrets-'));
      const jobs = new SqliteJobStore({ path: join(dir, 'jobs.sqlite') });
      t.after(async () => {
        await jobs.close();
        await rm(dir, { recursive: true, force: true });
      });
      return { store: secretStoreFor(jobs), rawRows: async () => jobs.connection().prepare('SELECT * FROM secrets').all() as Record<string, unknown>[] };
    },
  },
  {
    name: 'PostgreSQL',
    async open(t) {
      const jobs = await pgStore(t);
      return { store: secretStoreFor(jobs), rawRows: () => adminQuery(`SELECT * FROM ${jobs.schema}.secrets`) };
    },
  },
];

const ALICE = { name: 'alice', origin: '10.0.0.7' };
const ADMIN = { name: 'root', origin: '10.0.0.1' };
const VALUE = 'pg-pass/w0rd+with spaces';

for (const b of BACKENDS) {
  describe(`secrets on ${b.name}`, { timeout: 60_000 }, () => {
    it('seals each value with a fresh nonce, opens it with the key, refuses another key, and audits every change and use without a value', async (t) => {
      const { store, rawRows } = await b.open(t);
      const key = randomBytes(32);
      const vault = new SecretVault(store, key);
      await vault.create('user:alice', 'DB_PASSWORD', VALUE, ALICE);
      await vault.create('user:bob', 'DB_PASSWORD', VALUE, ADMIN);
      const rows = await rawRows();
      assert.equal(rows.length, 2);
      for (const r of rows) {
        assert.ok(!JSON.stringify(r).includes(VALUE), 'no plain value in the row');
        assert.ok(!JSON.stringify(r).includes(Buffer.from(VALUE).toString('base64')), 'no encoded value in the row');
      }
      assert.notEqual(rows[0]!.sealed, rows[1]!.sealed, 'one nonce per value');

      const opened = await vault.openForJob({ id: 'job_1', username: 'alice', secrets: [{ name: 'DB_PASSWORD', scope: 'user:alice' }] });
      assert.deepEqual(opened?.env, { DB_PASSWORD: VALUE });

      const wrong = new SecretVault(store, randomBytes(32));
      await assert.rejects(wrong.openForJob({ id: 'job_2', username: 'alice', secrets: [{ name: 'DB_PASSWORD', scope: 'user:alice' }] }), SecretDecryptError);
      await assert.rejects(wrong.checkAtStart(), SecretKeyMismatchError);
      // A value moved to another row does not open there (scope and name are the additional data).
      const sealed = rows.find((r) => r.scope === 'user:alice')!.sealed as string;
      assert.throws(() => new SecretCipher(key).open(sealed, 'user:bob', 'DB_PASSWORD'), SecretDecryptError);

      await vault.update('user:alice', 'DB_PASSWORD', 'n3w-value!', ALICE);
      await vault.delete('user:bob', 'DB_PASSWORD', ADMIN);
      const { entries } = await store.listAudit({ limit: 100 });
      assert.deepEqual(
        entries.map((e) => [e.action, e.actor, e.target, e.origin]).reverse(),
        [
          ['secret.create', 'alice', 'secret:user:alice/DB_PASSWORD', '10.0.0.7'],
          ['secret.create', 'root', 'secret:user:bob/DB_PASSWORD', '10.0.0.1'],
          ['secret.use', 'alice', 'secret:user:alice/DB_PASSWORD', 'job:job_1'],
          ['secret.update', 'alice', 'secret:user:alice/DB_PASSWORD', '10.0.0.7'],
          ['secret.delete', 'root', 'secret:user:bob/DB_PASSWORD', '10.0.0.1'],
        ],
      );
      assert.ok(!JSON.stringify(entries).includes(VALUE) && !JSON.stringify(entries).includes('n3w-value!'), 'the audit record holds no value');
      // Filters and paging.
      const alices = await store.listAudit({ actor: 'alice', limit: 1 });
      assert.equal(alices.entries.length, 1);
      assert.ok(alices.next_cursor);
      const next = await store.listAudit({ actor: 'alice', limit: 10, cursor: alices.next_cursor! });
      assert.equal(next.entries.length, 2);
      assert.ok(next.entries.every((e) => e.at_ms <= alices.entries[0]!.at_ms && e.id !== alices.entries[0]!.id));
      assert.equal((await store.listAudit({ action: 'secret.use', target_prefix: 'secret:user:alice/', limit: 10 })).entries.length, 1);
      // recordAudit: the entry point other features record with.
      const e = await store.recordAudit({ actor: 'carol', action: 'permissions.change', target: 'schedule:sch_1', origin: '::1', detail: { level: 'run' } });
      assert.deepEqual((await store.listAudit({ action: 'permissions.change', limit: 5 })).entries, [e]);
    });

    it('without a key: a write answers 503 naming the setting, and a store holding secrets refuses to start', async (t) => {
      const { store } = await b.open(t);
      const none = new SecretVault(store, null);
      await none.checkAtStart(); // nothing stored: fine
      await assert.rejects(none.create('user:alice', 'TOKEN', VALUE, ALICE), (err: unknown) => {
        assert.ok(err instanceof SecretKeyMissingError);
        assert.equal(err.httpStatus, 503);
        assert.match(err.message, /HUBMILL_SECRET_KEY/);
        return true;
      });
      await new SecretVault(store, randomBytes(32)).create('user:alice', 'TOKEN', VALUE, ALICE);
      await assert.rejects(none.checkAtStart(), (err: unknown) => err instanceof SecretKeyMismatchError && /1 secret\(s\) but no secret key is configured: set HUBMILL_SECRET_KEY/.test(err.message));
    });

    it('rotate-key re-seals every value under the new key in one transaction; the old key then refuses to start', async (t) => {
      const { store, rawRows } = await b.open(t);
      const oldKey = randomBytes(32);
      const newKey = randomBytes(32);
      const old = new SecretVault(store, oldKey);
      await old.create('user:alice', 'A_ONE', 'value-one', ALICE);
      await old.create('group:analysts', 'A_TWO', 'value-two', ADMIN);
      const before = (await rawRows()).map((r) => r.sealed);
      assert.equal(await old.rotate(newKey, ADMIN), 2);
      const after = await rawRows();
      assert.ok(after.every((r) => !before.includes(r.sealed)));
      const fresh = new SecretVault(store, newKey);
      await fresh.checkAtStart();
      await assert.rejects(old.checkAtStart(), SecretKeyMismatchError);
      const opened = await fresh.openForJob({ id: 'j', username: 'alice', secrets: [{ name: 'A_ONE', scope: 'user:alice' }, { name: 'A_TWO', scope: 'group:analysts' }] });
      assert.deepEqual(opened?.env, { A_ONE: 'value-one', A_TWO: 'value-two' });
      // Run again (e.g. after an interruption): values already under the new key stay as they are.
      assert.equal(await fresh.rotate(newKey, ADMIN), 2);
      const rot = (await store.listAudit({ action: 'secret.rotate-key', limit: 5 })).entries;
      assert.equal(rot.length, 2);
    });

    it('resolves the names a job uses: own first, else one of the owner\'s groups; 422 for one the owner cannot read', async (t) => {
      const { store } = await b.open(t);
      const v = new SecretVault(store, randomBytes(32));
      await v.create('user:alice', 'MINE', 'alice-own', ALICE);
      await v.create('group:analysts', 'SHARED', 'for-analysts', ADMIN);
      await v.create('group:analysts', 'BOTH', 'in-analysts', ADMIN);
      await v.create('group:ops', 'BOTH', 'in-ops', ADMIN);
      await v.create('user:bob', 'BOBS', 'bob-own', ADMIN);
      assert.deepEqual(await v.resolve('alice', [{ name: 'MINE' }, { name: 'SHARED' }], ['analysts']), [
        { name: 'MINE', scope: 'user:alice' },
        { name: 'SHARED', scope: 'group:analysts' },
      ]);
      await assert.rejects(v.resolve('alice', [{ name: 'BOBS' }], ['analysts']), (e: unknown) => e instanceof SecretRefusedError && e.httpStatus === 422 && /not readable by alice/.test(e.message));
      await assert.rejects(v.resolve('alice', [{ name: 'SHARED' }], []), SecretRefusedError);
      // Groups unknown (an admin submitting for alice): only alice's own secrets.
      await assert.rejects(v.resolve('alice', [{ name: 'SHARED' }], undefined), /their groups are known only when they submit themselves/);
      await assert.rejects(v.resolve('alice', [{ name: 'BOTH' }], ['analysts', 'ops']), /several of alice's groups/);
      await assert.rejects(v.resolve('alice', [{ name: 'HUBMILL_X' }], []), /reserved/);
      await assert.rejects(v.create('user:alice', 'SHORT', 'abc', ALICE), /at least 4 characters/);
    });
  });
}
