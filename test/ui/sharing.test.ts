/**
 * Sharing in the web UI behind a real JupyterHub (Chromium, real `hubmill serve`
 * from dist/ as an external hub service): alice signs in through the hub's
 * OAuth, opens her schedule's Share dialog (her hub group offered), grants the
 * analysts `run`; bob (an analyst) finds it under "Shared with me" and runs it
 * now (the run is alice's, triggered by bob); alice creates a share link of the
 * finished job in its dialog, the link opens without any session, and after
 * "Revoke" it is refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { freePort, hubServiceEnv, startHub, type Hub } from '../helpers/jupyterhub.js';
import { call } from '../helpers/http.js';
import { code, notebookJson } from '../helpers/notebooks.js';
import { eventually } from '../helpers/wait.js';
import { launchChromium, serve, type Served } from './serve.js';

describe('web UI: sharing behind a real JupyterHub (Chromium)', { timeout: 240_000 }, () => {
  let hub: Hub;
  let srv: Served;
  let browser: Browser;
  let schedule: string;
  let job: string;

  before(async () => {
    const port = await freePort();
    hub = await startHub({
      hubmillPort: port,
      users: ['alice', 'bob', 'carol'],
      extraConfig: 'c.JupyterHub.load_roles.append({"name": "test-groups", "services": ["test-admin"], "scopes": ["admin:groups"]})',
    });
    for (const [g, users] of [['analysts', ['alice', 'bob']], ['viewers', ['carol']]] as const) {
      assert.equal((await hub.api('POST', `/groups/${g}`, { users })).status, 201);
    }
    await writeFile(join(hub.homeOf('alice'), 'report.ipynb'), notebookJson([code('print("REPORT-OUTPUT")')]));
    srv = await serve(
      { HUBMILL_HOME_TEMPLATE: hub.homeTemplate, HUBMILL_DATA_DIR: join(hub.dir, 'hubmill-data'), HUBMILL_POOL: 'python3:1', ...hubServiceEnv(hub) },
      { port },
    );
    browser = await launchChromium();
    const alice = (await hub.createToken('alice')).token;
    const s = await call(srv.base, 'POST', '/api/v1/schedules', alice, { name: 'team report', cron: '0 3 * * *', notebook: 'report.ipynb' });
    assert.equal(s.status, 201, JSON.stringify(s.body));
    schedule = s.body.id;
    const j = await call(srv.base, 'POST', '/api/v1/jobs?wait=true', alice, { notebook: 'report.ipynb' }, {}, 120_000);
    assert.equal(j.body.status, 'succeeded', JSON.stringify(j.body));
    job = j.body.id;
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
    await hub?.stop();
  });

  async function signIn(user: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${hub.url}/services/hubmill/`);
    await page.waitForURL(/\/hub\/login/);
    await page.fill('#username_input', user);
    await page.fill('#password_input', 'anything');
    await Promise.all([page.waitForURL(/\/services\/hubmill\/ui\//), page.click('#login_submit')]);
    return { context, page };
  }

  it('alice shares her schedule with a hub group; bob finds it under "Shared with me" and runs it as alice', async () => {
    const a = await signIn('alice');
    try {
      await a.page.goto(`${hub.url}/services/hubmill/ui/#/schedules/${schedule}`);
      await a.page.getByRole('button', { name: 'Share' }).click();
      const dialog = a.page.getByRole('dialog', { name: 'Share team report' });
      await dialog.getByText('Not shared.').waitFor();
      // Her hub groups are offered.
      await dialog.getByRole('button', { name: 'analysts' }).click();
      assert.equal(await dialog.getByLabel('Group name').inputValue(), 'analysts');
      await dialog.getByLabel('Level', { exact: true }).selectOption('run');
      await dialog.getByRole('button', { name: 'Add' }).click();
      await dialog.getByRole('button', { name: 'Save' }).click();
      await dialog.getByRole('status').getByText('Saved.').waitFor();
      await dialog.getByRole('button', { name: 'Close' }).click();
    } finally {
      await a.context.close();
    }
    const perms = await call(srv.base, 'GET', `/api/v1/schedules/${schedule}/permissions`, (await hub.createToken('alice')).token);
    assert.deepEqual(perms.body.permissions, [{ group: 'analysts', level: 'run' }]);

    const b = await signIn('bob');
    try {
      await b.page.goto(`${hub.url}/services/hubmill/ui/#/schedules`);
      await b.page.getByText('No schedules yet', { exact: false }).or(b.page.locator('table.schedules')).first().waitFor();
      await b.page.getByLabel('Shared with me').check();
      await b.page.locator(`tr[data-schedule-id="${schedule}"]`).waitFor();
      await b.page.getByRole('link', { name: 'team report' }).click();
      await b.page.getByRole('button', { name: 'Run now' }).click();
      const row = b.page.locator('table.history tbody tr').first();
      await row.waitFor();
      const jobId = (await row.getAttribute('data-job-id'))!;
      const bob = (await hub.createToken('bob')).token;
      const ran = await eventually(async () => {
        const r = await call(srv.base, 'GET', `/api/v1/jobs/${jobId}`, bob);
        return r.body.status === 'succeeded' ? r.body : false;
      }, 60_000, 'the run to succeed', 200);
      assert.equal(ran.username, 'alice');
      assert.equal(ran.triggered_by, 'bob');
      // Bob may run but not manage: the dialog shows his level and no Save.
      await b.page.getByRole('button', { name: 'Share' }).click();
      const dialog = b.page.getByRole('dialog', { name: 'Share team report' });
      await dialog.getByText('You have run.').waitFor();
      assert.equal(await dialog.getByRole('button', { name: 'Save' }).count(), 0);
    } finally {
      await b.context.close();
    }
  });

  it('alice creates a share link of a finished job; it opens without a session and is refused once revoked', async () => {
    const a = await signIn('alice');
    try {
      await a.page.goto(`${hub.url}/services/hubmill/ui/#/job/${job}`);
      await a.page.getByRole('button', { name: 'Share link' }).click();
      const dialog = a.page.getByRole('dialog', { name: 'Share links' });
      await dialog.getByLabel('Expires after').selectOption({ label: '1 day' });
      await dialog.getByRole('button', { name: 'Create link' }).click();
      const link = await dialog.getByLabel('New link').inputValue();
      assert.match(link, /\/services\/hubmill\/shared\/sl_/);
      await dialog.locator('table.links tbody tr').first().getByText('active').waitFor();

      const anon = await browser.newContext();
      try {
        const p = await anon.newPage();
        const res = await p.goto(link);
        assert.equal(res?.status(), 200);
        await p.locator('pre.out', { hasText: 'REPORT-OUTPUT' }).waitFor();
        assert.equal(await p.locator('a').count(), 0, 'the page links nowhere');
        await dialog.getByRole('button', { name: /^Revoke / }).click();
        await dialog.locator('table.links tbody tr').first().getByText('revoked').waitFor();
        const again = await p.goto(link);
        assert.equal(again?.status(), 410);
        assert.equal(await p.getByText('REPORT-OUTPUT', { exact: false }).count(), 0);
      } finally {
        await anon.close();
      }
    } finally {
      await a.context.close();
    }
  });
});
