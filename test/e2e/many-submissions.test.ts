/**
 * 200 submissions at once over a real port: every job finishes exactly once,
 * with its own output, and an idempotent retry storm creates nothing new.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startServer, type StartedServer } from '../../src/server.js';
import { code, makeNotebook } from '../helpers/notebooks.js';

const TOKEN = 'many-submissions-token';
const N = 200;
let root: string;
let home: string;
let server: StartedServer;
let base: string;

async function api(method: string, path: string, body?: unknown) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `token ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: (await r.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'hubmill-many-'));
  home = join(root, 'home', 'ann');
  await mkdir(home, { recursive: true });
  await writeFile(join(home, 'n.ipynb'), JSON.stringify(makeNotebook([code('i = -1', ['parameters']), code('print(i)')])));
  const config = loadConfig(
    { port: 0, homeTemplate: join(root, 'home', '{username}'), dataDir: join(root, 'data'), apiToken: TOKEN, poolSizes: 'python3:2', concurrency: 2, shutdownGraceS: 5, maxQueuedPerUser: 0, rateLimitPerMin: 0, rateLimitIpPerMin: 0 },
    {},
  );
  server = await startServer(config, { signals: false, logger: pino({ level: 'silent' }), print: () => {} });
  base = `http://127.0.0.1:${server.port}`;
});

after(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

test(`${N} submissions at once all finish exactly once`, { timeout: 400_000 }, async () => {
  const submitted = await Promise.all(
    Array.from({ length: N }, (_, i) => api('POST', '/api/v1/jobs', { username: 'ann', notebook: 'n.ipynb', parameters: { i }, idempotency_key: `k-${i}` })),
  );
  for (const r of submitted) assert.equal(r.status, 202, JSON.stringify(r.body));
  const ids = submitted.map((r) => r.body.id as string);
  assert.equal(new Set(ids).size, N, 'every submission got its own job');

  // A retry storm with the same keys: nothing new is created.
  const retried = await Promise.all(ids.slice(0, 20).map((_, i) => api('POST', '/api/v1/jobs', { username: 'ann', notebook: 'n.ipynb', parameters: { i }, idempotency_key: `k-${i}` })));
  retried.forEach((r, i) => assert.equal(r.body.id, ids[i]));

  const deadline = Date.now() + 380_000;
  const finished = new Map<string, any>(); // eslint-disable-line @typescript-eslint/no-explicit-any
  while (finished.size < N && Date.now() < deadline) {
    for (const id of ids) {
      if (finished.has(id)) continue;
      const r = await api('GET', `/api/v1/jobs/${id}`);
      if (['succeeded', 'failed', 'cancelled', 'timed_out'].includes(r.body.status)) finished.set(id, r.body);
    }
    if (finished.size < N) await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(finished.size, N, `only ${finished.size} of ${N} finished in time`);
  const outputs = new Set<string>();
  for (const [i, id] of ids.entries()) {
    const job = finished.get(id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.ok(job.output_path && !outputs.has(job.output_path), 'each job has its own output');
    outputs.add(job.output_path);
    const out = JSON.parse(await readFile(join(home, job.output_path), 'utf8'));
    assert.equal(out.cells[2].outputs[0].text, `${i}\n`, `job ${i} ran with its own parameters`);
  }
  // Exactly once: every job is in the store once, each ran in exactly one attempt.
  const all: any[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  let cursor: string | null = null;
  do {
    const page = await api('GET', `/api/v1/jobs?username=ann&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    all.push(...page.body.jobs);
    cursor = page.body.next_cursor;
  } while (cursor);
  assert.equal(all.length, N);
  assert.equal(new Set(all.map((j) => j.id)).size, N);
  assert.ok(all.every((j) => j.attempts === 1), 'no job ran twice');
  assert.ok(existsSync(join(home, finished.get(ids[0]).output_path)));
});
