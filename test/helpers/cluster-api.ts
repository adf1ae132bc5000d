/**
 * Helpers of the multi-node tests: the nodes' shared environment, submit many jobs round-robin, read a
 * node's /health, list every job of a user (cursor paging), and collect a job's
 * SSE stream until its terminal state.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { pgAvailable, type ScratchDatabase } from '../../bench/lib/cluster.js';
import { call } from './http.js';
import { sseSplitter } from './sse.js';

/** `skip` for a PostgreSQL variant: false when the local PostgreSQL answers, else why the test cannot run. */
export const NEEDS_PG: false | string = pgAvailable() ? false : 'PostgreSQL does not answer at 127.0.0.1:5432';

/** The end of a multi-node test: its scratch database dropped, its folder removed (kept with HUBMILL_CHAOS_KEEP=1). */
export async function cleanUpCluster(root: string, db: ScratchDatabase | null | undefined): Promise<void> {
  db?.drop();
  if (process.env.HUBMILL_CHAOS_KEEP) process.stderr.write(`kept ${root}\n`);
  else await rm(root, { recursive: true, force: true });
}

/** The environment every node of a test cluster shares: homes under `<root>/homes`, token auth, no hub, no rate limits or queue quota. */
export function nodeEnv(root: string, token: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HUBMILL_HOME_TEMPLATE: join(root, 'homes', '{username}'),
    HUBMILL_API_TOKEN: token,
    HUBMILL_POOL: 'python3:2',
    HUBMILL_CONCURRENCY: '2',
    HUBMILL_SHUTDOWN_GRACE_S: '2',
    HUBMILL_MAX_QUEUED_PER_USER: '0',
    HUBMILL_RATE_LIMIT_PER_MIN: '0',
    HUBMILL_RATE_LIMIT_IP_PER_MIN: '0',
    HUBMILL_LOG_LEVEL: 'warn',
    JUPYTERHUB_API_URL: '',
    JUPYTERHUB_API_TOKEN: '',
    ...extra,
  };
}

export interface Health {
  status: string;
  role?: string;
  running: number;
  store: { ok: boolean; jobs?: Record<string, number> };
}

export async function health(base: string): Promise<Health> {
  const r = await call(base, 'GET', '/health', null, undefined, {}, 10_000);
  assert.equal(r.status, 200, `${base}/health: ${JSON.stringify(r.body)}`);
  return r.body as Health;
}

/** Submits `bodies` round-robin over `bases`, `parallel` at a time; answers the job ids in order. */
export async function submitRoundRobin(bases: string[], token: string, bodies: unknown[], parallel = 8): Promise<string[]> {
  const ids: string[] = new Array(bodies.length);
  let next = 0;
  const lane = async () => {
    while (next < bodies.length) {
      const i = next++;
      const r = await call(bases[i % bases.length]!, 'POST', '/api/v1/jobs', token, bodies[i]);
      assert.equal(r.status, 202, `submission ${i} to ${bases[i % bases.length]}: ${r.status} ${JSON.stringify(r.body)}`);
      ids[i] = r.body.id as string;
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  return ids;
}

/** Every job the list API returns for `query` (e.g. `username=ann` or `schedule_id=…`), newest first. */
export async function listAll(base: string, token: string, query: string): Promise<any[]> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const out: any[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  let cursor: string | null = null;
  do {
    const r = await call(base, 'GET', `/api/v1/jobs?${query}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    out.push(...r.body.jobs);
    cursor = r.body.next_cursor;
  } while (cursor);
  return out;
}

export interface SseEvent {
  event: string;
  id: string | undefined;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Opens GET /api/v1/jobs/<id>/events on `base`; `onEvent` sees each event as it
 * comes. Resolves with every event when the server ends the stream (after the
 * terminal state); rejects on a non-200 answer or after `timeoutMs`.
 */
export function collectSse(base: string, token: string, jobId: string, onEvent: (e: SseEvent) => void, timeoutMs = 90_000): Promise<SseEvent[]> {
  const url = new URL(`${base}/api/v1/jobs/${jobId}/events`);
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, headers: { authorization: `token ${token}` } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`SSE ${url}: ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      res.on(
        'data',
        sseSplitter((b) => {
          if (b.comment || !b.event || b.data === undefined) return;
          const e: SseEvent = { event: b.event, id: b.id, data: JSON.parse(b.data) };
          events.push(e);
          onEvent(e);
        }),
      );
      res.on('end', () => resolve(events));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`SSE ${url} still open after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
