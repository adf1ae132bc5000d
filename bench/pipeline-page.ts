/**
 * The run page of a 1,000-task pipeline run in headless Chromium (issue 17:
 * under 1 second): from the hash change that opens it (the app already loaded,
 * as a user clicks a run) to the graph of its 1,000 tasks drawn, every box in
 * view with its status. The run is live
 * (its first layer running) while it is timed, and cancelled afterwards.
 */
import { chromium } from 'playwright-core';
import type { BenchServe } from './lib/serve-child.js';
import { request } from './lib/http.js';
import { median } from './lib/stats.js';

export interface PageBench {
  tasks: number;
  samplesMs: number[];
  medianMs: number;
  maxMs: number;
}

export async function benchRunPage(svc: BenchServe, pipelineId: string, rounds = 5): Promise<PageBench> {
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await request(`${svc.base}/api/v1${path}`, { method, body, headers: svc.auth, timeoutMs: 120_000 });
    if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
    return r.json as { id: string };
  };
  const run = await call('POST', `/pipelines/${pipelineId}/runs`, {});
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const context = await browser.newContext({ viewport: { width: 1300, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    const token = svc.auth.authorization!.replace(/^token /, '');
    await page.goto(`${svc.base}/?token=${token}`);
    await page.waitForURL(`${svc.base}/ui/`);
    await page.getByRole('combobox', { name: 'User' }).selectOption('bench');
    const samples: number[] = [];
    for (let i = 0; i < rounds + 1; i++) {
      await page.evaluate(() => {
        location.hash = '#/pipelines';
      });
      await page.waitForFunction(() => !document.querySelector('div.graph'));
      const t0 = await page.evaluate((path) => {
        const t = performance.now();
        location.hash = path;
        return t;
      }, `#/pipelines/${pipelineId}/runs/${run.id}`);
      await page.waitForFunction(
        () => {
          // A graph this large builds the boxes in view (and a margin), the others as they scroll in (ui/src/pipeline-graph.tsx).
          const nodes = [...document.querySelectorAll('div.graph div.node')];
          return document.querySelector('div.graph')?.getAttribute('data-tasks') === '1000' && nodes.length > 0 && nodes.every((g) => (g.getAttribute('data-status') ?? 'none') !== 'none');
        },
        null,
        { polling: 'raf', timeout: 60_000 },
      );
      const took = await page.evaluate((t) => performance.now() - t, t0);
      if (i > 0) samples.push(took); // the first visit compiles the page's code
    }
    await context.close();
    return { tasks: 1000, samplesMs: samples.map((x) => Math.round(x)), medianMs: median(samples), maxMs: Math.max(...samples) };
  } finally {
    await browser.close();
    await call('POST', `/pipelines/${pipelineId}/runs/${run.id}/cancel`).catch(() => undefined);
  }
}
