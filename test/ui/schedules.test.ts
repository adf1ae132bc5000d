/**
 * The Schedules pages in headless Chromium against a real `hubmill serve`
 * (from dist/) and a real python3 kernel: create a daily schedule in a chosen
 * time zone from the notebook page's "Schedule…" (5 preview times, shown as you
 * type; typed parameters; the webhook secret shown once), pause and resume it,
 * "Run now" gives a job in its history, edit it (with catch-up "none", the
 * misfire grace: a number of seconds, empty for null), and the Jobs page's schedule filter.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { call } from '../helpers/http.js';
import { code, notebookJson, tempDir } from '../helpers/notebooks.js';
import { launchChromium, serve, type Served } from './serve.js';

const USER = 'sam';
const ZONE = 'Asia/Tokyo'; // UTC+9 all year: the preview's UTC times are known

describe('web UI: schedules (Chromium, real hubmill serve)', { timeout: 240_000 }, () => {
  let root: string;
  let srv: Served;
  let browser: Browser;

  before(async () => {
    root = await tempDir('hubmill-ui-sched-');
    const home = join(root, 'homes', USER);
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'daily.ipynb'), notebookJson([code('n = 3  # rows\nlabel = "x"', ['parameters']), code('print(label * n)')]));
    srv = await serve({
      HUBMILL_HOME_TEMPLATE: join(root, 'homes', '{username}'),
      HUBMILL_DATA_DIR: join(root, 'data'),
      HUBMILL_POOL: 'python3:1',
      HUBMILL_SHUTDOWN_GRACE_S: '1',
      HUBMILL_WEBHOOK_ALLOW: '127.0.0.1',
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await call(srv.base, method, path, srv.token, body);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const previewTimes = (page: Page) => page.locator('ol.fires time').evaluateAll((ts) => ts.map((t) => `${t.getAttribute('datetime')} ${t.textContent}`));

  it('creates a daily schedule in a time zone with a live preview, pauses, resumes, runs it now and edits it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    const seen: string[] = [];
    page.on('pageerror', (e) => seen.push(`page error: ${e.message}`));
    page.on('response', (r) => seen.push(`${r.status()} ${r.url()}`));
    try {
      // A job that is not the schedule's, for the Jobs filter below.
      const other = (await api('POST', '/api/v1/jobs?wait=true', { username: USER, notebook: 'daily.ipynb', parameters: {} })) as { id: string };

      await page.goto(srv.link);
      await page.waitForURL(`${srv.base}/ui/`);
      await page.getByRole('combobox', { name: 'User' }).selectOption(USER);
      await page.getByRole('link', { name: 'daily.ipynb' }).click();
      await page.getByRole('button', { name: 'Schedule…' }).click();
      await page.getByRole('heading', { name: 'New schedule' }).waitFor();
      // The notebook page's typed inputs, defaults filled in.
      await page.getByText('rows', { exact: true }).waitFor();
      assert.equal(await page.getByLabel('n', { exact: true }).inputValue(), '3');
      assert.equal(await page.getByLabel('Notebook').inputValue(), 'daily.ipynb');
      await page.getByLabel('n', { exact: true }).fill('two');
      await page.getByText('Enter a whole number').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Create schedule' }).isDisabled(), true);
      await page.getByLabel('n', { exact: true }).fill('2');

      await page.getByLabel('Name').fill('morning rows');
      await page.getByLabel('Repeat').selectOption('daily');
      await page.getByLabel('At', { exact: true }).fill('07:30');
      const zones = await page.getByLabel('Time zone').locator('option').count();
      assert.ok(zones > 300, `the IANA zones are offered (${zones})`);
      assert.equal(await page.locator('#s-tz option[value="Asia/Kolkata"]').count(), 1, 'current names of zones ICU lists under an old one');
      await page.getByLabel('Time zone').selectOption(ZONE);
      assert.equal(await page.getByLabel('Cron').inputValue(), '30 7 * * *');
      // The server's 5 next fire times, shown in the zone: 07:30 there is 22:30 UTC the day before.
      await page.waitForFunction(() => [...document.querySelectorAll('ol.fires time')].filter((t) => t.textContent?.endsWith('07:30')).length === 5);
      const times = await previewTimes(page);
      assert.equal(times.length, 5);
      for (const t of times) assert.match(t, /^\d{4}-\d\d-\d\dT22:30:00\.000Z \w{3} \d{4}-\d\d-\d\d 07:30$/);
      // Typing a cron updates the preview (debounced) and recognizes the preset.
      await page.getByLabel('Cron').fill('15 6 * * 1-5');
      await page.waitForFunction(() => [...document.querySelectorAll('ol.fires time')].filter((t) => t.textContent?.endsWith('06:15')).length === 5);
      assert.equal(await page.getByLabel('Repeat').inputValue(), 'weekdays');
      for (const t of await previewTimes(page)) assert.match(t, /T21:15:00\.000Z (Mon|Tue|Wed|Thu|Fri) /);
      await page.getByLabel('Cron').fill('61 * * * *');
      await page.locator('#s-preview [role=alert]').waitFor();
      await page.getByLabel('Repeat').selectOption('daily');
      assert.equal(await page.getByLabel('Cron').inputValue(), '15 6 * * *');
      await page.getByLabel('At', { exact: true }).fill('07:30');
      await page.waitForFunction(() => [...document.querySelectorAll('ol.fires time')].filter((t) => t.textContent?.endsWith('07:30')).length === 5);

      await page.getByLabel('Retries').fill('2');
      await page.getByLabel('Webhook URL (on failure)').fill('http://127.0.0.1:9/hook');
      await page.getByRole('button', { name: 'Create schedule' }).click();
      // The webhook secret, shown this once.
      const secret = await page.getByLabel('Webhook secret').inputValue();
      assert.match(secret, /^[0-9a-f]{64}$/);
      await page.getByRole('link', { name: 'Open the schedule' }).click();
      await page.getByRole('heading', { name: 'morning rows', exact: true }).waitFor();
      assert.equal(await page.getByLabel('Webhook secret').count(), 0);

      const list = (await api('GET', `/api/v1/schedules?username=${USER}`)) as { schedules: { id: string; cron: string; timezone: string; parameters: unknown; max_retries: number; paused: boolean; next_run_at: string | null; webhook_secret?: string }[] };
      assert.equal(list.schedules.length, 1);
      const s = list.schedules[0]!;
      assert.deepEqual([s.cron, s.timezone, s.parameters, s.max_retries, s.webhook_secret], ['30 7 * * *', ZONE, { n: 2 }, 2, undefined]);
      assert.match(s.next_run_at!, /T22:30:00\.000Z$/);

      // Pause and resume, by their accessible names.
      await page.getByRole('button', { name: 'Pause morning rows' }).click();
      await page.getByRole('button', { name: 'Resume morning rows' }).waitFor();
      await page.getByText('paused', { exact: true }).waitFor();
      assert.equal(((await api('GET', `/api/v1/schedules/${s.id}`)) as { paused: boolean }).paused, true);
      await page.getByRole('button', { name: 'Resume morning rows' }).click();
      await page.getByRole('button', { name: 'Pause morning rows' }).waitFor();
      const resumed = (await api('GET', `/api/v1/schedules/${s.id}`)) as { paused: boolean; next_run_at: string };
      assert.equal(resumed.paused, false);
      assert.match(resumed.next_run_at, /T22:30:00\.000Z$/);

      // Run now: a job in the schedule's history, followed until it succeeds.
      await page.getByText('No runs yet.').waitFor();
      await page.getByRole('button', { name: 'Run now' }).click();
      const row = page.locator('table.history tbody tr');
      await row.first().waitFor();
      assert.equal(await row.count(), 1);
      await row.first().locator('.status-succeeded').waitFor({ timeout: 120_000 });
      await page.locator('dl.facts').getByRole('link', { name: 'last run succeeded' }).waitFor();
      const jobId = await row.first().getAttribute('data-job-id');
      const job = (await api('GET', `/api/v1/jobs/${jobId}`)) as { schedule_id: string; parameters: unknown; status: string };
      assert.deepEqual([job.schedule_id, job.parameters, job.status], [s.id, { n: 2 }, 'succeeded']);

      // The list: next run in the zone, pause button.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Schedules' }).click();
      const listed = page.locator(`tr[data-schedule-id="${s.id}"]`);
      await listed.getByRole('link', { name: 'morning rows' }).waitFor();
      assert.match(await listed.innerText(), /07:30/);
      await listed.getByRole('link', { name: 'last run succeeded' }).waitFor();
      assert.ok(await listed.getByRole('button', { name: 'Pause morning rows' }).isVisible());

      // The Jobs page filtered by the schedule: its job, not the other one.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs' }).click();
      await page.locator(`tr[data-job-id="${other.id}"]`).waitFor();
      await page.getByLabel('Schedule', { exact: true }).selectOption({ label: 'morning rows' });
      // The unfiltered list goes at once (no rows under the new filter until its page arrives), then the schedule's job alone.
      await page.locator(`tr[data-job-id="${other.id}"]`).waitFor({ state: 'detached' });
      await page.locator(`tr[data-job-id="${jobId}"]`).waitFor();
      assert.equal(await page.locator('table.jobs tbody tr').count(), 1);
      assert.equal(await page.locator(`tr[data-job-id="${other.id}"]`).count(), 0);
      assert.match(page.url(), new RegExp(`schedule=${s.id}`));

      // Edit: the form is filled in from the schedule; a change is saved.
      await page.goto(`${srv.base}/ui/#/schedules/${s.id}/edit`);
      await page.getByRole('heading', { name: 'Edit schedule morning rows' }).waitFor();
      assert.equal(await page.getByLabel('Repeat').inputValue(), 'daily');
      assert.equal(await page.getByLabel('At', { exact: true }).inputValue(), '07:30');
      assert.equal(await page.getByLabel('Time zone').inputValue(), ZONE);
      await page.waitForFunction(() => (document.getElementById('param-n') as HTMLInputElement | null)?.value === '2');
      await page.getByLabel('Repeat').selectOption('weekly');
      await page.getByLabel('Day', { exact: true }).selectOption('Friday');
      // The misfire grace: offered with catch-up "none" only, a number of seconds (0–86400).
      const grace = page.getByLabel('Still run when late by (s)');
      assert.equal(await grace.count(), 0, 'no grace field with catch-up "latest"');
      await page.getByLabel('Runs missed while down').selectOption('none');
      assert.equal(await grace.getAttribute('type'), 'number');
      assert.equal(await grace.inputValue(), '', 'empty: none set');
      await grace.fill('90000');
      await page.getByText('Enter 0 to 86400 seconds, or nothing').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Save' }).isDisabled(), true);
      await grace.fill('90.5');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('heading', { name: 'morning rows', exact: true }).waitFor();
      await page.getByText('still runs up to 90.5 s late').waitFor();
      const edited = (await api('GET', `/api/v1/schedules/${s.id}`)) as { cron: string; parameters: unknown; next_run_at: string; catchup: string; misfire_grace_s: number | null };
      assert.deepEqual([edited.cron, edited.parameters, edited.catchup, edited.misfire_grace_s], ['30 7 * * 5', { n: 2 }, 'none', 90.5]);
      assert.equal(new Date(edited.next_run_at).getUTCDay(), 4); // Friday 07:30 in Tokyo is Thursday 22:30 UTC

      // Emptied, the grace is null again (the scheduler's own tolerance).
      await page.goto(`${srv.base}/ui/#/schedules/${s.id}/edit`);
      await page.getByRole('heading', { name: 'Edit schedule morning rows' }).waitFor();
      assert.equal(await grace.inputValue(), '90.5', 'the form shows the stored grace');
      await grace.fill('');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('heading', { name: 'morning rows', exact: true }).waitFor();
      const cleared = (await api('GET', `/api/v1/schedules/${s.id}`)) as { catchup: string; misfire_grace_s: number | null };
      assert.deepEqual([cleared.catchup, cleared.misfire_grace_s], ['none', null]);
    } catch (e) {
      const why = `\n--- page text ---\n${(await page.evaluate(() => document.body.innerText).catch(() => '?')).slice(0, 2000)}\n--- events ---\n${seen.slice(-30).join('\n')}`;
      if (e instanceof Error) e.message += why;
      throw e;
    } finally {
      await context.close();
    }
  });
});
