/**
 * The jobs page over a long history (Chromium, real hubmill serve): a store
 * seeded with 20,000 jobs of 200 users (bench/million-seed.ts, the bench's own
 * seeding) shows the newest page first, and "Older" / "Newer" walk the pages
 * the API gives. No timing here: the bench (bench/million.ts) times the page.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { seedSqlite, seedT0 } from '../../bench/million-seed.js';
import { call } from '../helpers/http.js';
import { tempDir } from '../helpers/notebooks.js';
import { launchChromium, serve, type Served } from './serve.js';

const N = 20_000;
const PAGE = 25;

describe('web UI: the jobs page over 20,000 jobs (Chromium)', { timeout: 240_000 }, () => {
  let root: string;
  let srv: Served;
  let browser: Browser;

  before(async () => {
    root = await tempDir('hubmill-ui-history-');
    const path = join(root, 'data', 'jobs.sqlite');
    await mkdir(join(root, 'homes'), { recursive: true });
    await new SqliteJobStore({ path }).close(); // the migrations make the schema
    const db = new Database(path);
    try {
      seedSqlite(db, N, seedT0(N, Date.now()));
    } finally {
      db.close();
    }
    srv = await serve({
      HUBMILL_HOME_TEMPLATE: join(root, 'homes', '{username}'),
      HUBMILL_DATA_DIR: join(root, 'data'),
      HUBMILL_POOL: 'python3:0',
      HUBMILL_RETENTION_DAYS: '0', // the seeded history goes back months
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** The API's pages of all users' jobs, newest first, as the UI asks for them. */
  async function apiPages(count: number): Promise<string[][]> {
    const pages: string[][] = [];
    let cursor = '';
    for (let i = 0; i < count; i++) {
      const r = await call(srv.base, 'GET', `/api/v1/jobs?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ''}`, srv.token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      pages.push((r.body.jobs as { id: string }[]).map((j) => j.id));
      cursor = r.body.next_cursor;
      assert.ok(cursor, `page ${i + 1} has a next page`);
    }
    return pages;
  }

  const shown = (page: Page) => page.locator('table.jobs tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job-id') ?? ''));

  /** Waits until the table shows a full page whose first row differs from `notFirst`; returns its ids. */
  async function pageShown(page: Page, notFirst: string | null): Promise<string[]> {
    await page.waitForFunction(
      ({ n, id }) => {
        const rows = document.querySelectorAll('table.jobs tbody tr');
        return rows.length === n && rows[0]!.getAttribute('data-job-id') !== id;
      },
      { n: PAGE, id: notFirst },
    );
    return shown(page);
  }

  it('shows the newest page first, and Older / Newer page through the history', async () => {
    const expected = await apiPages(4);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(60_000);
      await page.goto(srv.link);
      await page.waitForURL(`${srv.base}/ui/`);
      await page.goto(`${srv.base}/ui/#/jobs?all=1`);
      let ids = await pageShown(page, null);
      assert.deepEqual(ids, expected[0], 'the newest page first');
      assert.ok(await page.getByRole('button', { name: 'Newer' }).isDisabled(), 'no newer page than the newest');
      for (let i = 1; i < expected.length; i++) {
        await page.getByRole('button', { name: 'Older' }).click();
        ids = await pageShown(page, ids[0]!);
        assert.deepEqual(ids, expected[i], `page ${i + 1}`);
      }
      for (let i = expected.length - 2; i >= 0; i--) {
        await page.getByRole('button', { name: 'Newer' }).click();
        ids = await pageShown(page, ids[0]!);
        assert.deepEqual(ids, expected[i], `back to page ${i + 1}`);
      }
      // Every user's jobs are there: the newest page mixes the 25 newest users' runs.
      assert.equal(new Set(await page.locator('table.jobs tbody tr td:nth-child(3)').allInnerTexts()).size, PAGE);
    } finally {
      await context.close();
    }
  });
});
