/**
 * /metrics' job counts: the counts of every status (a walk of the whole jobs
 * table) are kept a few seconds, so scrapers cost one count per interval; the
 * queue depth comes from the index-backed active counts on every scrape.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../src/http/prometheus.js';
import type { ActiveCounts, JobStatus } from '../../src/store/job-store.js';

function sources() {
  const calls = { all: 0, active: 0 };
  let queued = 3;
  return {
    calls,
    setQueued: (n: number) => void (queued = n),
    countByStatus: async (): Promise<Record<JobStatus, number>> => {
      calls.all++;
      return { queued, running: 1, succeeded: 10, failed: 0, cancelled: 0, timed_out: 0 };
    },
    countActive: async (): Promise<ActiveCounts> => {
      calls.active++;
      return { queued, running: 1 };
    },
    stats: () => ({ running: 1, concurrency: 2, pool: {} }),
  };
}

describe('metrics: job counts', () => {
  it('counts every status at most once per TTL; the queue depth is read on each scrape', async () => {
    let now = 1_000_000;
    const m = new Metrics({ jobCountsTtlMs: 5000, now: () => now });
    const s = sources();
    m.bind(s);
    let body = (await m.render()).body;
    assert.match(body, /hubmill_jobs\{status="succeeded"\} 10/);
    assert.match(body, /hubmill_queue_depth 3/);
    assert.equal(s.calls.all, 1);

    s.setQueued(7);
    now += 4000;
    body = (await m.render()).body;
    assert.equal(s.calls.all, 1, 'within the TTL the counts are not taken again');
    assert.match(body, /hubmill_jobs\{status="queued"\} 3/, 'the kept counts');
    assert.match(body, /hubmill_queue_depth 7/, 'the queue depth is fresh');
    assert.equal(s.calls.active, 2);

    now += 1500;
    body = (await m.render()).body;
    assert.equal(s.calls.all, 2, 'after the TTL the counts are taken again');
    assert.match(body, /hubmill_jobs\{status="queued"\} 7/);
  });
});
