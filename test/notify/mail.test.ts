/**
 * Notification mail through a real SMTP server (aiosmtpd): one message with a
 * plain-text and an HTML part, both carrying the name, status, duration, the
 * failing cell and its error, the result values and the link; every value that
 * came from a user or a notebook is escaped in the HTML part. And a server that
 * takes mail only after STARTTLS and AUTH, with a certificate from a private CA
 * trusted the way a deployment would (NODE_EXTRA_CA_CERTS).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/jupyterhub.js';
import { runMail, formatDuration, type RunSummary } from '../../src/notify/mail-message.js';
import { smtpMailer, type Mailer } from '../../src/notify/mailer.js';
import { startSmtpServer, type SmtpServer } from '../helpers/smtp-server.js';
import { eventually } from '../helpers/wait.js';

const hostile = '<script>alert("x")</script> & \'q\'';

const summary: RunSummary = {
  kind: 'Schedule',
  name: `nightly ${hostile}`,
  event: 'failed',
  status: 'failed',
  startedAtMs: 1_000,
  finishedAtMs: 1_000 + 83_400,
  failure: { where: 'report.ipynb, cell 2', ename: 'ValueError', evalue: `bad ${hostile}`, traceback: ['\u001b[0;31mValueError\u001b[0m: bad <input>'] },
  results: { score: 0.93, label: `<b>${hostile}</b>` },
  link: 'https://hub.example.org/services/hubmill/#/job/j"1',
};

describe('notification mail through a real SMTP server', { timeout: 60_000 }, () => {
  let smtp: SmtpServer;
  let mailer: Mailer;
  before(async () => {
    smtp = await startSmtpServer();
    mailer = smtpMailer(smtp.url, 'Hubmill <hubmill@example.org>');
  });
  after(async () => {
    mailer?.close();
    await smtp?.stop();
  });

  it('arrives with a text and an HTML part, both with every field, the HTML escaped', async () => {
    await mailer.send('ops@example.org', runMail(summary));
    const [m] = await eventually(() => (smtp.messages().length ? smtp.messages() : undefined), 15_000, 'the mail at the server');
    assert.equal(m!.to, 'ops@example.org');
    assert.match(m!.from, /hubmill@example\.org/);
    assert.equal(m!.type, 'multipart/alternative');
    assert.equal(m!.subject, `[hubmill] Schedule "nightly ${hostile}": failed`);
    const text = m!.parts.find((p) => p.type === 'text/plain')?.text ?? '';
    const html = m!.parts.find((p) => p.type === 'text/html')?.text ?? '';
    assert.ok(text && html, 'both parts');
    for (const s of [`nightly ${hostile}`, 'Status: failed', 'Duration: 1 min 23 s', 'report.ipynb, cell 2', `ValueError: bad ${hostile}`, 'score = 0.93', `label = <b>${hostile}</b>`, summary.link]) {
      assert.ok(text.includes(s), `the text part has ${s}`);
    }
    assert.ok(!text.includes('\u001b'), 'no terminal colour codes');
    assert.ok(!html.includes('<script>') && !html.includes('<b><script>') && !html.includes('<input>'), 'nothing of the values is markup');
    for (const s of ['nightly &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;', 'failed', '1 min 23 s', 'report.ipynb, cell 2', 'ValueError', 'bad &lt;input&gt;', '0.93', '&lt;b&gt;&lt;script&gt;', 'href="https://hub.example.org/services/hubmill/#/job/j&quot;1"']) {
      assert.ok(html.includes(s), `the HTML part has ${s}`);
    }
  });

  it('a subject never breaks a header line', () => {
    assert.equal(runMail({ ...summary, name: 'a\r\nBcc: x@example.org' }).subject.includes('\n'), false);
    assert.equal(formatDuration(null), 'unknown');
    assert.equal(formatDuration(450), '450 ms');
  });
});

// The mailer in its own Node process: NODE_EXTRA_CA_CERTS is read when Node starts, as in a deployment.
const SEND = `
import { mailErrorIsFinal, smtpMailer } from './src/notify/mailer.ts';
const m = smtpMailer(process.env.SMTP_URL, 'hubmill@example.org', { timeoutMs: 10000 });
try {
  await m.send('ops@example.org', { subject: 'over TLS', text: 'hello', html: '<p>hello</p>' });
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, message: String(e.message), code: e.responseCode ?? null, final: mailErrorIsFinal(e) }));
} finally {
  m.close();
}
`;

async function sendFromChild(url: string, ca: string | null): Promise<{ ok: boolean; message?: string; code?: number | null; final?: boolean }> {
  const env: NodeJS.ProcessEnv = { ...process.env, SMTP_URL: url };
  if (ca) env.NODE_EXTRA_CA_CERTS = ca;
  else delete env.NODE_EXTRA_CA_CERTS;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SEND], { cwd: REPO_ROOT, env, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('notification mail through a server that requires STARTTLS and AUTH', { timeout: 120_000 }, () => {
  // Characters that must be percent-encoded in HUBMILL_SMTP_URL's password.
  const user = 'hub mill@corp';
  const password = 'p@ss:w/rd%41 é';
  const cred = `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
  let dir: string;
  let smtp: SmtpServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hubmill-smtp-tls-'));
    const r = await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]).catch((e: Error) => e);
    assert.ok(!(r instanceof Error), `openssl: ${r instanceof Error ? r.message : ''}`);
    smtp = await startSmtpServer({ cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), user, password });
  });
  after(async () => {
    await smtp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sends after STARTTLS with the percent-encoded user and password of the URL, trusting a private CA', async () => {
    const r = await sendFromChild(`smtp://${cred}@127.0.0.1:${smtp.port}`, join(dir, 'cert.pem'));
    assert.deepEqual(r, { ok: true });
    const [m] = await eventually(() => (smtp.messages().length ? smtp.messages() : undefined), 15_000, 'the mail at the server');
    assert.equal(m!.subject, 'over TLS');
  });

  it('a wrong password is a final failure (535); an untrusted certificate fails, never falling back to plain text', async () => {
    const before = smtp.messages().length;
    const wrong = await sendFromChild(`smtp://${encodeURIComponent(user)}:nope@127.0.0.1:${smtp.port}`, join(dir, 'cert.pem'));
    assert.equal(wrong.ok, false);
    assert.equal(wrong.code, 535, JSON.stringify(wrong));
    assert.equal(wrong.final, true);
    const untrusted = await sendFromChild(`smtp://${cred}@127.0.0.1:${smtp.port}`, null);
    assert.equal(untrusted.ok, false);
    assert.match(untrusted.message ?? '', /certificate/i, JSON.stringify(untrusted));
    assert.equal(untrusted.final, false, 'a certificate problem may be mended: retried');
    assert.equal(smtp.messages().length, before);
  });
});
