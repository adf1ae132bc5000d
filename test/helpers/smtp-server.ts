/**
 * A real SMTP server for tests: Debian's python3-aiosmtpd (`python3 -m aiosmtpd`)
 * on 127.0.0.1, storing what it receives in a Maildir. The port is chosen free
 * and the start retried when another process took it meanwhile; `stop` ends the
 * process (and is safe to call twice). Messages are parsed by Python's `email`
 * package, so the test sees each MIME part decoded as a mail reader would.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './wait.js';

export interface ReceivedMail {
  from: string;
  to: string;
  subject: string;
  /** Each leaf part: its content type and its decoded text. */
  parts: { type: string; text: string }[];
  /** The top-level content type (multipart/alternative for a mail with both parts). */
  type: string;
}

export interface SmtpServer {
  port: number;
  url: string;
  messages(): ReceivedMail[];
  stop(): Promise<void>;
}

const PY = '/usr/bin/python3';

const READ_MAILDIR = `
import json, mailbox, sys
out = []
for key, m in sorted(mailbox.Maildir(sys.argv[1], factory=None).iteritems(), key=lambda kv: kv[1].get_date()):
    parts = []
    for p in m.walk():
        if p.is_multipart():
            continue
        raw = p.get_payload(decode=True) or b''
        parts.append({'type': p.get_content_type(), 'text': raw.decode(p.get_content_charset() or 'utf-8', 'replace')})
    from email.header import decode_header, make_header
    subject = str(make_header(decode_header(m['subject'] or '')))
    out.append({'from': m['from'] or '', 'to': m['to'] or '', 'subject': subject, 'type': m.get_content_type(), 'parts': parts})
print(json.dumps(out))
`;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/**
 * A server that takes mail only after STARTTLS (with this certificate and key) and
 * AUTH (PLAIN or LOGIN) with this user and password: aiosmtpd's own Controller.
 */
const SECURE_SERVER = `
import signal, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
port, maildir, cert, key, user, password = sys.argv[1:7]
tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(cert, key)
def check(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
    return AuthResult(success=ok, handled=False)
c = Controller(Mailbox(maildir), hostname='127.0.0.1', port=int(port), tls_context=tls, require_starttls=True,
               authenticator=check, auth_required=True, auth_require_tls=True)
c.start()
signal.sigwait({signal.SIGTERM, signal.SIGINT})
c.stop()
`;

export interface SecureSmtpOptions {
  /** PEM files of the certificate STARTTLS presents and its key. */
  cert: string;
  key: string;
  user: string;
  password: string;
}

/** `secure`: the server requires STARTTLS and AUTH (SECURE_SERVER); without it, plain SMTP and no AUTH. */
export async function startSmtpServer(secure?: SecureSmtpOptions): Promise<SmtpServer> {
  const dir = await mkdtemp(join(tmpdir(), 'hubmill-smtp-'));
  const maildir = join(dir, 'Maildir');
  let lastError = '';
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePort();
    const args = secure
      ? ['-c', SECURE_SERVER, String(port), maildir, secure.cert, secure.key, secure.user, secure.password]
      : ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', maildir];
    const child = spawn(PY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      await eventually(async () => child.exitCode !== null || child.signalCode !== null || (await accepts(port)), 15_000, 'aiosmtpd to accept connections');
    } catch (err) {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      // Most likely the port was taken between the check and the start: another port.
      lastError = stderr;
      continue;
    }
    let stopped = false;
    return {
      port,
      url: `smtp://127.0.0.1:${port}`,
      messages() {
        const r = spawnSync(PY, ['-c', READ_MAILDIR, maildir], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`reading the Maildir failed: ${r.stderr}`);
        return JSON.parse(r.stdout) as ReceivedMail[];
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await stopChild(child);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`aiosmtpd did not start: ${lastError}`);
}
