/**
 * Regenerates docs/ui/*.png: every page in light and dark mode, from a real
 * `hubmill serve` with sample notebooks. Not a test; run it with
 *   node --import tsx test/ui/screenshots.ts
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/jupyterhub.js';
import { call } from '../helpers/http.js';
import { code, md, notebookJson, tempDir } from '../helpers/notebooks.js';
import { launchChromium, PNG_B64, serve } from './serve.js';

const USER = 'ada';
const OUT = join(REPO_ROOT, 'docs', 'ui');

const REPORT = notebookJson([
  md('# Sales report\nMonthly totals per region. The growth model is $y = a \\cdot e^{rt}$.'),
  code('region = "north"  # region to report on\nmonths = 6  # how many months back\nrate = 0.05  # growth rate per month\nshow_chart = True\nthresholds = [10, 20, 50]', ['parameters']),
  code('import time\ntotals = [round(100 * (1 + rate) ** m, 1) for m in range(months)]\nfor m, t in enumerate(totals):\n    print(f"{region} month {m}: {t}")\n    time.sleep(0.2)'),
  code(
    'from IPython.display import Image, display, HTML\nimport base64\n' +
      `display(Image(data=base64.b64decode("${PNG_B64}"), width=120))\n` +
      'display(HTML("<table><tr><th>region</th><th>total</th></tr><tr><td>" + region + "</td><td>" + str(sum(totals)) + "</td></tr></table>"))\n' +
      'display({"application/scrapbook.scrap.json+json": {"name": "total", "data": round(sum(totals), 1), "encoder": "json", "version": 1}}, raw=True)',
  ),
]);
const FAILING = notebookJson([code('limit = 3', ['parameters']), code('values = [1, 2, 3]\nvalues[limit]')]);

async function main() {
  const root = await tempDir('hubmill-shots-');
  const home = join(root, 'homes', USER);
  await mkdir(join(home, 'reports', 'hubmill-outputs'), { recursive: true });
  await mkdir(join(home, 'scratch'), { recursive: true });
  await writeFile(join(home, 'reports', 'sales.ipynb'), REPORT);
  await writeFile(join(home, 'reports', 'hubmill-outputs', 'old-run.ipynb'), REPORT);
  await writeFile(join(home, 'scratch', 'index-error.ipynb'), FAILING);
  await writeFile(join(home, 'quick.ipynb'), notebookJson([code('print("hi")')]));
  const srv = await serve({ HUBMILL_HOME_TEMPLATE: join(root, 'homes', '{username}'), HUBMILL_DATA_DIR: join(root, 'data'), HUBMILL_POOL: 'python3:1' });
  const browser = await launchChromium();
  try {
    const run = async (notebook: string, parameters: Record<string, unknown> = {}) =>
      (await call(srv.base, 'POST', '/api/v1/jobs?wait=true', srv.token, { username: USER, notebook, parameters }, {}, 120_000)).body as { id: string };
    const a = await run('reports/sales.ipynb', { months: 4 });
    const b = await run('reports/sales.ipynb', { months: 6, region: 'south' });
    const failed = await run('scratch/index-error.ipynb');
    const api = async (method: string, path: string, body?: unknown) => (await call(srv.base, method, path, srv.token, body, {}, 120_000)).body as { id: string };
    const nightly = await api('POST', '/api/v1/schedules', { name: 'nightly sales', username: USER, notebook: 'reports/sales.ipynb', parameters: { region: 'south' }, cron: '30 2 * * *', timezone: 'Europe/Berlin', max_retries: 2 });
    await api('POST', '/api/v1/schedules', { name: 'weekly check', username: USER, notebook: 'scratch/index-error.ipynb', cron: '0 8 * * 1', timezone: 'America/New_York', paused: true });
    await api('POST', `/api/v1/schedules/${nightly.id}/run`, {});
    // A pipeline: a quick first task, then a sweep of the report over a grid (its totals charted).
    const pipeline = await api('POST', '/api/v1/pipelines', {
      name: 'sales sweep',
      username: USER,
      parameters: { region: 'south' },
      tasks: [
        { key: 'warm_up', notebook: 'quick.ipynb' },
        { key: 'sweep', notebook: 'reports/sales.ipynb', depends_on: ['warm_up'], for_each: { grid: { rate: [0.02, 0.05, 0.1], months: [2, 4, 6] }, concurrency: 2 } },
        { key: 'check', notebook: 'scratch/index-error.ipynb', depends_on: ['sweep'], run_if: 'all_done' },
      ],
    });
    const pipelineRun = (await call(srv.base, 'POST', `/api/v1/pipelines/${pipeline.id}/runs?wait=true`, srv.token, {}, {}, 180_000)).body as { id: string };
    await mkdir(OUT, { recursive: true });
    for (const scheme of ['light', 'dark'] as const) {
      const context = await browser.newContext({ colorScheme: scheme, viewport: { width: 1200, height: 800 } });
      const page = await context.newPage();
      page.setDefaultTimeout(30_000);
      const shot = async (name: string) => {
        // The whole page in the viewport: Chromium does not paint off-screen sandboxed frames.
        const height = await page.evaluate(() => document.documentElement.scrollHeight);
        await page.setViewportSize({ width: 1200, height: Math.max(800, Math.min(height, 4000)) });
        await page.waitForTimeout(1000); // fonts and sandboxed frames paint (screenshots only)
        await page.screenshot({ path: join(OUT, `${name}-${scheme}.png`) });
        await page.setViewportSize({ width: 1200, height: 800 });
      };
      await page.goto(`${srv.base}/ui/`);
      await page.getByLabel('API token').waitFor();
      await shot('signin');
      await page.goto(srv.link);
      await page.waitForURL(`${srv.base}/ui/`);
      await page.getByRole('combobox', { name: 'User' }).selectOption(USER);
      await page.getByRole('link', { name: 'sales.ipynb' }).waitFor();
      await shot('notebooks');
      await page.getByRole('link', { name: 'sales.ipynb' }).click();
      await page.getByLabel('region', { exact: true }).waitFor();
      await page.getByLabel('months', { exact: true }).fill('x');
      await shot('notebook');
      await page.goto(`${srv.base}/ui/#/job/${b.id}`);
      await page.locator('.notebook img').waitFor();
      await page.waitForFunction(() => [...document.querySelectorAll('.notebook iframe')].every((f) => f.getAttribute('data-rendered') === 'true'));
      await shot('job');
      await page.goto(`${srv.base}/ui/#/job/${failed.id}`);
      await page.locator('.job-error').waitFor();
      await shot('job-failed');
      await page.goto(`${srv.base}/ui/#/jobs`);
      await page.locator('table.jobs').waitFor();
      await shot('jobs');
      await page.goto(`${srv.base}/ui/#/schedules`);
      await page.locator('table.schedules').waitFor();
      await shot('schedules');
      await page.goto(`${srv.base}/ui/#/schedules/${nightly.id}`);
      await page.locator('table.history .status-succeeded').waitFor({ timeout: 120_000 });
      await shot('schedule');
      await page.goto(`${srv.base}/ui/#/schedules/new?notebook=reports%2Fsales.ipynb`);
      await page.getByLabel('region', { exact: true }).waitFor();
      await page.getByLabel('Repeat').selectOption('weekdays');
      await page.getByLabel('At', { exact: true }).fill('06:45');
      await page.getByLabel('Time zone').selectOption('Europe/Berlin');
      await page.waitForFunction(() => [...document.querySelectorAll('ol.fires time')].filter((t) => t.textContent?.endsWith('06:45')).length === 5);
      await shot('schedule-new');
      await page.goto(`${srv.base}/ui/#/compare?a=${a.id}&b=${b.id}`);
      await page.locator('table.cells').waitFor();
      await shot('compare');
      await page.goto(`${srv.base}/ui/#/pipelines`);
      await page.locator('table.pipelines').waitFor();
      await shot('pipelines');
      await page.goto(`${srv.base}/ui/#/pipelines/${pipeline.id}`);
      await page.locator('table.matrix td.cell').first().waitFor();
      await shot('pipeline');
      await page.goto(`${srv.base}/ui/#/pipelines/${pipeline.id}/runs/${pipelineRun.id}`);
      await page.locator('figure.sweep-chart circle.point').first().waitFor();
      await page.locator('#chart-x').selectOption('param.months');
      await page.locator('#chart-colour').selectOption('param.rate');
      await shot('pipeline-run');
      await page.goto(`${srv.base}/ui/#/pipelines/${pipeline.id}/edit`);
      const yaml = page.getByLabel('Pipeline YAML');
      await yaml.waitFor();
      await yaml.fill((await yaml.inputValue()).replace('depends_on: [sweep]', 'depends_on: [swep]'));
      await page.getByRole('button', { name: 'Save' }).click();
      await page.locator('.yaml-note').first().waitFor();
      await shot('pipeline-edit');
      await context.close();
    }
  } finally {
    await browser.close();
    await srv.stop();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
