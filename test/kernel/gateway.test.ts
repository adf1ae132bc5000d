// KernelGateway alone, against a fake gateway (node:http on port 0) that records requests and answers
// what each test wants: the start request Enterprise Gateway expects, and hostile or broken answers.
// The real thing (a Jupyter Server as the gateway) is in test/e2e/gateway*.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { KernelStartError, NoSuchKernelError } from '../../src/errors.js';
import { KernelGateway, KernelGatewayError } from '../../src/kernel/gateway.js';

interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const SPECS = {
  default: 'python3',
  kernelspecs: {
    python3: { name: 'python3', spec: { argv: ['python3'], display_name: 'Python 3', language: 'python', interrupt_mode: 'signal', env: {}, metadata: {} }, resources: {} },
  },
};

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

async function fakeGateway(t: { after(fn: () => unknown): void }, handler: Handler): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body: body ? JSON.parse(body) : null });
      handler(req, res, body);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  t.after(() => srv.closeAllConnections());
  const addr = srv.address();
  return { url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/gw/`, seen };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

/** Lists SPECS; refuses to start kernels (500), so the start request is all there is to see. */
const refusingStarts: Handler = (req, res) => {
  if (req.url?.endsWith('/api/kernelspecs')) return json(res, 200, SPECS);
  json(res, 500, { message: 'no kernels today' });
};

describe('KernelGateway', () => {
  test('starts a kernel with the job env, KERNEL_USERNAME and KERNEL_WORKING_DIR in `env`, and the token', async (t) => {
    const { url, seen } = await fakeGateway(t, refusingStarts);
    const gw = new KernelGateway({ url, token: 'tok-1', serviceUsername: 'svc' });
    await assert.rejects(
      gw.start('Python3', { username: 'alice', cwd: '/home/alice/work', env: { MY_VAR: 'x', KERNEL_USERNAME: 'mallory' }, startTimeoutMs: 5000 }),
      (e: Error) => e instanceof KernelStartError && /no kernels today|500/.test(e.message),
    );
    const post = seen.find((s) => s.method === 'POST');
    assert.equal(post?.url, '/gw/api/kernels');
    assert.equal(post?.auth, 'token tok-1');
    assert.deepEqual(post?.body, { name: 'python3', env: { MY_VAR: 'x', KERNEL_USERNAME: 'alice', KERNEL_WORKING_DIR: '/home/alice/work' } });
    assert.ok(seen.every((s) => s.auth === 'token tok-1'));
  });

  test('a warm kernel is for the service user and has no working dir', async (t) => {
    const { url, seen } = await fakeGateway(t, refusingStarts);
    const gw = new KernelGateway({ url, token: null, serviceUsername: 'svc' });
    await assert.rejects(gw.startWarm('python3', { startTimeoutMs: 5000 }), KernelStartError);
    const post = seen.find((s) => s.method === 'POST');
    assert.deepEqual(post?.body, { name: 'python3', env: { KERNEL_USERNAME: 'svc' } });
    assert.equal(post?.auth, undefined, 'no token configured: none sent');
  });

  test('an unknown kernel is refused before anything starts (422, listing what the gateway has)', async (t) => {
    const { url, seen } = await fakeGateway(t, refusingStarts);
    const gw = new KernelGateway({ url, token: 'tok' });
    await assert.rejects(gw.start('ir', {}), (e: Error) => e instanceof NoSuchKernelError && /available kernels: python3/.test(e.message));
    assert.ok(!seen.some((s) => s.method === 'POST'));
  });

  test('kernelspecs are cached briefly; a failure is not kept', async (t) => {
    let fail = true;
    const { url, seen } = await fakeGateway(t, (req, res) => (fail ? json(res, 502, 'bad gateway') : json(res, 200, SPECS)));
    const gw = new KernelGateway({ url, token: 'tok', specsCacheMs: 60_000 });
    await assert.rejects(gw.kernelspecs(), (e: Error) => e instanceof KernelGatewayError && /answered 502/.test(e.message));
    fail = false;
    assert.equal((await gw.kernelspecs()).length, 1);
    assert.equal((await gw.kernelspecs()).length, 1);
    assert.equal(seen.length, 2, 'the failure was retried, the success reused');
  });

  test('hostile or broken answers become clear 503 errors; malformed entries are skipped', async (t) => {
    const answers: Array<[number, unknown]> = [
      [401, { message: 'no' }],
      [403, { message: 'no' }],
      [200, 'not json {'],
      [200, { kernelspecs: [] }],
      [200, null],
    ];
    let i = 0;
    const { url } = await fakeGateway(t, (_req, res) => {
      const [status, body] = answers[i++] ?? [200, {}];
      json(res, status, body === null ? 'null' : body);
    });
    const gw = new KernelGateway({ url, token: 'secret-token', specsCacheMs: 0 });
    for (const want of [/refused hubmill's token \(401\)/, /refused hubmill's token \(403\)/, /did not list its kernelspecs/, /no "kernelspecs" object/, /no "kernelspecs" object/]) {
      await assert.rejects(gw.kernelspecs(), (e: Error) => e instanceof KernelGatewayError && e.httpStatus === 503 && want.test(e.message) && !e.message.includes('secret-token'));
    }

    const { url: url2 } = await fakeGateway(t, (_req, res) =>
      json(res, 200, {
        kernelspecs: {
          '../../etc': SPECS.kernelspecs.python3,
          ['x'.repeat(500)]: SPECS.kernelspecs.python3,
          nospec: { name: 'nospec' },
          weird: { spec: { argv: 'not-a-list', display_name: 7, language: ['py'], interrupt_mode: 'message', env: [1] } },
          python3: SPECS.kernelspecs.python3,
        },
      }),
    );
    const specs = await new KernelGateway({ url: url2, token: null }).kernelspecs();
    assert.deepEqual(
      specs.map((s) => s.name),
      ['python3', 'weird'],
    );
    const weird = specs.find((s) => s.name === 'weird')!;
    assert.deepEqual([weird.argv, weird.display_name, weird.language, weird.interrupt_mode, weird.env], [[], 'weird', '', 'message', {}]);
  });

  test('a gateway that never answers is given up after the request bound', async (t) => {
    const { url } = await fakeGateway(t, () => {
      // Never answers.
    });
    const gw = new KernelGateway({ url, token: 'tok', requestTimeoutMs: 300 });
    const t0 = Date.now();
    await assert.rejects(gw.kernelspecs(), (e: Error) => e instanceof KernelGatewayError && /is unreachable/.test(e.message));
    assert.ok(Date.now() - t0 < 5000);
  });

  test('a URL that is not http(s) is refused', () => {
    assert.throws(() => new KernelGateway({ url: 'not a url', token: null }), KernelGatewayError);
    assert.throws(() => new KernelGateway({ url: 'ftp://gw/', token: null }), /must be http\(s\)/);
  });
});
