/**
 * Secrets end to end in a real `startServer` (SQLite, real python3 kernels):
 * a secret stored through the API reaches the kernel as an environment
 * variable (never as a parameter), and a notebook that prints it (plain,
 * base64, URL-encoded, split across two stream messages), displays it
 * (text/plain, text/html, text/markdown), glues it and raises with it leaves
 * `[REDACTED:DB_PASSWORD]` in the stored notebook, the job's error and
 * result, its SSE events, a schedule's webhook payload and e-mail (a real SMTP server) and hubmill's log.
 * The API never answers a value; each use is audited. Restarting on the same
 * store without the key (or with another) is a clear error at start.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type StartedServer } from '../../src/server.js';
import { valueForms } from '../../src/secrets/redactor.js';
import { SecretKeyMismatchError } from '../../src/secrets/errors.js';
import { code, notebookJson } from '../helpers/notebooks.js';
import { readJobEvents, type SseEvent } from '../helpers/sse.js';
import { eventually } from '../helpers/wait.js';
import { startSmtpServer, type SmtpServer } from '../helpers/smtp-server.js';

const TOKEN = 'e2e-secrets-token-51c9';
const HEADERS = { authorization: `token ${TOKEN}`, 'content-type': 'application/json' };
const VALUE = `s3cr3t/P@ss w0rd+${randomBytes(4).toString('hex')}`;
const TOKEN_TEXT = '[REDACTED:DB_PASSWORD]';

const NOTEBOOK = notebookJson([
  code('x = 1', ['parameters']),
  code(
    [
      'import os, sys, time, base64, urllib.parse',
      "s = os.environ['DB_PASSWORD']",
      "assert 'DB_PASSWORD' not in globals()",
      "print('plain', s)",
      "print('b64', base64.b64encode(s.encode()).decode())",
      "print('url', urllib.parse.quote(s, safe=''))",
    ].join('\n'),
  ),
  // Two stream messages: the flush sends the first half before the second is written.
  code("sys.stdout.write('split ' + s[:6]); sys.stdout.flush(); time.sleep(0.5); sys.stdout.write(s[6:] + ' done\\n'); sys.stdout.flush()"),
  code(
    [
      'from IPython.display import display, HTML, Markdown',
      "display(HTML('<b>' + s + '</b>'))",
      "display(Markdown('**' + s + '**'))",
      "display({'application/scrapbook.scrap.json+json': {'name': 'pw', 'data': s, 'encoder': 'json', 'version': 1}}, raw=True)",
      's',
    ].join('\n'),
  ),
  // The test logs through hubmill's logger while the run holds the values, then lets it go on.
  code("for _ in range(1200):\n    if os.path.exists('go'): break\n    time.sleep(0.05)"),
  code("raise ValueError('bad password ' + s)"),
]);

/** Every form the redactor knows must be gone from `text`. */
function assertNoValue(where: string, text: string): void {
  for (const f of valueForms(VALUE)) assert.ok(!text.includes(f), `${where} contains the value (form ${JSON.stringify(f)})`);
}

describe('secrets end to end (real server, real kernels)', { timeout: 240_000 }, () => {
  let root: string;
  let home: string;
  let dataDir: string;
  let server: StartedServer;
  let base: string;
  let hook: Server;
  let hookUrl: string;
  let smtp: SmtpServer;
  const deliveries: string[] = [];
  let logText = '';
  const key = randomBytes(32).toString('base64');

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, { method, headers: HEADERS, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    const text = await r.text();
    return { status: r.status, text, json: (text ? JSON.parse(text) : null) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const configFor = (secretKey: string | undefined) =>
    loadConfig(
      {
        port: 0,
        homeTemplate: join(root, 'home', '{username}'),
        dataDir,
        apiToken: TOKEN,
        poolSizes: 'python3:0',
        concurrency: 2,
        shutdownGraceS: 2,
        webhookAllow: ['127.0.0.1'],
        rateLimitPerMin: 0,
        rateLimitIpPerMin: 0,
        logFormat: 'json',
        smtpUrl: smtp.url,
        smtpFrom: 'hubmill@example.org',
        ...(secretKey ? { secretKey } : {}),
      } as never,
      {},
    );

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hubmill-e2e-secrets-'));
    home = join(root, 'home', 'alice');
    dataDir = join(root, 'data');
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'leaky.ipynb'), NOTEBOOK);
    await writeFile(join(home, 'task.ipynb'), notebookJson([code("import os\nprint('task', os.environ['DB_PASSWORD'])")]));
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        deliveries.push(body);
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
    smtp = await startSmtpServer();
    const config = configFor(key);
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logText += String(chunk);
        cb();
      },
    });
    const logger = await createLogger(config, false, sink);
    server = await startServer(config, { signals: false, logger, print: () => {} });
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    await server?.close();
    await smtp?.stop();
    await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
    await rm(root, { recursive: true, force: true });
  });

  it('stores a secret without ever answering its value', async () => {
    const created = await api('POST', '/api/v1/secrets', { name: 'DB_PASSWORD', value: VALUE, scope: 'user', username: 'alice' });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual([created.json.name, created.json.scope, created.json.username, created.json.set_by], ['DB_PASSWORD', 'user', 'alice', 'admin']);
    const again = await api('POST', '/api/v1/secrets', { name: 'DB_PASSWORD', value: VALUE, username: 'alice' });
    assert.equal(again.status, 409, again.text);
    const listed = await api('GET', '/api/v1/secrets');
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.json.secrets.map((s: { name: string }) => s.name), ['DB_PASSWORD']);
    const replaced = await api('PUT', '/api/v1/secrets/DB_PASSWORD?scope=user&username=alice', { value: VALUE });
    assert.equal(replaced.status, 200, replaced.text);
    for (const r of [created, again, listed, replaced]) assertNoValue('an API answer', r.text);
    const openapi = await api('GET', '/openapi.json');
    assert.ok(openapi.json.paths['/api/v1/secrets'].post && openapi.json.paths['/api/v1/secrets/{name}'].delete && openapi.json.paths['/api/v1/audit'].get);
  });

  it('refuses a job naming a secret its owner cannot read (422)', async () => {
    const r = await api('POST', '/api/v1/jobs', { username: 'alice', notebook: 'leaky.ipynb', secrets: ['NOT_THERE'] });
    assert.equal(r.status, 422, r.text);
    assert.match(r.json.detail, /secret 'NOT_THERE' is not readable by alice/);
    const s = await api('POST', '/api/v1/schedules', { name: 'bad', username: 'alice', notebook: 'leaky.ipynb', cron: '0 0 1 1 *', secrets: ['NOT_THERE'] });
    assert.equal(s.status, 422, s.text);
  });

  it('redacts the value in the stored notebook, the job error and result, its events, the webhook payload, the e-mail and the log', async () => {
    const sch = await api('POST', '/api/v1/schedules', {
      name: 'nightly',
      username: 'alice',
      notebook: 'leaky.ipynb',
      cron: '0 0 1 1 *',
      parameters: { x: 2 },
      secrets: ['DB_PASSWORD'],
      notify: { webhook_url: hookUrl, email: ['ops@example.org'], on: ['failed'] },
    });
    assert.equal(sch.status, 201, sch.text);
    assert.deepEqual(sch.json.secrets, ['DB_PASSWORD']);
    const run = await api('POST', `/api/v1/schedules/${sch.json.id}/run`);
    assert.equal(run.status, 202, run.text);
    const jobId = run.json.id as string;
    assert.deepEqual(run.json.secrets, ['DB_PASSWORD']);

    const events: SseEvent[] = [];
    const ended = new Promise<void>((resolve, reject) =>
      readJobEvents(base, TOKEN, jobId, 120_000, ': the job did not end', { event: (e) => events.push(e), end: resolve, error: reject }),
    );
    // While the run holds the values (the waiting cell), a log line with them is redacted.
    await eventually(async () => (await api('GET', `/api/v1/jobs/${jobId}`)).json.progress.cells_done >= 4, 90_000, 'the run to reach the waiting cell', 100);
    server.app.log.warn({ leak: VALUE, b64: Buffer.from(VALUE).toString('base64'), url: encodeURIComponent(VALUE) }, `a line naming ${VALUE}`);
    await writeFile(join(home, 'go'), '');
    await ended;

    const job = (await api('GET', `/api/v1/jobs/${jobId}`)).json;
    assert.equal(job.status, 'failed');
    assert.equal(job.error.ename, 'ValueError');
    assert.equal(job.error.evalue, `bad password ${TOKEN_TEXT}`);
    assert.deepEqual(job.result, { pw: TOKEN_TEXT });
    assert.deepEqual(job.parameters, { x: 2 });
    assertNoValue('the job', JSON.stringify(job));

    const nbText = await readFile(join(home, job.output_path), 'utf8');
    assertNoValue('the stored notebook', nbText);
    const nb = JSON.parse(nbText);
    const outputs = JSON.stringify(nb.cells.map((c: { outputs?: unknown }) => c.outputs ?? []));
    for (const shown of [`plain ${TOKEN_TEXT}`, `b64 ${TOKEN_TEXT}`, `url ${TOKEN_TEXT}`, `split ${TOKEN_TEXT} done`, `<b>${TOKEN_TEXT}</b>`, `**${TOKEN_TEXT}**`, `'${TOKEN_TEXT}'`]) {
      assert.ok(outputs.includes(shown), `the outputs show ${shown}`);
    }
    const injected = nb.cells.find((c: { metadata: { tags?: string[] } }) => c.metadata.tags?.includes('injected-parameters'));
    assert.ok(injected && !String(injected.source).includes('DB_PASSWORD'), 'the injected cell names no secret');

    assert.ok(events.some((e) => e.event === 'output'), 'output events were sent');
    // A live reader joins the stream chunks of a cell: the value split across two messages must not reappear.
    const streamed = new Map<string, string>();
    for (const e of events) {
      if (e.event !== 'output' || e.data.output.output_type !== 'stream') continue;
      const k = `${e.data.cell_index}/${e.data.output.name}`;
      streamed.set(k, (streamed.get(k) ?? '') + (Array.isArray(e.data.output.text) ? e.data.output.text.join('') : e.data.output.text));
    }
    const joined = [...streamed.values()].join('\n');
    assertNoValue('the joined stream events', joined);
    assert.ok(joined.includes(`split ${TOKEN_TEXT} done`), joined);
    assertNoValue('the SSE events', JSON.stringify(events));
    assert.ok(JSON.stringify(events).includes(TOKEN_TEXT));

    const delivered = await eventually(() => deliveries.find((d) => d.includes(jobId)), 30_000, 'the failed webhook');
    assertNoValue('the webhook payload', delivered);
    assert.ok(delivered.includes(TOKEN_TEXT), delivered);
    const mail = await eventually(() => smtp.messages().find((m) => m.to.includes('ops@example.org')), 30_000, 'the failed e-mail');
    const mailText = JSON.stringify(mail);
    assertNoValue('the e-mail (both parts)', mailText);
    assert.equal(mail.parts.length, 2);
    assert.ok(mail.parts.every((p) => p.text.includes(TOKEN_TEXT)), mailText);

    assert.ok(logText.includes(`a line naming ${TOKEN_TEXT}`), 'the log line was written, redacted');
    assertNoValue('the log', logText);

    const audit = await api('GET', `/api/v1/audit?action=secret.use&target=${encodeURIComponent('secret:user:alice/')}`);
    assert.equal(audit.status, 200, audit.text);
    assert.deepEqual(audit.json.entries.map((e: { origin: string; actor: string }) => [e.actor, e.origin]), [['alice', `job:${jobId}`]]);
    const all = await api('GET', '/api/v1/audit');
    assert.deepEqual(all.json.entries.map((e: { action: string }) => e.action).reverse(), ['secret.create', 'secret.update', 'secret.use']);
    assertNoValue('the audit record', all.text);
  });

  it('records a change of permissions in the audit, with who, what and from where', async () => {
    const sch = await api('POST', '/api/v1/schedules', { name: 'shared', username: 'alice', notebook: 'task.ipynb', cron: '0 0 1 1 *' });
    assert.equal(sch.status, 201, sch.text);
    const put = await api('PUT', `/api/v1/schedules/${sch.json.id}/permissions`, { permissions: [{ group: 'analysts', level: 'run' }] });
    assert.equal(put.status, 200, put.text);
    const audit = await api('GET', '/api/v1/audit?action=permissions.set');
    assert.equal(audit.status, 200, audit.text);
    const [e] = audit.json.entries as Array<{ actor: string; target: string; origin: string; detail: { after: unknown } }>;
    assert.equal(e?.target, `schedule:${sch.json.id}`);
    assert.equal(e?.origin, '127.0.0.1');
    assert.deepEqual(e?.detail.after, [{ group: 'analysts', level: 'run' }]);
  });

  it('a pipeline task names secrets: checked at save (422), in the environment of its job, redacted', async () => {
    const bad = await api('POST', '/api/v1/pipelines', { name: 'p-bad', username: 'alice', tasks: [{ key: 'a', notebook: 'task.ipynb', secrets: ['NOT_THERE'] }] });
    assert.equal(bad.status, 422, bad.text);
    assert.match(bad.text, /NOT_THERE/);
    const p = await api('POST', '/api/v1/pipelines', { name: 'p-ok', username: 'alice', tasks: [{ key: 'a', notebook: 'task.ipynb', secrets: ['DB_PASSWORD'] }] });
    assert.equal(p.status, 201, p.text);
    const run = await api('POST', `/api/v1/pipelines/${p.json.id}/runs?wait=true`, {});
    assert.ok([200, 201].includes(run.status), run.text);
    const jobs = await eventually(async () => {
      const r = await api('GET', `/api/v1/jobs?pipeline_run_id=${run.json.id}`);
      return r.json.jobs.length === 1 && r.json.jobs[0].status === 'succeeded' ? r.json.jobs : undefined;
    }, 90_000, 'the task job to succeed', 200);
    assert.deepEqual(jobs[0].secrets, ['DB_PASSWORD']);
    const nbText = await readFile(join(home, jobs[0].output_path), 'utf8');
    assert.ok(nbText.includes(`task ${TOKEN_TEXT}`), nbText);
    assertNoValue('the task output', nbText);
  });

  it('a store holding secrets refuses to start without the key, or with another key', async () => {
    await server.close();
    await assert.rejects(startServer(configFor(undefined), { signals: false, print: () => {}, logger: pino({ level: 'silent' }) }), (e: unknown) => e instanceof SecretKeyMismatchError && /no secret key is configured: set HUBMILL_SECRET_KEY/.test(e.message));
    await assert.rejects(startServer(configFor(randomBytes(32).toString('hex')), { signals: false, print: () => {}, logger: pino({ level: 'silent' }) }), (e: unknown) => e instanceof SecretKeyMismatchError && /sealed with another key/.test(e.message));
  });
});
