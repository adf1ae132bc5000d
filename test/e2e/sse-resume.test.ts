/**
 * SSE resume over a real port with a real python3 kernel: a client that drops
 * its stream mid-run and reconnects with Last-Event-ID gets every event it
 * missed, once, and no new snapshot; after the end, a reconnect answers 204 and
 * a fresh stream gets the final state. The notebook waits for flag files the
 * test creates, so the order of events is fixed without any sleep.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startServer, type StartedServer } from '../../src/server.js';
import { call } from '../helpers/http.js';
import { code, notebookJson } from '../helpers/notebooks.js';
import { sseSplitter } from '../helpers/sse.js';

const TOKEN = 'sse-resume-token-0b1c2d';

interface SseEvent {
  id: number | null;
  event: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

interface SseStream {
  status: Promise<number>;
  events: SseEvent[];
  /** Resolves when the server ends the stream (or it is closed). */
  ended: Promise<void>;
  /** Resolves at the first event that matches. */
  until(pred: (e: SseEvent) => boolean): Promise<SseEvent>;
  close(): void;
}

function openSse(port: number, path: string, headers: Record<string, string> = {}): SseStream {
  const events: SseEvent[] = [];
  const waiters: Array<{ pred: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }> = [];
  let resolveStatus!: (s: number) => void;
  let resolveEnd!: () => void;
  const status = new Promise<number>((r) => (resolveStatus = r));
  const ended = new Promise<void>((r) => (resolveEnd = r));
  const req: ClientRequest = httpRequest({ host: '127.0.0.1', port, path, headers: { authorization: `token ${TOKEN}`, ...headers } }, (res) => {
    resolveStatus(res.statusCode ?? 0);
    res.setEncoding('utf8');
    res.on('data', sseSplitter(({ event: ev, data, id }) => {
        if (!ev || !data) return;
        const e: SseEvent = { id: id === undefined ? null : Number(id), event: ev, data: JSON.parse(data) };
        events.push(e);
        for (const w of [...waiters]) {
          if (w.pred(e)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(e);
          }
        }
    }));
    res.on('end', resolveEnd);
    res.on('close', resolveEnd);
  });
  req.on('error', () => resolveEnd());
  req.setTimeout(90_000, () => req.destroy(new Error('SSE stream stalled')));
  req.end();
  return {
    status,
    events,
    ended,
    until: (pred) => {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
    close: () => req.destroy(),
  };
}

const isOutput = (text: string) => (e: SseEvent) => e.event === 'output' && JSON.stringify(e.data.output).includes(text);

describe('SSE resume with Last-Event-ID (real port, real python3 kernel)', { timeout: 120_000 }, () => {
  let root: string;
  let server: StartedServer;
  let base: string;
  const streams: SseStream[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-sse-'));
    const home = join(root, 'home', 'sue');
    await mkdir(home, { recursive: true });
    const waitFor = (flag: string) =>
      `import os, time\n_deadline = time.time() + 60\nwhile not os.path.exists(${JSON.stringify(join(root, flag))}) and time.time() < _deadline:\n    time.sleep(0.02)`;
    await writeFile(
      join(home, 'steps.ipynb'),
      notebookJson([code(`${waitFor('go1')}\nprint("one", flush=True)`), code(`${waitFor('go2')}\nprint("two", flush=True)`), code('print("three")')]),
    );
    const config = loadConfig(
      { port: 0, homeTemplate: join(root, 'home', '{username}'), dataDir: join(root, 'data'), apiToken: TOKEN, poolSizes: 'python3:1', concurrency: 1, shutdownGraceS: 2 },
      {},
    );
    server = await startServer(config, { signals: false, logger: pino({ level: 'silent' }), print: () => {} });
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    for (const s of streams) s.close();
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('a client that reconnects gets exactly the events it missed; after the end, 204', async () => {
    const submitted = await call(base, 'POST', '/api/v1/jobs', TOKEN, { username: 'sue', notebook: 'steps.ipynb' });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const path = `/api/v1/jobs/${submitted.body.id}/events`;
    // The reference stream stays connected all along.
    const whole = openSse(server.port, path);
    const dropped = openSse(server.port, path);
    streams.push(whole, dropped);
    await whole.until(() => true);
    await dropped.until(() => true);
    await writeFile(join(root, 'go1'), '');
    await dropped.until(isOutput('one'));
    // A client that opens the stream mid-run gets the state, then the cell events and output so far.
    const late = openSse(server.port, path);
    streams.push(late);
    await late.until(isOutput('one'));
    assert.equal(late.events[0]!.event, 'state');
    assert.equal(late.events[0]!.data.status, 'running');
    assert.ok(late.events.some((e) => e.event === 'cell_started'), 'the cells already started are replayed');
    assert.ok(!late.events.slice(1).some((e) => e.event === 'state'), 'no state older than the snapshot is replayed');
    dropped.close();
    await dropped.ended;
    const lastSeen = dropped.events[dropped.events.length - 1]!.id!;
    await writeFile(join(root, 'go2'), '');
    await whole.ended;
    const final = whole.events[whole.events.length - 1]!;
    assert.equal(final.event, 'state');
    assert.equal(final.data.status, 'succeeded');

    const resumed = openSse(server.port, path, { 'last-event-id': String(lastSeen) });
    streams.push(resumed);
    assert.equal(await resumed.status, 200);
    await resumed.ended;
    // No snapshot first: the next event after the last one seen, then every one up to the end, once each:
    // together, exactly what the stream that never dropped got after its snapshot.
    const ids = [...dropped.events.slice(1), ...resumed.events].map((e) => e.id!);
    assert.deepEqual(ids, whole.events.slice(1).map((e) => e.id!), ids.join(','));
    assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), `ids increase: ${ids.join(',')}`);
    assert.equal(resumed.events[0]!.id, lastSeen + 1);
    assert.ok(resumed.events.some(isOutput('two')) && resumed.events.some(isOutput('three')));
    // The same events as the stream that never dropped.
    const byId = new Map(whole.events.map((e) => [e.id, e]));
    for (const e of resumed.events) assert.deepEqual(e, byId.get(e.id), `event ${e.id}`);

    // Reconnecting after the terminal state: nothing more (204 stops EventSource).
    const again = openSse(server.port, path, { 'last-event-id': String(final.id) });
    streams.push(again);
    assert.equal(await again.status, 204);
    await again.ended;
    assert.equal(again.events.length, 0);
    // A fresh stream after the end: the final state, with the id of the last event.
    const fresh = openSse(server.port, path);
    streams.push(fresh);
    await fresh.ended;
    assert.deepEqual(fresh.events.map((e) => [e.id, e.event, e.data.status]), [[final.id, 'state', 'succeeded']]);
  });
});
