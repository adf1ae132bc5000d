/**
 * The Notifications sections of the schedule and pipeline pages in headless
 * Chromium against a real `hubmill serve` (from dist/) and a real python3
 * kernel: a webhook whose receiver is down shows as failed with its error and
 * attempts; once the receiver is up, the Retry button sends it again and the
 * row turns delivered (the receiver got it, with its delivery id).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { call } from '../helpers/http.js';
import { code, notebookJson, tempDir } from '../helpers/notebooks.js';
import { eventually } from '../helpers/wait.js';
import { launchChromium, serve, type Served } from './serve.js';

const USER = 'nora';

describe('web UI: notifications and their Retry button (Chromium, real hubmill serve)', { timeout: 240_000 }, () => {
  let root: string;
  let srv: Served;
  let browser: Browser;
  let hooks: Server;
  let port = 0;
  let up = false;
  const got: { url: string; headers: IncomingHttpHeaders; answered: number }[] = [];

  before(async () => {
    hooks = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        got.push({ url: req.url ?? '', headers: req.headers, answered: up ? 200 : 503 });
        res.statusCode = up ? 200 : 503;
        res.end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    port = (hooks.address() as { port: number }).port;
    root = await tempDir('hubmill-ui-deliveries-');
    const home = join(root, 'homes', USER);
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'ok.ipynb'), notebookJson([code('n = 1', ['parameters']), code('print(n)')]));
    srv = await serve({
      HUBMILL_HOME_TEMPLATE: join(root, 'homes', '{username}'),
      HUBMILL_DATA_DIR: join(root, 'data'),
      HUBMILL_POOL: 'python3:0',
      HUBMILL_SHUTDOWN_GRACE_S: '1',
      HUBMILL_WEBHOOK_ALLOW: '127.0.0.1',
      HUBMILL_NOTIFY_ATTEMPTS: '2',
      HUBMILL_NOTIFY_BACKOFF_S: '0.1',
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
    await new Promise<void>((r) => (hooks ? hooks.close(() => r()) : r()));
    if (root) await rm(root, { recursive: true, force: true });
  });

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await call(srv.base, method, path, srv.token, body);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as Record<string, unknown>;
  };
  const failedDelivery = (path: string) =>
    eventually(async () => {
      const list = (await api('GET', path)).deliveries as { id: string; status: string }[];
      return list.find((d) => d.status === 'failed');
    }, 120_000, `a failed delivery at ${path}`);

  it('a failed webhook of a schedule and of a pipeline is shown with its error, and sent again by Retry', async () => {
    const s = await api('POST', '/api/v1/schedules', {
      name: 'hourly', username: USER, notebook: 'ok.ipynb', cron: '0 * * * *', paused: true,
      notify: { webhook_url: `http://127.0.0.1:${port}/schedule`, on: ['succeeded'] },
    });
    await api('POST', `/api/v1/schedules/${s.id}/run`, {});
    const p = await api('POST', '/api/v1/pipelines', {
      name: 'flow', username: USER, tasks: [{ key: 'a', notebook: 'ok.ipynb' }],
      notify: { webhook_url: `http://127.0.0.1:${port}/pipeline`, on: ['succeeded'] },
    });
    await api('POST', `/api/v1/pipelines/${p.id}/runs`, {});
    const sFailed = await failedDelivery(`/api/v1/schedules/${s.id}/deliveries`);
    const pFailed = await failedDelivery(`/api/v1/pipelines/${p.id}/deliveries`);

    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(srv.link);
      await page.waitForURL(`${srv.base}/ui/`);
      for (const [kind, id, d, path] of [['schedules', s.id, sFailed, '/schedule'], ['pipelines', p.id, pFailed, '/pipeline']] as const) {
        up = false;
        await page.goto(`${srv.base}/ui/#/${kind}/${id}`);
        await page.getByRole('heading', { name: 'Notifications' }).waitFor();
        const row = page.locator(`tr[data-delivery-id="${d.id}"]`);
        await row.getByText('failed', { exact: true }).waitFor();
        assert.match((await row.textContent()) ?? '', /HTTP 503/);
        assert.match((await row.textContent()) ?? '', new RegExp(`127\\.0\\.0\\.1:${port}${path}`));
        const before = got.filter((g) => g.url === path).length;
        up = true;
        await row.getByRole('button', { name: `Retry webhook to http://127.0.0.1:${port}${path}` }).click();
        await row.getByText('delivered', { exact: true }).waitFor();
        assert.equal(await row.getByRole('button', { name: /Retry/ }).count(), 0, 'no Retry on a delivered row');
        const sent = got.filter((g) => g.url === path).slice(before);
        assert.deepEqual(sent.map((g) => [g.answered, g.headers['x-hubmill-delivery']]), [[200, d.id]], 'sent once more, with its delivery id');
      }
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
