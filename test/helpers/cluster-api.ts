/**
 * Helpers of the multi-node tests: a cluster in a folder of its own, cleaned up on every path, submit many jobs round-robin, read a
 * node's /health, list every job of a user (cursor paging), and collect a job's
 * SSE stream until its terminal state.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeEnv, openCluster, pgAvailable, type Cluster, type ScratchDatabase } from '../../bench/lib/cluster.js';
import { call } from './http.js';
import { readJobEvents, type SseEvent } from './sse.js';

/** `skip` for a PostgreSQL variant: false when the local PostgreSQL answers, else why the test cannot run. */
export const NEEDS_PG: false | string = pgAvailable() ? false : 'PostgreSQL does not answer at 127.0.0.1:5432';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'index.js');

export interface TestCluster {
  /** The test's folder: `homes/<user>` and the nodes' data dirs. */
  root: string;
  /** The user's home, made empty. */
  home: string;
  cluster: Cluster;
}

/**
 * Whether node `node` said (in its log, logs/<node>-<pid>.log, warn level and up) that it lost its
 * claim on job `id`: its lease was reclaimed ('lease lost'), or the store refused its record of the end.
 */
export function nodeLostLease(root: string, node: string, id: string): boolean {
  const dir = join(root, 'logs');
  if (!existsSync(dir)) return false;
  return readdirSync(dir)
    .filter((f) => f.startsWith(`${node}-`) && f.endsWith('.log'))
    .some((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .some((l) => l.includes(id) && (l.includes('lease lost') || l.includes('could not record the end of the job'))),
    );
}

/**
 * Runs `body` with a cluster of the built CLI (no node started yet) in a fresh folder, on a scratch
 * database for `pg`; then stops every node, runs `afterStop`, drops the database and removes the folder
 * (kept, with each node's log in logs/ at debug level, with HUBMILL_CHAOS_KEEP=1), on every path.
 */
export async function withTestCluster(
  o: { name: string; backend: 'pg' | 'sqlite'; user: string; token: string; nodeEnvVar: string; env?: Record<string, string>; afterStop?: (t: TestCluster) => void },
  body: (t: TestCluster) => Promise<void>,
): Promise<void> {
  assert.ok(existsSync(CLI), 'dist/ is not built: run npx tsc -p tsconfig.build.json');
  const keep = !!process.env.HUBMILL_CHAOS_KEEP;
  const root = await mkdtemp(join(tmpdir(), `hubmill-${o.name}-${o.backend}-`));
  const home = join(root, 'homes', o.user);
  await mkdir(home, { recursive: true });
  let db: ScratchDatabase | null = null;
  let cluster: Cluster | null = null;
  try {
    ({ cluster, db } = openCluster(o.backend, `hubmill_${o.name.replace(/-/g, '_')}`, {
      cli: CLI,
      root,
      nodeEnvVar: o.nodeEnvVar,
      stopGraceMs: 15_000,
      // Always: tests read them (e2e/chaos.test.ts tells a lost lease from a double run by the node's own word).
      logDir: join(root, 'logs'),
      env: nodeEnv(root, o.token, { ...o.env, ...(keep ? { HUBMILL_LOG_LEVEL: 'debug' } : {}) }),
    }));
    await body({ root, home, cluster });
  } finally {
    await cluster?.stopAll();
    if (cluster) o.afterStop?.({ root, home, cluster });
    db?.drop();
    if (keep) process.stderr.write(`kept ${root}\n`);
    else await rm(root, { recursive: true, force: true });
  }
}

export interface Health {
  status: string;
  role?: string;
  running: number;
  /** `jobs`: the store's queued and running jobs (every node's). */
  store: { ok: boolean; jobs?: { queued: number; running: number } };
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

export type { SseEvent } from './sse.js';

/**
 * Opens GET /api/v1/jobs/<id>/events on `base`; `onEvent` sees each event as it
 * comes. Resolves with every event when the server ends the stream (after the
 * terminal state); rejects on a non-200 answer or after `timeoutMs`.
 */
export function collectSse(base: string, token: string, jobId: string, onEvent: (e: SseEvent) => void, timeoutMs = 90_000): Promise<SseEvent[]> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    readJobEvents(base, token, jobId, timeoutMs, ` still open after ${timeoutMs} ms`, {
      event: (e) => {
        events.push(e);
        onEvent(e);
      },
      end: () => resolve(events),
      error: reject,
    });
  });
}
