/**
 * The one LISTEN connection of a process (store/pg/listener.ts), against the
 * local PostgreSQL: the job store's channels and the event bus share it, and
 * after it is killed it comes back and serves every channel again.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PgEventBus } from '../../src/store/pg/pg-event-bus.js';
import { PgListener } from '../../src/store/pg/listener.js';
import { SCHEDULES_CHANGED_CHANNEL } from '../../src/store/pg/channels.js';
import { adminQuery, freshSchema, pgStore, PG_TEST_URL } from '../helpers/pg.js';
import { newJob } from './conformance.js';

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('PgListener: one LISTEN connection per process', () => {
  test('the job store and the event bus share it; killed, it reconnects once and serves every channel again', async (t) => {
    const schema = freshSchema(t);
    const store = await pgStore(t, { schema });
    const api = await pgStore(t, { schema });
    // Were the bus to open a LISTEN connection of its own, it would carry this name.
    const busApp = `hubmill-test-own-${schema}`;
    const bus = new PgEventBus({ connection: PG_TEST_URL, pool: store.pool, listener: store.listener, schema, pollMs: 60_000, applicationName: busApp });
    t.after(() => bus.close());
    await bus.start();
    const heard = { queued: 0, schedules: 0, events: 0 };
    const offQueued = store.onJobQueued(() => heard.queued++);
    const offSchedules = store.onNotification(SCHEDULES_CHANGED_CHANNEL, () => heard.schedules++);
    const jobId = 'J0SHAREDLISTENER';
    const stopEvents = bus.subscribe(jobId, () => heard.events++, { after: 0 });
    await store.listening();
    const app = `hubmill-listen:${schema}`;
    const conns = async () => (await adminQuery('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [app])).length;
    assert.equal(await conns(), 1, 'one LISTEN connection for the store and the bus');
    assert.equal((await adminQuery('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [busApp])).length, 0, 'the bus opened none');

    let event = 0;
    const allChannels = async (what: string) => {
      const before = { ...heard };
      await api.enqueue(newJob());
      await adminQuery('SELECT pg_notify($1, $2)', [SCHEDULES_CHANGED_CHANNEL, schema]);
      bus.publish({ type: 'cell_started', job_id: jobId, cell_index: event++, cells_total: 9 });
      await until(() => heard.queued > before.queued, 5000, `a queued job ${what}`);
      await until(() => heard.schedules > before.schedules, 5000, `a schedule change ${what}`);
      await until(() => heard.events > before.events, 5000, `a job event ${what}`);
    };
    await allChannels('before the connection is killed');

    const killed = await adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]);
    assert.equal(killed.length, 1);
    await until(() => store.listener.connections === 2, 10_000, 'the reconnect');
    await store.listening();
    assert.equal(await conns(), 1, 'still one LISTEN connection after the reconnect');
    await allChannels('after the reconnect');

    // The bus does not own the store's connection: closing it leaves the store listening.
    stopEvents();
    await bus.close();
    const before = heard.queued;
    await api.enqueue(newJob());
    await until(() => heard.queued > before, 5000, 'a queued job after the bus closed');
    offQueued();
    offSchedules();
  });

  test('start() reports a database it cannot reach', async () => {
    const l = new PgListener({ connection: 'postgresql://postgres@127.0.0.1:1/test', applicationName: 'hubmill-test-unreachable', backoffMinMs: 10_000 });
    try {
      await assert.rejects(l.start(), /ECONNREFUSED|connect/);
      assert.equal(l.connected, false);
    } finally {
      await l.close();
    }
  });
});
