/**
 * The web UI in headless Chromium against a real `hubmill serve` (from dist/)
 * and real python3 kernels: token-link sign-in, the run form, live progress,
 * the rendered output; cancel; unknown job ids; compare; headers and the
 * first-load budget. The XSS corpus is in xss.test.ts, the hub in hub-ui.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { REPO_ROOT } from '../helpers/jupyterhub.js';
import { call } from '../helpers/http.js';
import { code, md, notebookJson, tempDir } from '../helpers/notebooks.js';
import { launchChromium, PNG_B64, serve, type Served } from './serve.js';

const USER = 'dana';

const DEMO = notebookJson([
  md('# Demo report\nRows for *someone*, with $x^2$.'),
  code('n = 3  # how many rows to print\nname = "world"  # who is greeted\nrate = 0.5\nflag = True\nitems = [1, 2]\ngate = ""  # test hook: a file to wait for before finishing', ['parameters']),
  // With `gate`, the run waits (bounded) until the test has seen its live progress: no timing race.
  code(
    'import os, time\nfor i in range(n):\n    print(f"row {i} for {name}", flush=True)\n' +
      't0 = time.time()\nwhile gate and not os.path.exists(gate) and time.time() - t0 < 90:\n    time.sleep(0.05)',
  ),
  code(
    'from IPython.display import Image, display\nimport base64\n' +
      `display(Image(data=base64.b64decode("${PNG_B64}")))\n` +
      'display({"application/scrapbook.scrap.json+json": {"name": "total", "data": n * rate, "encoder": "json", "version": 1}}, raw=True)',
  ),
]);

// Records the types the kernel saw (a scrap), for the form's float test.
const FLOATS = notebookJson([
  code('rate = 0.5\nitems = [1, 2]', ['parameters']),
  code(
    'seen = f"{type(rate).__name__} {rate!r} {type(items[0]).__name__} {items!r}"\nprint(seen)\n' +
      'display({"application/scrapbook.scrap.json+json": {"name": "seen", "data": seen, "encoder": "json", "version": 1}}, raw=True)',
  ),
]);

const SLOW = notebookJson([code('import time\nprint("started", flush=True)\ntime.sleep(120)')]);

describe('web UI (Chromium, real hubmill serve)', { timeout: 240_000 }, () => {
  let root: string;
  let srv: Served;
  let browser: Browser;

  before(async () => {
    root = await tempDir('hubmill-ui-');
    const home = join(root, 'homes', USER);
    await mkdir(join(home, 'reports'), { recursive: true });
    await writeFile(join(home, 'reports', 'demo.ipynb'), DEMO);
    await writeFile(join(home, 'slow.ipynb'), SLOW);
    await writeFile(join(home, 'floats.ipynb'), FLOATS);
    srv = await serve({
      HUBMILL_HOME_TEMPLATE: join(root, 'homes', '{username}'),
      HUBMILL_DATA_DIR: join(root, 'data'),
      HUBMILL_POOL: 'python3:1',
      HUBMILL_SHUTDOWN_GRACE_S: '1',
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  async function signedIn(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const seen: string[] = [];
    page.on('console', (m) => seen.push(`console ${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => seen.push(`page error: ${e.message}`));
    page.on('response', (r) => seen.push(`${r.status()} ${r.url()}`));
    page.on('requestfailed', (r) => seen.push(`failed ${r.url()} ${r.failure()?.errorText}`));
    // On a failure, what the page showed and did goes into the error.
    (page as Page & { explain(): Promise<string> }).explain = async () =>
      `\n--- page text ---\n${(await page.evaluate(() => document.body.innerText).catch(() => '?')).slice(0, 2000)}\n--- page events ---\n${seen.slice(-40).join('\n')}`;
    await page.goto(srv.link);
    await page.waitForURL(`${srv.base}/ui/`);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return { context, page };
  }

  /** Runs a test body on a signed-in page; a failure carries the page's text and recent events. */
  async function onPage(fn: (page: Page, context: BrowserContext) => Promise<void>): Promise<void> {
    const { context, page } = await signedIn();
    try {
      await fn(page, context);
    } catch (e) {
      const why = await (page as Page & { explain(): Promise<string> }).explain();
      if (e instanceof Error) {
        e.message += why;
        if (e.stack) e.stack += why;
      }
      throw e;
    } finally {
      await context.close();
    }
  }

  it('signs in with the printed token link: HttpOnly session cookie without the token, token dropped from the address bar; sign-out ends the session', async () => {
    await onPage(async (page, context) => {
      assert.ok(!page.url().includes('token'), page.url());
      const cookies = await context.cookies(srv.base);
      const cookie = cookies.find((c) => c.name === 'hubmill-session');
      assert.ok(cookie, 'sign-in cookie set');
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Lax');
      assert.equal(cookie.secure, false, 'plain http');
      for (const c of cookies) {
        for (const form of [srv.token, Buffer.from(srv.token).toString('base64'), Buffer.from(srv.token).toString('base64url')]) {
          assert.ok(!c.value.includes(form) && !decodeURIComponent(c.value).includes(form), `cookie ${c.name} holds the token`);
        }
      }
      assert.equal(await page.evaluate(() => document.cookie), '', 'the page cannot read its cookies');
      // The cookie alone cannot submit (XSRF): unsafe methods also need the header from ui/api/me.
      const jar = `hubmill-session=${cookie.value}`;
      const me = await call(srv.base, 'GET', '/ui/api/me', null, undefined, { cookie: jar });
      assert.equal(me.status, 200);
      assert.equal(me.body.admin, true);
      assert.ok(me.body.users.includes(USER), JSON.stringify(me.body));
      const body = { username: USER, notebook: 'reports/demo.ipynb', parameters: { n: 0 } };
      assert.equal((await call(srv.base, 'POST', '/api/v1/jobs', null, body, { cookie: jar })).status, 403);
      assert.equal((await call(srv.base, 'POST', '/api/v1/jobs', null, body, { cookie: jar, 'x-xsrf-token': 'wrong' })).status, 403);
      assert.equal((await call(srv.base, 'POST', '/api/v1/jobs', null, body, { cookie: jar, 'x-xsrf-token': me.body.xsrf_token })).status, 202);
      // The service token has no home: the UI opens the home of the user the service runs as, or offers the switch.
      await page.getByRole('combobox', { name: 'User' }).selectOption(USER);
      await page.getByRole('link', { name: 'demo.ipynb' }).waitFor();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('API token').waitFor();
      assert.equal((await context.cookies(srv.base)).find((c) => c.name === 'hubmill-session'), undefined);
      // A copy of the cookie kept from before the sign-out is refused: the session is gone from the store.
      assert.equal((await call(srv.base, 'GET', '/ui/api/me', null, undefined, { cookie: jar })).status, 401);
    });
  });

  it('browses to a notebook, fills the form, runs it, follows it live, and shows the rendered output', async () => {
    await onPage(async (page, context) => {
      await page.getByRole('combobox', { name: 'User' }).selectOption(USER);
      await page.getByRole('searchbox', { name: 'Filter notebooks' }).fill('demo');
      await page.getByRole('link', { name: 'demo.ipynb' }).click();
      await page.getByRole('heading', { name: 'demo.ipynb' }).waitFor();
      // One labelled input per parameter, with its default and help.
      assert.equal(await page.getByLabel('n', { exact: true }).inputValue(), '3');
      assert.equal(await page.getByLabel('name', { exact: true }).inputValue(), 'world');
      assert.equal(await page.getByLabel('rate', { exact: true }).inputValue(), '0.5');
      assert.equal(await page.getByLabel('flag', { exact: true }).isChecked(), true);
      assert.equal(await page.getByLabel('items', { exact: true }).inputValue(), '[1,2]');
      await page.getByText('how many rows to print').waitFor();
      // A bad value is flagged in place and blocks Run.
      await page.getByLabel('n', { exact: true }).fill('three');
      await page.getByText('Enter a whole number').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled(), true);
      await page.getByLabel('n', { exact: true }).fill('4');
      await page.getByLabel('name', { exact: true }).fill('Ada <b>Lovelace</b>');
      const gate = join(root, 'release-live-run');
      await page.getByLabel('gate', { exact: true }).fill(gate);
      assert.ok(await page.getByRole('button', { name: 'Schedule…' }).isVisible());
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      await page.waitForURL(/#\/job\//);
      // Live per-cell progress while it runs, then succeeded.
      await page.getByRole('list', { name: 'Cell progress' }).getByText('row 0 for Ada <b>Lovelace</b>').waitFor();
      assert.equal(await page.locator('.job-status .status').textContent(), 'running', 'progress is seen while it runs');
      await writeFile(gate, '');
      await page.locator('.job-status .status', { hasText: 'succeeded' }).waitFor({ timeout: 60_000 });
      // The rendered notebook: printed values, the image, the markdown, the scrap.
      const nb = page.locator('.notebook');
      await nb.getByText('row 3 for Ada <b>Lovelace</b>').waitFor();
      const img = nb.locator('img.out-img');
      await img.waitFor();
      assert.ok(await img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth === 4), 'image output decoded');
      await nb.getByRole('heading', { name: 'Demo report' }).waitFor();
      await page.locator('table.scraps').getByText('2').waitFor();
      // Download: the .ipynb, as an attachment.
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download', exact: true }).click()]);
      assert.match(download.suggestedFilename(), /^demo-.+\.ipynb$/);
      const saved = JSON.parse(await readFile((await download.path())!, 'utf8'));
      assert.equal(saved.nbformat, 4);
      for (const name of ['Rerun', 'Edit & rerun']) assert.ok(await page.getByRole('button', { name, exact: true }).isVisible(), name);
      // Edit & rerun opens the form filled in from this run.
      await page.getByRole('button', { name: 'Edit & rerun' }).click();
      await page.waitForURL(/#\/notebook\?/);
      await page.getByText('filled in from run').waitFor();
      assert.equal(await page.getByLabel('n', { exact: true }).inputValue(), '4');
    });
  });

  it('sends a typed 2.0 as a float (and [1.0, 2] with its float), on Run and on Rerun', async () => {
    await onPage(async (page, context) => {
      await page.getByRole('combobox', { name: 'User' }).selectOption(USER);
      await page.evaluate(() => (location.hash = '#/notebook?path=floats.ipynb'));
      await page.getByRole('heading', { name: 'floats.ipynb' }).waitFor();
      await page.getByLabel('rate', { exact: true }).fill('2.0');
      await page.getByLabel('items', { exact: true }).fill('[1.0, 2]');
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      await page.waitForURL(/#\/job\//);
      await page.locator('.job-status .status', { hasText: 'succeeded' }).waitFor({ timeout: 60_000 });
      const first = decodeURIComponent(/#\/job\/([^?]+)/.exec(page.url())![1]!);
      const job = await call(srv.base, 'GET', `/api/v1/jobs/${first}`, srv.token);
      assert.equal(job.body.result?.seen, 'float 2.0 float [1.0, 2]', JSON.stringify(job.body));
      // Rerun sends the job's parameters again: still floats.
      await page.getByRole('button', { name: 'Rerun', exact: true }).click();
      await page.waitForURL((u) => /#\/job\//.test(u.hash) && !u.hash.includes(first));
      const second = decodeURIComponent(/#\/job\/([^?]+)/.exec(page.url())![1]!);
      // The first job's page (its status already `succeeded`) may still be shown: wait for the new job's own page.
      await page.getByText(second).first().waitFor();
      await page.locator('.job-status .status', { hasText: 'succeeded' }).waitFor({ timeout: 60_000 });
      // And the store's word, not only the page's: bounded.
      let rerun = await call(srv.base, 'GET', `/api/v1/jobs/${second}`, srv.token);
      for (const until = Date.now() + 60_000; rerun.body.status !== 'succeeded' && Date.now() < until; ) {
        await page.waitForTimeout(100);
        rerun = await call(srv.base, 'GET', `/api/v1/jobs/${second}`, srv.token);
      }
      assert.equal(rerun.body.result?.seen, 'float 2.0 float [1.0, 2]', JSON.stringify(rerun.body));
    });
  });

  it('works from the keyboard: filter, open a notebook, edit a parameter, run with Enter', async () => {
    await onPage(async (page, context) => {
      // The list keeps the previous user's notebooks until this user's arrive; tabbing through a list that is
      // then replaced loses the focus. Wait for this user's notebooks and jobs before moving the focus.
      const select = page.getByRole('combobox', { name: 'User' });
      if ((await select.inputValue()) !== USER) {
        const listed = (what: string) =>
          page.waitForResponse((r) => {
            const u = new URL(r.url());
            return u.pathname.endsWith(`/api/v1/${what}`) && u.searchParams.get('username') === USER;
          });
        const lists = Promise.all([listed('notebooks'), listed('jobs')]);
        await select.selectOption(USER);
        await lists;
      }
      await page.getByRole('searchbox', { name: 'Filter notebooks' }).focus();
      await page.keyboard.type('demo');
      await page.getByText('demo.ipynb', { exact: true }).waitFor();
      let onLink = false;
      for (let i = 0; i < 20 && !onLink; i++) {
        await page.keyboard.press('Tab');
        onLink = await page.evaluate(() => document.activeElement?.textContent === 'demo.ipynb');
      }
      assert.ok(onLink, 'the notebook link is reachable with Tab');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'demo.ipynb' }).waitFor();
      let onField = false;
      for (let i = 0; i < 20 && !onField; i++) {
        await page.keyboard.press('Tab');
        onField = await page.evaluate(() => document.activeElement?.id === 'param-n');
      }
      assert.ok(onField, 'the parameter n is reachable with Tab');
      await page.keyboard.press('Control+A');
      await page.keyboard.type('1');
      await page.keyboard.press('Enter');
      await page.waitForURL(/#\/job\//);
      await page.locator('.job-status .status', { hasText: 'succeeded' }).waitFor({ timeout: 60_000 });
      await page.locator('.notebook').getByText('row 0 for world').waitFor();
      assert.equal(await page.locator('.notebook').getByText('row 1 for world').count(), 0);
    });
  });

  it("never lists one notebook's runs under another notebook's name while the other's runs load", async () => {
    const done = await call(srv.base, 'POST', '/api/v1/jobs?wait=true', srv.token, { username: USER, notebook: 'floats.ipynb' }, {}, 120_000);
    assert.equal(done.body.status, 'succeeded', JSON.stringify(done.body));
    const runLink = `a[href="#/job/${done.body.id}"]`;
    await onPage(async (page) => {
      await page.goto(`${srv.base}/ui/#/notebook?path=floats.ipynb`);
      await page.getByRole('combobox', { name: 'User' }).selectOption(USER);
      await page.locator(runLink).waitFor();
      // The other notebook's runs are held until the page has been looked at: no race with their arrival.
      let release = () => {};
      const held = new Promise<void>((r) => (release = r));
      let requested = () => {};
      const asked = new Promise<void>((r) => (requested = r));
      await page.route(
        (u) => u.pathname.endsWith('/api/v1/jobs') && u.searchParams.get('notebook') === 'slow.ipynb',
        async (route) => {
          requested();
          await held;
          await route.continue().catch(() => {});
        },
      );
      try {
        await page.evaluate(() => (location.hash = '#/notebook?path=slow.ipynb'));
        await asked;
        await page.getByRole('heading', { name: 'slow.ipynb' }).waitFor();
        assert.equal(await page.locator(runLink).count(), 0, "floats.ipynb's run listed on the page of slow.ipynb");
      } finally {
        release();
      }
      await page.getByRole('link', { name: 'All runs of this notebook' }).or(page.getByText('No runs yet')).first().waitFor();
      assert.equal(await page.locator(runLink).count(), 0);
    });
  });

  it('cancels a long-running job from its page', async () => {
    const submitted = await call(srv.base, 'POST', '/api/v1/jobs', srv.token, { username: USER, notebook: 'slow.ipynb' });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    await onPage(async (page, context) => {
      await page.goto(`${srv.base}/ui/#/job/${submitted.body.id}`);
      await page.locator('.job-status .status', { hasText: 'running' }).waitFor({ timeout: 60_000 });
      const t0 = Date.now();
      await page.getByRole('button', { name: 'Cancel' }).click();
      await page.locator('.job-status .status', { hasText: 'cancelled' }).waitFor({ timeout: 20_000 });
      assert.ok(Date.now() - t0 < 20_000);
      assert.equal(await page.getByRole('button', { name: 'Cancel' }).count(), 0);
    });
  });

  it('shows "not found" for an unknown job id, and nothing of a job', async () => {
    await onPage(async (page, context) => {
      await page.goto(`${srv.base}/ui/#/job/00000000-dead-beef-0000-000000000000`);
      await page.getByRole('heading', { name: 'Job not found' }).waitFor();
      assert.equal(await page.locator('dl.facts').count(), 0);
    });
  });

  it('compares two runs with different parameters: the differing parameter and result are highlighted', async () => {
    const ids: string[] = [];
    for (const n of [1, 5]) {
      const r = await call(srv.base, 'POST', '/api/v1/jobs?wait=true', srv.token, { username: USER, notebook: 'reports/demo.ipynb', parameters: { n, name: 'same' } }, {}, 120_000);
      assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
      ids.push(r.body.id);
    }
    await onPage(async (page, context) => {
      await page.goto(`${srv.base}/ui/#/compare?a=${ids[0]}&b=${ids[1]}`);
      const params = page.locator('table.compare', { has: page.locator('caption', { hasText: 'Parameters' }) });
      await params.waitFor();
      assert.match((await params.locator('tr[data-name="n"]').getAttribute('class')) ?? '', /differs/);
      assert.doesNotMatch((await params.locator('tr[data-name="name"]').getAttribute('class')) ?? '', /differs/);
      const results = page.locator('table.compare', { has: page.locator('caption', { hasText: 'Results' }) });
      assert.match((await results.locator('tr[data-name="total"]').getAttribute('class')) ?? '', /differs/);
      const bg = await params.locator('tr[data-name="n"]').evaluate((el) => getComputedStyle(el).backgroundColor);
      assert.notEqual(bg, 'rgba(0, 0, 0, 0)', 'highlighted');
      await page.locator('table.cells tr.differs').first().waitFor();
    });
  });

  it('serves the UI with a strict CSP and nosniff, sends browsers from / to the UI, keeps JSON for API clients, and stays in the JS budget', async () => {
    const html = await fetch(`${srv.base}/ui/`);
    const csp = html.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'self'/);
    assert.equal(html.headers.get('x-content-type-options'), 'nosniff');
    assert.doesNotMatch(await html.text(), /<script>|<script [^>]*>[^<]/, 'no inline scripts');
    const frame = await fetch(`${srv.base}/ui/frame`);
    assert.match(frame.headers.get('content-security-policy') ?? '', /^sandbox allow-scripts; default-src 'none'/);
    const browserRoot = await fetch(`${srv.base}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    assert.equal(browserRoot.status, 302);
    assert.equal(browserRoot.headers.get('location'), '/ui/');
    const api = await call(srv.base, 'GET', '/');
    assert.equal(api.status, 200);
    assert.equal(api.body.service, 'hubmill');
    const withToken = await fetch(`${srv.base}/?token=${srv.token}`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    assert.match(withToken.headers.get('location') ?? '', /^\/ui\/signin\?token=/);
    const bad = await fetch(`${srv.base}/ui/signin?token=wrong`, { redirect: 'manual' });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('set-cookie'), null);
    const report = JSON.parse(await readFile(join(REPO_ROOT, 'dist', 'ui', 'build.json'), 'utf8'));
    const js = await fetch(`${srv.base}/ui/assets/${report.js}`);
    assert.equal(js.status, 200);
    assert.ok(report.js_gzip_bytes > 10_000 && report.js_gzip_bytes <= 250 * 1024, `first-load JS ${report.js_gzip_bytes} B gzipped`);
    assert.equal((await fetch(`${srv.base}/ui/assets/..%2Fbuild.json`)).status, 400, 'no path outside the assets');
    assert.equal((await fetch(`${srv.base}/ui/assets/missing.js`)).status, 404);
  });
});
