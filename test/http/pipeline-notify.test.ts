/**
 * Pipeline run webhooks end to end: a pipeline saved over the API with `notify`, runs driven by the real
 * Runner, the ended runs taken from the store and sent by the schedules' WebhookNotifier to a real HTTP
 * receiver on 127.0.0.1 (allowed as HUBMILL_WEBHOOK_ALLOW would): one signed webhook per wanted end, none
 * for an end `on` does not name. Both stores.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { waitFor } from '../helpers/notebooks.js';
import { notifyEndedRuns } from '../../src/schedules/pipeline-notify.js';
import { WebhookAllowList } from '../../src/schedules/webhook-address.js';
import { WebhookNotifier } from '../../src/schedules/webhook.js';
import { auth, makePipelineApp, type Backend, type PipelineApp } from './pipeline-fixtures.js';

interface Received {
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function receiver() {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ url: req.url ?? '', headers: req.headers, body });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { got, port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const json = { ...auth, 'content-type': 'application/json' };

for (const backend of ['SQLite', 'PostgreSQL'] as Backend[]) describe(`pipeline run webhooks (${backend})`, () => {
  let t: PipelineApp;
  let rx: Awaited<ReturnType<typeof receiver>>;
  let notifier: WebhookNotifier;

  before(async () => {
    rx = await receiver();
    t = await makePipelineApp(backend, { webhookAllow: '127.0.0.1' });
    notifier = new WebhookNotifier({ allow: new WebhookAllowList(['127.0.0.1']), backoffMs: 50 });
    await t.notebook('alice', 'n/ok.ipynb', { x: '0' }, {});
    await t.notebook('alice', 'n/bad.ipynb', { x: '0' }, { fail_if: { x: 1 } });
  });
  after(async () => {
    notifier?.close();
    await t?.close();
    await rx?.close();
  });

  const save = async (name: string, on?: string[]) => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/v1/pipelines',
      headers: json,
      payload: JSON.stringify({
        name,
        username: 'alice',
        parameters: { x: 0 },
        tasks: [{ key: 'a', notebook: 'n/ok.ipynb' }, { key: 'b', notebook: 'n/bad.ipynb', depends_on: ['a'] }],
        notify: { webhook_url: `http://127.0.0.1:${rx.port}/hook/${name}`, ...(on ? { on } : {}) },
      }),
    });
    assert.equal(r.statusCode, 201, r.body);
    const p = r.json();
    assert.match(p.webhook_secret, /^[0-9a-f]{64}$/, 'the secret is in the creation answer');
    const again = (await t.app.inject({ method: 'GET', url: `/api/v1/pipelines/${p.id}`, headers: auth })).json();
    assert.equal(again.webhook_secret, undefined, 'and only there');
    return p as { id: string; webhook_secret: string };
  };

  /** Starts a run and waits for its end; x = 1 fails task b. */
  const run = async (pipelineId: string, x: number) => {
    const r = await t.app.inject({ method: 'POST', url: `/api/v1/pipelines/${pipelineId}/runs`, headers: json, payload: JSON.stringify({ parameters: { x } }) });
    assert.equal(r.statusCode, 201, r.body);
    const id = r.json().id as string;
    assert.ok(await waitFor(async () => ['succeeded', 'failed', 'cancelled'].includes((await t.pipelines.getRun(id))?.status ?? ''), 10_000), 'the run ended');
    return (await t.pipelines.getRun(id))!;
  };

  /** One pass of the notifier, then the deliveries to `path` (bounded wait for `n`). */
  const deliveries = async (path: string, n: number) => {
    assert.equal(await notifyEndedRuns({ store: t.pipelines, notifier, prefix: '/' }), n, 'webhooks queued by the pass');
    assert.ok(await waitFor(() => rx.got.filter((g) => g.url === path).length >= n, 10_000), 'the webhooks arrived');
    return rx.got.filter((g) => g.url === path);
  };

  it('a failed run sends one signed webhook describing it; a succeeded one none when `on` is the default', async () => {
    const p = await save(`default-${backend}`);
    const okRun = await run(p.id, 0);
    assert.equal(okRun.status, 'succeeded');
    const failed = await run(p.id, 1);
    assert.equal(failed.status, 'failed');
    const got = await deliveries(`/hook/default-${backend}`, 1);
    // Taking again finds nothing: still exactly one.
    assert.equal(await notifyEndedRuns({ store: t.pipelines, notifier, prefix: '/' }), 0);
    assert.equal(got.length, 1);
    const d = got[0]!;
    assert.equal(d.headers['x-hubmill-event'], 'pipeline_run.failed');
    assert.equal(d.headers['x-hubmill-signature'], `sha256=${createHmac('sha256', p.webhook_secret).update(d.body).digest('hex')}`);
    const body = JSON.parse(d.body);
    assert.equal(body.event, 'pipeline_run.failed');
    assert.deepEqual(body.pipeline, { id: p.id, name: `default-${backend}`, owner: 'alice' });
    assert.equal(body.run.id, failed.id);
    assert.equal(body.run.status, 'failed');
    assert.ok(body.run.started_at && body.run.finished_at);
    assert.deepEqual(body.run.tasks.map((x: { key: string; status: string }) => [x.key, x.status]), [['a', 'succeeded'], ['b', 'failed']]);
    assert.equal(body.run.link, `/api/v1/pipelines/${p.id}/runs/${failed.id}`);
  });

  it('a succeeded run sends one when `on` names succeeded', async () => {
    const p = await save(`ok-${backend}`, ['succeeded']);
    const r = await run(p.id, 0);
    assert.equal(r.status, 'succeeded');
    const got = await deliveries(`/hook/ok-${backend}`, 1);
    assert.equal(await notifyEndedRuns({ store: t.pipelines, notifier, prefix: '/' }), 0);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.headers['x-hubmill-event'], 'pipeline_run.succeeded');
    assert.equal(got[0]!.headers['x-hubmill-signature'], `sha256=${createHmac('sha256', p.webhook_secret).update(got[0]!.body).digest('hex')}`);
  });

  it('a PATCH that adds the first webhook shows its new secret once; a later change of URL keeps it', async () => {
    const created = await t.app.inject({
      method: 'POST', url: '/api/v1/pipelines', headers: json,
      payload: JSON.stringify({ name: 'later', username: 'alice', tasks: [{ key: 'a', notebook: 'n/ok.ipynb' }] }),
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().webhook_secret, undefined, 'no webhook, no secret');
    const id = created.json().id as string;
    const patch = (url: string) => t.app.inject({ method: 'PATCH', url: `/api/v1/pipelines/${id}`, headers: json, payload: JSON.stringify({ notify: { webhook_url: url } }) });
    const first = await patch(`http://127.0.0.1:${rx.port}/one`);
    assert.equal(first.statusCode, 200, first.body);
    assert.match(first.json().webhook_secret, /^[0-9a-f]{64}$/);
    const second = await patch(`http://127.0.0.1:${rx.port}/two`);
    assert.equal(second.statusCode, 200, second.body);
    assert.equal(second.json().webhook_secret, undefined);
    assert.equal((await t.pipelines.getPipeline(id))?.notify?.secret, first.json().webhook_secret);
  });

  it('a webhook to a private address not allowed is refused at save (422), as for schedules', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/v1/pipelines',
      headers: json,
      payload: JSON.stringify({ name: 'x', username: 'alice', tasks: [{ key: 'a', notebook: 'n/ok.ipynb' }], notify: { webhook_url: 'http://10.1.2.3/hook' } }),
    });
    assert.equal(r.statusCode, 422, r.body);
    assert.match(r.body, /notify\.webhook_url/);
  });
});
