/**
 * Untrusted notebook content in the UI (Chromium, real hubmill serve, real
 * python3 kernel): an XSS corpus in markdown cells and in outputs (HTML with
 * <script>, <img onerror>, javascript: links, SVG with script, JavaScript
 * output, HTML that reads document.cookie and calls the API). Asserted: no
 * dialog opens; no request from inside an output reaches the server; the
 * page's cookies are unreachable from outputs (and HttpOnly for the page);
 * nothing executable lands in the page's own DOM; sandboxed HTML still runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Frame } from 'playwright-core';
import { call } from '../helpers/http.js';
import { code, md, notebookJson, tempDir } from '../helpers/notebooks.js';
import { launchChromium, serve, type Served } from './serve.js';

const USER = 'eve';

const PROBE = `<div id="probe">probe</div>
<script>
var r = {};
try { r.cookie = 'read:' + document.cookie; } catch (e) { r.cookie = 'blocked:' + e.name; }
try { r.parent = 'read:' + parent.document.cookie; } catch (e) { r.parent = 'blocked:' + e.name; }
try { r.storage = 'read:' + localStorage.length; } catch (e) { r.storage = 'blocked:' + e.name; }
try { var x = new XMLHttpRequest(); x.open('GET', '/api/v1/jobs?from-output=xhr'); x.send(); } catch (e) {}
new Image().src = '/api/v1/jobs?from-output=img';
fetch('/api/v1/jobs?from-output=fetch', { credentials: 'include' })
  .then(function () { r.fetch = 'reached'; }, function (e) { r.fetch = 'blocked:' + e.name; })
  .then(function () { document.getElementById('probe').setAttribute('data-result', JSON.stringify(r)); });
</script>`;

const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><script>alert('svg-output')</script><circle cx="10" cy="10" r="8" fill="red" onload="alert('svg-onload')"/></svg>`;

const display = (mime: Record<string, string>) => `from IPython.display import display\ndisplay(${JSON.stringify(mime)}, raw=True)`;

const CORPUS = notebookJson([
  md("# Hostile markdown\n<script>alert('md-script')</script>\n\n<img src=\"x\" onerror=\"alert('md-img')\">\n\n[click me](javascript:alert('md-link'))\n\n" +
    "<a href=\"javascript:alert('md-a')\">anchor</a>\n\n<svg><script>alert('md-svg')</script></svg>\n\n<iframe src=\"javascript:alert('md-iframe')\"></iframe>\n\n" +
    '<img src="/api/v1/jobs?from-output=md-img" alt="api image">\n\n<span style="background:url(/api/v1/jobs?from-output=md-css)">styled</span>'),
  code(display({ 'text/html': "<b>html</b><script>alert('html-script')</script><img src=x onerror=\"alert('html-img')\"><a href=\"javascript:alert('html-link')\">go</a>" })),
  code(display({ 'text/html': PROBE })),
  code(display({ 'image/svg+xml': SVG })),
  code(display({ 'application/javascript': "alert('js-output'); fetch('/api/v1/jobs?from-output=js')" })),
  code(display({ 'text/markdown': "<img src=x onerror=\"alert('out-md')\"> [x](javascript:alert('out-md-link'))" })),
  code("print(\"<script>alert('stream')</script><img src=x onerror=alert('stream-img')>\")"),
]);

describe('web UI: untrusted outputs and markdown (Chromium)', { timeout: 180_000 }, () => {
  let root: string;
  let srv: Served;
  let browser: Browser;
  let jobId: string;

  before(async () => {
    root = await tempDir('hubmill-ui-xss-');
    await mkdir(join(root, 'homes', USER), { recursive: true });
    await writeFile(join(root, 'homes', USER, 'corpus.ipynb'), CORPUS);
    srv = await serve({
      HUBMILL_HOME_TEMPLATE: join(root, 'homes', '{username}'),
      HUBMILL_DATA_DIR: join(root, 'data'),
      HUBMILL_POOL: 'python3:1',
      HUBMILL_SHUTDOWN_GRACE_S: '1',
      HUBMILL_LOG_LEVEL: 'info',
    });
    browser = await launchChromium();
    const r = await call(srv.base, 'POST', '/api/v1/jobs?wait=true', srv.token, { username: USER, notebook: 'corpus.ipynb' }, {}, 120_000);
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
    jobId = r.body.id;
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('renders the corpus with no dialog, no request from outputs, cookies out of reach, nothing executable in the page', async () => {
    const context = await browser.newContext();
    const dialogs: string[] = [];
    const fromOutputs: string[] = [];
    const blockedByCsp: string[] = [];
    // Chromium reports the attempts it blocks by CSP as failed requests ('csp'); anything else left the browser.
    context.on('requestfailed', (req) => {
      if (req.url().includes('from-output') && req.failure()?.errorText === 'csp') blockedByCsp.push(req.url());
    });
    context.on('request', (req) => {
      if (req.url().includes('from-output')) fromOutputs.push(req.url());
    });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(30_000);
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(srv.link);
      await page.waitForURL(`${srv.base}/ui/`);
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      const cookie = (await context.cookies(srv.base)).find((c) => c.name === 'hubmill-session');
      assert.ok(cookie?.httpOnly, 'HttpOnly sign-in cookie');
      await page.goto(`${srv.base}/ui/#/job/${jobId}`);
      const nb = page.locator('.notebook');
      await nb.getByRole('heading', { name: 'Hostile markdown' }).waitFor();
      // The stream is shown as text, escaped.
      await nb.locator('pre.out-stream', { hasText: "<script>alert('stream')</script>" }).waitFor();
      // Sandboxed frames: every HTML/SVG/JS output is in one, none with allow-same-origin.
      const frames = nb.locator('iframe');
      assert.equal(await frames.count(), 4);
      for (const sandbox of await frames.evaluateAll((els) => els.map((e) => e.getAttribute('sandbox')))) assert.equal(sandbox, 'allow-scripts');

      // The probe ran (scripts do run in the sandbox) and found everything out of reach.
      let probe: Frame | undefined;
      let result: string | null = null;
      for (let i = 0; i < 200 && result === null; i++) {
        for (const f of page.frames()) {
          if (f === page.mainFrame()) continue;
          const r = await f.locator('#probe').getAttribute('data-result', { timeout: 100 }).catch(() => null);
          if (r) {
            probe = f;
            result = r;
          }
        }
        if (result === null) await page.waitForTimeout(50);
      }
      assert.ok(probe && result, 'the sandboxed probe ran');
      const r = JSON.parse(result) as Record<string, string>;
      assert.equal(r.cookie, 'blocked:SecurityError', 'document.cookie unreachable in an output');
      assert.equal(r.parent, 'blocked:SecurityError', 'the parent page unreachable');
      assert.equal(r.storage, 'blocked:SecurityError');
      assert.equal(r.fetch, 'blocked:TypeError', 'fetch to the API blocked');
      assert.doesNotMatch(result, new RegExp(cookie!.value.slice(0, 12).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));

      // The page's own DOM: no scripts, no inline handlers, no javascript: URLs, no images from the server.
      const bad = await nb.evaluate((root) => {
        const out: string[] = [];
        for (const el of root.querySelectorAll('*')) {
          if (el.tagName === 'SCRIPT') out.push('script');
          for (const a of el.attributes) {
            if (/^on/i.test(a.name)) out.push(`${el.tagName} ${a.name}`);
            if (/^\s*javascript:/i.test(a.value)) out.push(`${el.tagName} ${a.name}=${a.value}`);
            if (a.name === 'style' && /url\(/i.test(a.value)) out.push(`${el.tagName} style url`);
          }
          if (el.tagName === 'IMG' && !/^data:/.test(el.getAttribute('src') ?? 'data:')) out.push(`img ${el.getAttribute('src')}`);
          if (el.tagName === 'IFRAME' && !(el.getAttribute('src') ?? '').endsWith('/ui/frame')) out.push(`iframe ${el.getAttribute('src')}`);
        }
        return out;
      });
      assert.deepEqual(bad, []);
      assert.equal(await page.evaluate(() => document.cookie), '', 'the page cannot read its HttpOnly cookie');
      // Every frame has rendered its content and run its scripts (they report their height at the end).
      await page.waitForFunction(() => [...document.querySelectorAll('.notebook iframe')].every((f) => f.getAttribute('data-rendered') === 'true'), null, { timeout: 20_000 });
      assert.deepEqual(dialogs, [], 'no dialog opened');
      assert.ok(blockedByCsp.length >= 2, `the probe's requests were attempted and blocked: ${blockedByCsp.join(', ')}`);
      assert.deepEqual(fromOutputs.filter((u) => !blockedByCsp.includes(u)), [], 'no request from inside an output left the browser');
      // And the server's request log (level info) never saw one.
      assert.match(srv.log(), /"url":"\/ui\/frame"/, 'the request log is on');
      assert.doesNotMatch(srv.log(), /from-output/, 'no request from inside an output reached the server');
    } finally {
      await context.close();
    }
  });
});
