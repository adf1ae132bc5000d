import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isOutputNotebook, listNotebooks } from '../../src/users/notebook-listing.js';

describe('output notebooks', () => {
  test('isOutputNotebook: hubmill-outputs folders and _output_ names', () => {
    for (const p of ['hubmill-outputs/nb-01J.ipynb', 'a/b/hubmill-outputs/nb-01J.ipynb', 'nb_output_20260101_120000.ipynb', 'x/report_output_1.ipynb']) {
      assert.equal(isOutputNotebook(p), true, p);
    }
    for (const p of ['nb.ipynb', 'hubmill-outputs.ipynb', 'a/hubmill-outputs-old/nb.ipynb', 'output.ipynb', 'my_outputs.ipynb']) {
      assert.equal(isOutputNotebook(p), false, p);
    }
  });

  test('listNotebooks skips outputs only when asked', async (t) => {
    const home = await mkdtemp(join(tmpdir(), 'hubmill-outputs-'));
    t.after(() => rm(home, { recursive: true, force: true }));
    await mkdir(join(home, 'w', 'hubmill-outputs'), { recursive: true });
    await writeFile(join(home, 'w', 'nb.ipynb'), '{}');
    await writeFile(join(home, 'w', 'hubmill-outputs', 'nb-01J.ipynb'), '{}');
    await writeFile(join(home, 'nb_output_20260101_120000.ipynb'), '{}');
    const rel = async (skipOutputs: boolean) => (await listNotebooks(home, { skipOutputs })).map((n) => n.relative_path);
    assert.deepEqual(await rel(true), ['w/nb.ipynb']);
    assert.deepEqual(await rel(false), ['nb_output_20260101_120000.ipynb', 'w/hubmill-outputs/nb-01J.ipynb', 'w/nb.ipynb']);
  });
});
