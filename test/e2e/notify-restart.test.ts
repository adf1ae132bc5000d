/**
 * Notifications survive a crash: a real `hubmill serve` (SQLite, then PostgreSQL)
 * runs a schedule's notebook on a real kernel; it fails, and its end is written
 * to the outbox. The webhook receiver is down (503), so the webhook stays pending
 * while the mail reaches a real SMTP server (aiosmtpd). The process is killed
 * with SIGKILL, the receiver comes up, a new process starts on the same store,
 * and the webhook is delivered exactly once, signed, with its X-Hubmill-Delivery id.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForServeUrl } from '../../bench/lib/serve-banner.js';
import { call } from '../helpers/http.js';
import { code, notebookJson } from '../helpers/notebooks.js';
import { freshSchema, PG_TEST_URL } from '../helpers/pg.js';
import { startSmtpServer, type SmtpServer } from '../helpers/smtp-server.js';
import { eventually } from '../helpers/wait.js';

const ROOT = join(import.meta.dirname, '..', '..');
const TOKEN = 'e2e-notify-token';

interface Hook {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

async function receiver() {
  const got: Hook[] = [];
  let up = false;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const answered = up ? 200 : 503;
      got.push({ headers: req.headers, body, answered });
      res.statusCode = answered;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    got,
    port: (server.address() as { port: number }).port,
    comeUp: () => (up = true),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface Serve {
  child: ChildProcess;
  base: string;
}

function startServe(env: Record<string, string>, args: string[]): Promise<Serve> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'index.ts'), 'serve', '--port', '0', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return waitForServeUrl(child).then(
    (base) => ({ child, base }),
    async (err: unknown) => {
      await stopServe({ child, base: '' }, 'SIGKILL');
      throw err;
    },
  );
}

async function stopServe(s: Serve | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!s || s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = once(s.child, 'exit');
  s.child.kill(signal);
  const t = setTimeout(() => s.child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(t);
}

const failing = notebookJson([
  code('x = 0', ['parameters']),
  code(
    'from IPython.display import display\n' +
      "for name, value in [('score', 0.93), ('label', '<b>x</b>')]:\n" +
      "    display({'application/scrapbook.scrap.json+json': {'name': name, 'data': value, 'encoder': 'json', 'version': 1}}, raw=True)",
  ),
  code("raise ValueError('bad <input> & more')"),
]);

interface DeliveryRow {
  id: string;
  channel: string;
  status: string;
  attempts: number;
  last_error: string | null;
  target: string;
  run_id: string;
}

const stores: [string, (t: TestContext) => string[]][] = [
  ['SQLite', () => []],
  ['PostgreSQL', (t) => ['--database-url', `${PG_TEST_URL}?schema=${freshSchema(t)}`]],
];

describe('notifications across a kill -9 (real serve, real kernel, real SMTP)', { timeout: 300_000 }, () => {
  let root: string;
  let rx: Awaited<ReturnType<typeof receiver>>;
  let smtp: SmtpServer;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-notify-e2e-'));
    smtp = await startSmtpServer();
  });
  after(async () => {
    await smtp?.stop();
    await rm(root, { recursive: true, force: true });
  });

  for (const [store, storeArgs] of stores) {
    it(`${store}: the mail is sent; the pending webhook is delivered once after the restart`, async (t) => {
      rx = await receiver();
      t.after(() => rx.close());
      const dir = join(root, store);
      await mkdir(join(dir, 'homes', 'dora'), { recursive: true });
      await writeFile(join(dir, 'homes', 'dora', 'report.ipynb'), failing);
      const env = {
        HUBMILL_DATA_DIR: join(dir, 'data'),
        HUBMILL_HOME_TEMPLATE: join(dir, 'homes', '{username}'),
        HUBMILL_POOL: 'python3:0',
        HUBMILL_API_TOKEN: TOKEN,
        HUBMILL_LOG_LEVEL: 'warn',
        HUBMILL_RATE_LIMIT_PER_MIN: '0',
        HUBMILL_RATE_LIMIT_IP_PER_MIN: '0',
        HUBMILL_WEBHOOK_ALLOW: '127.0.0.1',
        HUBMILL_SMTP_URL: smtp.url,
        HUBMILL_SMTP_FROM: 'Hubmill <hubmill@example.org>',
        HUBMILL_PUBLIC_URL: 'https://hub.example.org/services/hubmill',
        HUBMILL_NOTIFY_BACKOFF_S: '0.2',
        HUBMILL_NOTIFY_ATTEMPTS: '100',
      };
      const args = storeArgs(t);
      let s: Serve | undefined = await startServe(env, args);
      t.after(() => stopServe(s, 'SIGKILL'));
      const to = `dora-${store}@example.org`;
      const created = await call(s.base, 'POST', '/api/v1/schedules', TOKEN, {
        name: `report <${store}>`, username: 'dora', notebook: 'report.ipynb', cron: '0 3 1 1 *',
        notify: { webhook_url: `http://127.0.0.1:${rx.port}/hook`, email: [to], on: ['failed'] },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const { id, webhook_secret: secret } = created.body as { id: string; webhook_secret: string };
      const ran = await call(s.base, 'POST', `/api/v1/schedules/${id}/run`, TOKEN, {});
      assert.equal(ran.status, 202, JSON.stringify(ran.body));
      const jobId = (ran.body as { id: string }).id;

      const list = async (base: string) => {
        const r = await call(base, 'GET', `/api/v1/schedules/${id}/deliveries`, TOKEN);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return (r.body as { deliveries: DeliveryRow[] }).deliveries;
      };
      // The run ended and its notifications are in the outbox: the mail delivered, the webhook failing.
      const ended = await eventually(async () => {
        const rows = await list(s!.base);
        const hook = rows.find((d) => d.channel === 'webhook');
        const mail = rows.find((d) => d.channel === 'email');
        return hook && hook.attempts >= 1 && hook.last_error === 'HTTP 503' && mail?.status === 'delivered' ? { hook, mail } : undefined;
      }, 120_000, 'the mail delivered and the webhook failing');
      assert.equal(ended.hook.status, 'pending');
      assert.equal(ended.hook.run_id, jobId);

      s.child.kill('SIGKILL');
      await once(s.child, 'exit');
      const attemptsBeforeKill = rx.got.length;
      assert.ok(attemptsBeforeKill >= 1 && rx.got.every((g) => g.answered === 503));
      rx.comeUp();

      s = await startServe(env, args);
      const delivered = await eventually(async () => {
        const hook = (await list(s!.base)).find((d) => d.channel === 'webhook');
        return hook?.status === 'delivered' ? hook : undefined;
      }, 120_000, 'the webhook delivered after the restart');
      assert.equal(delivered.id, ended.hook.id);
      const accepted = rx.got.filter((g) => g.answered === 200);
      assert.equal(accepted.length, 1, 'delivered exactly once');
      const hook = accepted[0]!;
      assert.equal(hook.headers['x-hubmill-delivery'], ended.hook.id);
      assert.ok(rx.got.every((g) => g.headers['x-hubmill-delivery'] === ended.hook.id), 'every attempt carries the one delivery id');
      assert.equal(hook.headers['x-hubmill-event'], 'failed');
      assert.equal(hook.headers['x-hubmill-signature'], `sha256=${createHmac('sha256', secret).update(hook.body).digest('hex')}`);
      const body = JSON.parse(hook.body) as { event: string; job: { id: string; status: string }; schedule: { id: string } };
      assert.deepEqual([body.event, body.job.id, body.job.status, body.schedule.id], ['failed', jobId, 'failed', id]);

      const mails = smtp.messages().filter((m) => m.to === to);
      assert.equal(mails.length, 1, 'one mail, not sent again by the new process');
      const m = mails[0]!;
      assert.equal(m.subject, `[hubmill] Schedule "report <${store}>": failed`);
      const text = m.parts.find((p) => p.type === 'text/plain')!.text;
      const html = m.parts.find((p) => p.type === 'text/html')!.text;
      for (const s of ['Status: failed', 'report.ipynb, cell 2', 'ValueError: bad <input> & more', 'score = 0.93', 'label = <b>x</b>', `https://hub.example.org/services/hubmill/#/job/${jobId}`]) {
        assert.ok(text.includes(s), `the text part has ${s}: ${text}`);
      }
      assert.match(text, /Duration: \d/);
      for (const s of [`report &lt;${store}&gt;`, 'bad &lt;input&gt; &amp; more', '&lt;b&gt;x&lt;/b&gt;', '0.93', `href="https://hub.example.org/services/hubmill/#/job/${jobId}"`]) {
        assert.ok(html.includes(s), `the HTML part has ${s}`);
      }
      await stopServe(s);
    });
  }
});
