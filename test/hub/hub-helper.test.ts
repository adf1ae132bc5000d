/**
 * The test hub helper itself: a port taken between the pick and the bind makes
 * it start again with new ports, and no process of a failed start (hub, proxy)
 * outlives it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { freePort, HubStartError, processesUnder, startHub } from '../helpers/jupyterhub.js';

function listen(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

describe('test hub helper', { timeout: 120_000 }, () => {
  for (const [which, index] of [['proxy', 0], ['hub', 2]] as const) {
    it(`starts again with new ports when the ${which} port it picked is taken, leaving no process behind`, async () => {
      const squatter = await listen();
      const taken = (squatter.address() as { port: number }).port;
      let picks = 0;
      // The first start gets the taken port for the proxy (first pick) or the hub (third pick).
      const pickPort = async () => (picks++ === index ? taken : freePort());
      try {
        const hub = await startHub({ pickPort });
        try {
          assert.equal(hub.failedStarts.length, 1, 'one failed start');
          assert.match(hub.failedStarts[0]!.error, /Address already in use|EADDRINUSE|Failed to bind/);
          assert.notEqual(which === 'proxy' ? hub.proxyPort : hub.hubPort, taken);
          assert.equal((await hub.api('GET', '/users/admin')).status, 200);
          assert.deepEqual(processesUnder(hub.failedStarts[0]!.dir), [], 'a process of the failed start is still running');
        } finally {
          await hub.stop();
        }
        assert.deepEqual(processesUnder(hub.dir), [], 'a process of the hub is still running after stop()');
      } finally {
        squatter.close();
      }
    });
  }

  it('a start that fails for another reason is reported and leaves no process behind', async () => {
    let failedDir = '';
    await assert.rejects(startHub({ extraConfig: 'raise RuntimeError("config refused on purpose")', startTimeoutMs: 30_000 }), (e: Error) => {
      failedDir = e instanceof HubStartError ? e.dir : '';
      return /config refused on purpose/.test(e.message);
    });
    assert.ok(failedDir, 'the error names the folder of the failed start');
    assert.deepEqual(processesUnder(failedDir), []);
  });
});
