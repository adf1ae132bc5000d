/**
 * Group secrets rest on the hub's groups: a real JupyterHub with the group
 * `analysts` (alice, not bob). The token check (HubAuthenticator) carries the
 * `groups` of /hub/api/user into the identity, and the vault resolves a group
 * secret for alice and refuses it (422) for bob.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubAuthenticator } from '../../src/http/hub-auth.js';
import { SecretVault } from '../../src/runner/secret-vault.js';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { secretStoreFor } from '../../src/store/open.js';
import { startHub, type Hub } from '../helpers/jupyterhub.js';

describe('hub groups for group secrets (a real JupyterHub)', { timeout: 120_000 }, () => {
  let hub: Hub;
  let dir: string;
  let jobs: SqliteJobStore;

  before(async () => {
    hub = await startHub({ users: ['alice', 'bob'], extraConfig: "c.JupyterHub.load_groups = {'analysts': ['alice']}" });
    dir = await mkdtemp(join(tmpdir(), 'hubmill-hub-groups-'));
    jobs = new SqliteJobStore({ path: join(dir, 'jobs.sqlite') });
  });
  after(async () => {
    await jobs?.close();
    await hub?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("carries the user's hub groups into the identity, and group secrets resolve only for members", async () => {
    const auth = new HubAuthenticator({ apiUrl: hub.apiUrl, serviceName: hub.serviceName, requireAccessScope: false });
    const alice = await auth.identify((await hub.createToken('alice')).token);
    const bob = await auth.identify((await hub.createToken('bob')).token);
    assert.deepEqual(alice?.groups, ['analysts']);
    assert.deepEqual(bob?.groups, []);

    const vault = new SecretVault(secretStoreFor(jobs), randomBytes(32));
    await vault.create('group:analysts', 'WAREHOUSE', 'warehouse-password', { name: hub.adminUser, origin: null });
    assert.deepEqual(await vault.resolve('alice', [{ name: 'WAREHOUSE' }], alice!.groups), [{ name: 'WAREHOUSE', scope: 'group:analysts' }]);
    await assert.rejects(vault.resolve('bob', [{ name: 'WAREHOUSE' }], bob!.groups), (e: unknown) => (e as { httpStatus: number }).httpStatus === 422);
  });
});
