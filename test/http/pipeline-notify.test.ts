/**
 * Pipeline run notifications end to end: a pipeline saved over the API with `notify`, runs driven by the real
 * Runner, each wanted end written to the outbox with the run's end and sent by the OutboxDeliverer to a real
 * HTTP receiver on 127.0.0.1 (allowed as HUBMILL_WEBHOOK_ALLOW would) and a real SMTP server (aiosmtpd):
 * one signed webhook per wanted end (with its X-Hubmill-Delivery id), none for an end `on` does not name;
 * failed deliveries listed by `GET …/deliveries` and sent again by `POST …/retry`. Both stores.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { waitFor } from '../helpers/notebooks.js';
import { OutboxDeliverer } from '../../src/notify/outbox-deliverer.js';
import { smtpMailer, type Mailer } from '../../src/notify/mailer.js';
import { WebhookAllowList } from '../../src/schedules/webhook-address.js';
import { scheduleStoreFor } from '../../src/store/open.js';
import { startSmtpServer, type SmtpServer } from '../helpers/smtp-server.js';
import { eventually } from '../helpers/wait.js';
import { as, auth, makePipelineApp, type Backend, type PipelineApp } from './pipeline-fixtures.js';

interface Received {
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** Records every POST; answers 503 to paths under /down/ (a receiver that is down), 200 to the rest. */
async function receiver() {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ url: req.url ?? '', headers: req.headers, body });
      res.statusCode = (req.url ?? '').startsWith('/down/') ? 503 : 200;
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
  let deliverer: OutboxDeliverer;
  let smtp: SmtpServer;
  let mailer: Mailer;

  before(async () => {
    rx = await receiver();
    smtp = await startSmtpServer();
    mailer = smtpMailer(smtp.url, 'hubmill@example.org');
    t = await makePipelineApp(backend, { webhookAllow: '127.0.0.1' });
    deliverer = new OutboxDeliverer({
      outbox: t.outbox,
      payloads: { jobs: t.jobs, schedules: scheduleStoreFor(t.jobs), pipelines: t.pipelines, prefix: '/', uiBase: 'https://hub.example.org/services/hubmill/' },
      allow: new WebhookAllowList(['127.0.0.1']),
      mailer,
      owner: `test-${backend}`,
      attempts: 3,
      backoffMs: 20,
      pollMs: 20,
    });
    deliverer.start();
    await t.notebook('alice', 'n/ok.ipynb', { x: '0' }, {});
    await t.notebook('alice', 'n/bad.ipynb', { x: '0' }, { fail_if: { x: 1 } });
  });
  after(async () => {
    await deliverer?.stop();
    mailer?.close();
    await t?.close();
    await rx?.close();
    await smtp?.stop();
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

  /** The outbox rows of a pipeline once none is pending. */
  const settledDeliveries = (pipelineId: string) =>
    eventually(async () => {
      const r = await t.app.inject({ method: 'GET', url: `/api/v1/pipelines/${pipelineId}/deliveries`, headers: auth });
      assert.equal(r.statusCode, 200, r.body);
      const list = r.json().deliveries as { id: string; status: string; attempts: number; last_error: string | null; channel: string; target: string; event: string; run_id: string; next_attempt_at: string | null }[];
      return list.every((d) => d.status !== 'pending') ? list : undefined;
    }, 15_000, 'every delivery of the pipeline delivered or failed');

  /** The webhooks that reached `path`, once every delivery of the pipeline is done (so none can follow). */
  const deliveries = async (pipelineId: string, path: string) => {
    await settledDeliveries(pipelineId);
    return rx.got.filter((g) => g.url === path);
  };

  it('a failed run sends one signed webhook describing it; a succeeded one none when `on` is the default', async () => {
    const p = await save(`default-${backend}`);
    const okRun = await run(p.id, 0);
    assert.equal(okRun.status, 'succeeded');
    const failed = await run(p.id, 1);
    assert.equal(failed.status, 'failed');
    const got = await deliveries(p.id, `/hook/default-${backend}`);
    assert.equal(got.length, 1);
    const [row] = await settledDeliveries(p.id);
    assert.deepEqual([row!.status, row!.channel, row!.event, row!.run_id, row!.attempts], ['delivered', 'webhook', 'failed', failed.id, 1]);
    const d = got[0]!;
    assert.equal(d.headers['x-hubmill-event'], 'pipeline_run.failed');
    assert.equal(d.headers['x-hubmill-delivery'], row!.id, 'the delivery id, for receivers to deduplicate');
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
    const got = await deliveries(p.id, `/hook/ok-${backend}`);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.headers['x-hubmill-event'], 'pipeline_run.succeeded');
    assert.equal(got[0]!.headers['x-hubmill-signature'], `sha256=${createHmac('sha256', p.webhook_secret).update(got[0]!.body).digest('hex')}`);
  });

  it('a delivery that keeps failing shows as failed with its error; a retry by hand sends it again (once)', async () => {
    const name = `down-${backend}`;
    const r0 = await t.app.inject({
      method: 'POST', url: '/api/v1/pipelines', headers: json,
      payload: JSON.stringify({ name, username: 'alice', parameters: { x: 0 }, tasks: [{ key: 'b', notebook: 'n/bad.ipynb' }], notify: { webhook_url: `http://127.0.0.1:${rx.port}/down/${name}` } }),
    });
    assert.equal(r0.statusCode, 201, r0.body);
    const id = r0.json().id as string;
    await run(id, 1);
    const [failed] = await settledDeliveries(id);
    assert.deepEqual([failed!.status, failed!.attempts, failed!.last_error, failed!.next_attempt_at], ['failed', 3, 'HTTP 503', null]);
    assert.equal(rx.got.filter((g) => g.url === `/down/${name}`).length, 3, 'three attempts, then it gave up');
    const other = await t.app.inject({ method: 'POST', url: `/api/v1/pipelines/${id}/deliveries/${failed!.id}/retry`, headers: as('bob') });
    assert.equal(other.statusCode, 404, 'not visible to another user');
    const retry = await t.app.inject({ method: 'POST', url: `/api/v1/pipelines/${id}/deliveries/${failed!.id}/retry`, headers: auth });
    assert.equal(retry.statusCode, 200, retry.body);
    assert.deepEqual([retry.json().status, retry.json().attempts], ['pending', 0]);
    const [again] = await settledDeliveries(id);
    assert.equal(again!.status, 'failed', 'still down');
    assert.equal(rx.got.filter((g) => g.url === `/down/${name}`).length, 6);
    assert.ok(rx.got.filter((g) => g.url === `/down/${name}`).every((g) => g.headers['x-hubmill-delivery'] === failed!.id), 'one delivery id throughout');
    const missing = await t.app.inject({ method: 'POST', url: `/api/v1/pipelines/${id}/deliveries/dlv_nope/retry`, headers: auth });
    assert.equal(missing.statusCode, 404);
  });

  it('a run end reaches e-mail addresses: a text and an HTML part naming the pipeline, the failing task and a link', async () => {
    const name = `mail-${backend}`;
    const r0 = await t.app.inject({
      method: 'POST', url: '/api/v1/pipelines', headers: json,
      payload: JSON.stringify({ name, username: 'alice', parameters: { x: 0 }, tasks: [{ key: 'a', notebook: 'n/ok.ipynb' }, { key: 'b', notebook: 'n/bad.ipynb', depends_on: ['a'] }], notify: { email: [`${name}@example.org`] } }),
    });
    assert.equal(r0.statusCode, 201, r0.body);
    const id = r0.json().id as string;
    const ended = await run(id, 1);
    const [d] = await settledDeliveries(id);
    assert.deepEqual([d!.channel, d!.target, d!.status], ['email', `${name}@example.org`, 'delivered']);
    const mails = smtp.messages().filter((m) => m.to === `${name}@example.org`);
    assert.equal(mails.length, 1);
    assert.equal(mails[0]!.subject, `[hubmill] Pipeline "${name}": failed`);
    const text = mails[0]!.parts.find((p) => p.type === 'text/plain')!.text;
    const html = mails[0]!.parts.find((p) => p.type === 'text/html')!.text;
    for (const part of [text, html]) {
      assert.ok(part.includes('task b, cell 0'), 'the failing task and cell');
      assert.ok(part.includes('x is 1'), 'its error');
      assert.ok(part.includes(`https://hub.example.org/services/hubmill/#/pipelines/${id}/runs/${ended.id}`), 'the link to the run');
    }
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

  it('a notify without a webhook or an address, or with an address that is none, is refused at save', async () => {
    for (const [notify, status, says] of [[{ on: ['failed'] }, 422, /notify needs webhook_url or email/], [{ email: ['not an address'] }, 422, /notify\.email/]] as const) {
      const r = await t.app.inject({
        method: 'POST', url: '/api/v1/pipelines', headers: json,
        payload: JSON.stringify({ name: 'x', username: 'alice', tasks: [{ key: 'a', notebook: 'n/ok.ipynb' }], notify }),
      });
      assert.equal(r.statusCode, status, r.body);
      assert.match(r.body, says);
    }
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
