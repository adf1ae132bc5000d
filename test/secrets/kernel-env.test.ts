/**
 * A job's secrets reach its kernel as environment variables in the runner's
 * two local kernel paths with a real python3 kernel: a fresh launch (no pool)
 * and a kernel forked from the fork server (a pool with a fork server, as
 * `hubmill serve` runs). The kernel proves it got the value by printing its
 * hash (the value itself is printed too, and redacted), and it never sees the
 * service's HUBMILL_SECRET_KEY, API token, hub token or database URL. Gateway kernels get the same `env` in their
 * start request (kernel/gateway.ts); see README, Secrets, for what gateways do with it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Runner } from '../../src/runner/runner.js';
import { SecretVault } from '../../src/runner/secret-vault.js';
import { secretStoreFor } from '../../src/store/open.js';
import { KernelPool } from '../../src/kernel/pool.js';
import { ForkServers } from '../../src/kernel/fork-servers.js';
import { makeEnv, notebookJson, writeNotebook } from '../runner/helpers.js';

const VALUE = `tok-${randomBytes(8).toString('hex')}`;
const CELL = `import os, hashlib, json
v = os.environ['API_TOKEN']
print(json.dumps({"sha": hashlib.sha256(v.encode()).hexdigest(), "key": os.environ.get('HUBMILL_SECRET_KEY'), "token": os.environ.get('HUBMILL_API_TOKEN'), "hub": os.environ.get('JUPYTERHUB_API_TOKEN'), "db": os.environ.get('HUBMILL_DATABASE_URL'), "ppid": os.getppid()}))
print('value:', v)`;

for (const mode of ['fresh launch', 'fork server'] as const) {
  describe(`secrets as kernel environment (${mode})`, { timeout: 120_000 }, () => {
    it("the kernel gets the value, not the service key nor the service's credentials; the output shows it redacted", async (t) => {
      const env = makeEnv(t, 'secret-env');
      writeNotebook(env.home, 'work/nb.ipynb', notebookJson([CELL]));
      const vault = new SecretVault(secretStoreFor(env.store), randomBytes(32));
      await vault.create('user:alice', 'API_TOKEN', VALUE, { name: 'alice', origin: null });
      // The service's own settings and credentials: a notebook must read none of them (kernel/launcher.ts inheritedEnv).
      const serviceEnv: Record<string, string> = {
        HUBMILL_SECRET_KEY: 'the-service-key-kernels-must-not-see',
        HUBMILL_API_TOKEN: 'the-service-api-token',
        JUPYTERHUB_API_TOKEN: 'the-service-hub-token',
        HUBMILL_DATABASE_URL: 'postgres://hubmill:pw@db/hubmill',
      };
      const before = Object.fromEntries(Object.keys(serviceEnv).map((k) => [k, process.env[k]]));
      Object.assign(process.env, serviceEnv);
      t.after(() => {
        for (const [k, v] of Object.entries(before)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      });
      const logger = pino({ level: 'silent' });
      const forkServers = mode === 'fork server' ? new ForkServers({ preload: {}, logger }) : null;
      const pool = forkServers ? new KernelPool({ sizes: { python3: 0 }, forkServers, logger }) : null;
      const runner = new Runner({ store: env.store, homeFor: env.homeFor, pool, concurrency: 1, workerId: `w-${mode}`, pollIntervalMs: 100, secrets: vault, logger });
      t.after(async () => {
        await runner.stop(5000);
        await pool?.close();
        await forkServers?.close();
      });
      runner.start();
      const { job } = await runner.submit({ username: 'alice', notebook: 'work/nb.ipynb', parameters: {}, submitted_by: 'alice', secrets: [{ name: 'API_TOKEN' }] });
      assert.deepEqual(job.secrets, [{ name: 'API_TOKEN', scope: 'user:alice' }]);
      const done = await runner.waitFor(job.id, 90_000);
      assert.equal(done?.status, 'succeeded', JSON.stringify(done?.error));
      const out = JSON.parse(readFileSync(join(env.home, done!.output_path!), 'utf8'));
      const text = out.cells.flatMap((c: { outputs?: { text?: string | string[] }[] }) => c.outputs ?? []).map((o: { text?: string | string[] }) => [o.text ?? ''].flat().join('')).join('');
      const printed = JSON.parse(text.split('\n')[0]);
      assert.equal(printed.sha, createHash('sha256').update(VALUE).digest('hex'), 'the kernel got the value');
      assert.equal(printed.key, null, 'the kernel does not see HUBMILL_SECRET_KEY');
      assert.deepEqual([printed.token, printed.hub, printed.db], [null, null, null], "nor the service's token, hub token or database URL");
      if (forkServers) assert.ok(forkServers.pids().includes(printed.ppid), `forked from the fork server (ppid ${printed.ppid}, servers ${forkServers.pids()})`);
      assert.ok(text.includes('value: [REDACTED:API_TOKEN]'), text);
      assert.ok(!readFileSync(join(env.home, done!.output_path!), 'utf8').includes(VALUE));
    });
  });
}
