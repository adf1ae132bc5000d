/**
 * A 50 MB output notebook in the job page (Chromium, real hubmill serve): the
 * tab stays responsive. The job's output file is replaced by a generated 50 MB
 * notebook (big stream outputs, a big HTML output, many cells); the page must
 * render it with "Show more" truncation, keep its DOM small, and answer input
 * while and after it renders. The longest main-thread task is reported.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { call } from '../helpers/http.js';
import { code, notebookJson, tempDir } from '../helpers/notebooks.js';
import { launchChromium, serve, type Served } from './serve.js';

const USER = 'finn';

function bigNotebook(): string {
  const line = 'the quick brown fox jumps over the lazy dog 0123456789\n';
  const stream = line.repeat(Math.ceil(8_000_000 / line.length)); // 8 MB per big output
  const cells: unknown[] = [];
  for (let i = 0; i < 5; i++) {
    cells.push({ cell_type: 'code', id: `big${i}`, metadata: {}, execution_count: i + 1, source: `print(big_${i})`, outputs: [{ output_type: 'stream', name: 'stdout', text: stream }] });
  }
  cells.push({ cell_type: 'code', id: 'html', metadata: {}, execution_count: 6, source: 'df', outputs: [{ output_type: 'display_data', metadata: {}, data: { 'text/html': `<table>${'<tr><td>1</td><td>2</td></tr>'.repeat(250_000)}</table>`, 'text/plain': 'table' } }] });
  for (let i = 0; i < 2000; i++) {
    cells.push({ cell_type: 'code', id: `c${i}`, metadata: {}, execution_count: 7 + i, source: `x = ${i}`, outputs: [{ output_type: 'stream', name: 'stdout', text: `cell ${i}\n`.repeat(200) }] });
  }
  return JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', language: 'python', display_name: 'Python 3' } }, cells });
}

describe('web UI: a 50 MB output notebook (Chromium)', { timeout: 240_000 }, () => {
  let root: string;
  let srv: Served;
  let browser: Browser;
  let jobId: string;
  let size: number;

  before(async () => {
    root = await tempDir('hubmill-ui-large-');
    const home = join(root, 'homes', USER);
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'small.ipynb'), notebookJson([code('print(1)')]));
    srv = await serve({ HUBMILL_HOME_TEMPLATE: join(root, 'homes', '{username}'), HUBMILL_DATA_DIR: join(root, 'data'), HUBMILL_POOL: 'python3:1' });
    browser = await launchChromium();
    const r = await call(srv.base, 'POST', '/api/v1/jobs?wait=true', srv.token, { username: USER, notebook: 'small.ipynb' }, {}, 120_000);
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
    jobId = r.body.id;
    const big = bigNotebook();
    size = Buffer.byteLength(big);
    await writeFile(join(home, r.body.output_path), big);
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('renders it truncated with "Show more", keeps the DOM small and the tab responsive', async () => {
    assert.ok(size >= 50_000_000, `${size} bytes`);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(60_000);
      await page.goto(srv.link);
      await page.waitForURL(`${srv.base}/ui/`);
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      await page.addInitScript(() => {
        (window as unknown as { longest: number }).longest = 0;
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) (window as unknown as { longest: number }).longest = Math.max((window as unknown as { longest: number }).longest, e.duration);
        }).observe({ type: 'longtask', buffered: true });
      });
      await page.goto('about:blank'); // a new document, so the init script runs
      const t0 = Date.now();
      await page.goto(`${srv.base}/ui/#/job/${jobId}`);
      await page.getByRole('button', { name: /Show more cells/ }).waitFor();
      const rendered = Date.now() - t0;
      // Responsive: a round trip through the page's event loop is quick once rendered.
      const t1 = Date.now();
      await page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
      const roundTrip = Date.now() - t1;
      const domText = await page.evaluate(() => document.body.innerText.length);
      const longest = await page.evaluate(() => (window as unknown as { longest: number }).longest);
      console.log(`50 MB notebook (${(size / 1e6).toFixed(1)} MB): rendered in ${rendered} ms, DOM text ${domText} chars, longest task ${Math.round(longest)} ms, round trip ${roundTrip} ms`);
      assert.ok(domText < 2_000_000, `DOM text ${domText}`);
      assert.ok(roundTrip < 1000, `round trip ${roundTrip} ms`);
      assert.ok(longest < 2000, `longest main-thread task ${longest} ms`);
      // The big outputs are truncated with "Show more", which extends them.
      const more = page.getByRole('button', { name: /^Show more \(/ }).first();
      await more.click();
      await page.getByRole('button', { name: /Show large output/ }).waitFor();
    } finally {
      await context.close();
    }
  });
});
