/**
 * The web UI behind a real JupyterHub, through its proxy (Chromium, real
 * `hubmill serve` from dist/ as an external hub service): the hub's OAuth
 * login lands on the UI as the right user; a run from the form (XSRF through
 * the session cookie) links to the output in the user's JupyterLab; another
 * user's job id shows "not found" and nothing of the job.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { freePort, hubServiceEnv, startHub, type Hub } from '../helpers/jupyterhub.js';
import { call } from '../helpers/http.js';
import { code, notebookJson } from '../helpers/notebooks.js';
import { launchChromium, serve, type Served } from './serve.js';

describe('web UI behind a real JupyterHub (Chromium)', { timeout: 240_000 }, () => {
  let hub: Hub;
  let srv: Served;
  let browser: Browser;
  let bobJob: string;

  before(async () => {
    const port = await freePort();
    hub = await startHub({ hubmillPort: port, users: ['alice', 'bob'] });
    for (const u of ['alice', 'bob']) {
      await writeFile(join(hub.homeOf(u), `${u}-report.ipynb`), notebookJson([code('x = 1  # a number', ['parameters']), code('print("x is", x)')]));
    }
    srv = await serve(
      {
        HUBMILL_HOME_TEMPLATE: hub.homeTemplate,
        HUBMILL_DATA_DIR: join(hub.dir, 'hubmill-data'),
        HUBMILL_API_TOKEN: 'static-admin-token-ui-7f3a',
        HUBMILL_POOL: 'python3:1',
        ...hubServiceEnv(hub),
      },
      { port },
    );
    browser = await launchChromium();
    const bob = (await hub.createToken('bob')).token;
    const job = await call(srv.base, 'POST', '/api/v1/jobs?wait=true', bob, { notebook: 'bob-report.ipynb' }, {}, 120_000);
    assert.equal(job.body.status, 'succeeded', JSON.stringify(job.body));
    bobJob = job.body.id;
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
    await hub?.stop();
  });

  it('OAuth sign-in through the proxy lands on the UI as that user; runs from the form; links to JupyterLab; other users\' jobs are not found', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(30_000);
      // What the hub's Services menu opens.
      await page.goto(`${hub.url}/services/hubmill/`);
      await page.waitForURL(/\/hub\/login/);
      await page.fill('#username_input', 'alice');
      await page.fill('#password_input', 'anything');
      await Promise.all([page.waitForURL(/\/services\/hubmill\/ui\//), page.click('#login_submit')]);
      await page.getByRole('link', { name: 'alice-report.ipynb' }).waitFor();
      assert.ok(await page.locator('header .who').getByText('alice', { exact: true }).first().isVisible(), 'signed in as alice');
      assert.equal(await page.getByRole('link', { name: 'bob-report.ipynb' }).count(), 0);

      await page.getByRole('link', { name: 'alice-report.ipynb' }).click();
      await page.getByLabel('x', { exact: true }).fill('41');
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      await page.waitForURL(/#\/job\//);
      await page.locator('.job-status .status', { hasText: 'succeeded' }).waitFor({ timeout: 60_000 });
      await page.locator('.notebook').getByText('x is 41').waitFor();
      const lab = await page.getByRole('link', { name: 'Open in JupyterLab' }).getAttribute('href');
      assert.match(lab ?? '', /^\/user\/alice\/lab\/tree\/hubmill-outputs\/alice-report-.+\.ipynb$/);

      await page.goto(`${hub.url}/services/hubmill/ui/#/job/${bobJob}`);
      await page.getByRole('heading', { name: 'Job not found' }).waitFor();
      assert.equal(await page.locator('dl.facts').count(), 0);
      assert.equal(await page.getByText('bob-report').count(), 0, 'nothing of the job is shown');
    } finally {
      await context.close();
    }
  });
});
