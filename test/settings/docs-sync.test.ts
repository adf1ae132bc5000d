/**
 * The settings table is the one source of the configuration: README.md and
 * docs/admin.md show it as rendered, `hubmill serve` declares exactly its flags,
 * and loadConfig's defaults are its defaults.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/jupyterhub.js';
import { loadConfig } from '../../src/config.js';
import { DOCS_BEGIN, DOCS_END, renderSettingsTable, withSettingsTable } from '../../src/settings/docs.js';
import { SETTINGS, type Setting } from '../../src/settings/table.js';
import type { SettingKey } from '../../src/settings/config-type.js';

const DOCS = ['README.md', join('docs', 'admin.md')];
const entries = () => Object.entries(SETTINGS) as [SettingKey, Setting<unknown>][];

describe('the settings table and its documentation', () => {
  for (const file of DOCS) {
    it(`${file} shows the table as rendered from src/settings/table.ts (npm run docs:settings rewrites it)`, () => {
      const text = readFileSync(join(REPO_ROOT, file), 'utf8');
      const at = text.indexOf(DOCS_BEGIN);
      const end = text.indexOf(DOCS_END);
      assert.ok(at >= 0 && end > at, `${file} has the markers`);
      assert.equal(text.slice(at + DOCS_BEGIN.length, end).trim(), renderSettingsTable());
    });
  }

  it('a hand edit of a documented default is noticed (the check can fail)', () => {
    const text = readFileSync(join(REPO_ROOT, 'docs', 'admin.md'), 'utf8');
    const edited = text.replace('| `HUBMILL_USER_SERVER_IDLE_S` |  | `300` |', '| `HUBMILL_USER_SERVER_IDLE_S` |  | `600` |');
    assert.notEqual(edited, text, 'the row to edit exists');
    assert.notEqual(withSettingsTable(edited, 'admin.md'), edited);
    assert.equal(withSettingsTable(edited, 'admin.md'), text);
  });

  it('every setting has a one-line description, a distinct variable, and a stated default', () => {
    const envs = new Set<string>();
    for (const [key, s] of entries()) {
      assert.ok(s.doc.length > 0 && !s.doc.includes('\n'), key);
      assert.ok(!envs.has(s.env), `${s.env} is used once`);
      envs.add(s.env);
      if (typeof s.default === 'function') assert.ok(s.shown, `${key}: a computed default says how it is computed`);
    }
    assert.ok(renderSettingsTable().split('\n').length >= entries().length + 2);
  });

  it("loadConfig's defaults are the table's", () => {
    const c = loadConfig({}, { HOME: '/home/svc' }) as unknown as Record<string, unknown>;
    let plain = 0;
    for (const [key, s] of entries()) {
      if (typeof s.default === 'function') continue;
      assert.deepEqual(c[key], s.default, key);
      plain++;
    }
    assert.ok(plain > 20, `${plain} plain defaults compared`);
    assert.equal(c.userServerIdleS, 300);
  });

  it('`hubmill serve --help` offers exactly the flags of the table', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'index.ts'), 'serve', '--help'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const offered = [...r.stdout.matchAll(/^\s+(--[a-z-]+) </gm)].map((m) => m[1]).sort();
    const declared = entries().flatMap(([, s]) => (s.flag ? [s.flag.name] : [])).sort();
    assert.deepEqual(offered, declared);
    assert.ok(declared.includes('--port') && declared.includes('--pool'));
    assert.match(r.stdout, /HUBMILL_PORT, default 8002/);
  });

  it('a flag given by its own name (--pool → pool) or by its Config field sets the same setting', () => {
    assert.deepEqual(loadConfig({ pool: 'python3:3' }, {}).poolSizes, { python3: 3 });
    assert.deepEqual(loadConfig({ poolSizes: 'python3:4' }, { HUBMILL_POOL: 'python3:1' }).poolSizes, { python3: 4 });
  });
});
