/**
 * Notification mail through a real SMTP server (aiosmtpd): one message with a
 * plain-text and an HTML part, both carrying the name, status, duration, the
 * failing cell and its error, the result values and the link; every value that
 * came from a user or a notebook is escaped in the HTML part.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
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
