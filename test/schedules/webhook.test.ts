import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { hostname } from 'node:os';
import { WebhookAllowList, checkWebhookUrl } from '../../src/schedules/webhook-address.js';
import { WebhookNotifier, type Delivery } from '../../src/schedules/webhook.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A local receiver: answers the scripted statuses in turn (then 200) and reports each request. */
async function receiver(statuses: number[]) {
  const got: Received[] = [];
  const waiters: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
      waiters.splice(0).forEach((w) => w());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const until = async (n: number, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (got.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${got.length} of ${n} deliveries arrived`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200).unref();
      });
    }
  };
  return { got, port, until, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Waits for the notifier's next reported attempt (bounded). */
function attempts() {
  const seen: { ok: boolean; detail: string }[] = [];
  const onAttempt = (_d: Delivery, ok: boolean, detail: string) => seen.push({ ok, detail });
  const until = async (n: number, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (seen.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${seen.length} attempts`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { seen, onAttempt, until };
}

describe('webhook notifications', () => {
  let rx: Awaited<ReturnType<typeof receiver>>;
  before(async () => (rx = await receiver([500])));
  after(async () => rx.close());

  it('POSTs a JSON body signed with HMAC-SHA256, retrying with backoff after a 5xx', async () => {
    const a = attempts();
    const n = new WebhookNotifier({ allow: new WebhookAllowList(['127.0.0.1']), backoffMs: 50, onAttempt: a.onAttempt });
    const sent: unknown = n.send({ url: `http://127.0.0.1:${rx.port}/hook`, secret: 's3cret', event: 'failed', body: { event: 'failed', job: { id: 'j1' } } });
    // send returns at once (no promise to wait on; nothing delivered yet): checked without a clock, so load cannot fail it.
    assert.equal(sent, undefined);
    assert.equal(a.seen.length, 0);
    assert.equal(rx.got.length, 0);
    await rx.until(2);
    await a.until(2);
    assert.deepEqual(a.seen.map((x) => x.ok), [false, true]);
    const last = rx.got[1]!;
    assert.equal(last.headers['content-type'], 'application/json');
    assert.equal(last.headers['x-hubmill-event'], 'failed');
    const expected = `sha256=${createHmac('sha256', 's3cret').update(last.body).digest('hex')}`;
    assert.equal(last.headers['x-hubmill-signature'], expected);
    assert.deepEqual(JSON.parse(last.body), { event: 'failed', job: { id: 'j1' } });
    n.close();
  });

  it('checks the address a name resolves to at delivery: a name for loopback is refused unless allowed', async () => {
    const host = hostname();
    const resolved = await lookup(host);
    assert.match(resolved.address, /^127\./, `precondition: ${host} resolves to loopback on this machine (/etc/hosts)`);
    const before = rx.got.length;
    const refused = attempts();
    const n1 = new WebhookNotifier({ allow: new WebhookAllowList([]), backoffMs: 10, onAttempt: refused.onAttempt });
    n1.send({ url: `http://${host}:${rx.port}/hook`, secret: 'k', event: 'succeeded', body: {} });
    await refused.until(1);
    assert.equal(refused.seen[0]!.ok, false);
    assert.match(refused.seen[0]!.detail, /loopback/);
    const allowed = attempts();
    const n2 = new WebhookNotifier({ allow: new WebhookAllowList(['127.0.0.0/8']), onAttempt: allowed.onAttempt });
    n2.send({ url: `http://${host}:${rx.port}/hook`, secret: 'k', event: 'succeeded', body: {} });
    await allowed.until(1);
    assert.equal(allowed.seen[0]!.ok, true, allowed.seen[0]!.detail);
    assert.equal(rx.got.length, before + 1, 'only the allowed delivery arrived');
    assert.equal(refused.seen.length, 1, 'a refused target is not retried');
    n1.close();
    n2.close();
  });

  it('refuses non-http(s), metadata and link-local always, private and loopback unless allowed', () => {
    const everything = new WebhookAllowList(['0.0.0.0/0', '::/0', 'localhost']);
    for (const u of ['ftp://example.org/x', 'file:///etc/passwd', 'http://169.254.169.254/', 'http://[fd00:ec2::254]/', 'http://169.254.1.1/', 'http://[fe80::1]/', 'http://metadata.google.internal/', 'http://[::ffff:169.254.169.254]/']) {
      assert.throws(() => checkWebhookUrl(u, everything), /metadata|link-local|http or https/, u);
    }
    const none = new WebhookAllowList([]);
    for (const u of ['http://127.0.0.1/', 'http://10.0.0.5/', 'http://192.168.1.1/', 'http://172.20.0.1/', 'http://[::1]/', 'http://[fc00::1]/', 'http://localhost/', 'http://[::ffff:127.0.0.1]/']) {
      assert.throws(() => checkWebhookUrl(u, none), /loopback|private/, u);
    }
    assert.doesNotThrow(() => checkWebhookUrl('https://hooks.example.org/x', none));
    const some = new WebhookAllowList(['10.0.0.0/8', 'localhost']);
    assert.doesNotThrow(() => checkWebhookUrl('http://10.9.8.7/', some));
    assert.doesNotThrow(() => checkWebhookUrl('http://localhost:9/', some));
    assert.throws(() => checkWebhookUrl('http://192.168.1.1/', some), /private/);
  });
});
