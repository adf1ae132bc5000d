import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { executeNotebook } from '../../src/engine/execute.js';
import { parseNotebook } from '../../src/notebook/read.js';
import type { Parameters } from '../../src/notebook/notebook-types.js';
import { hostileStrings } from '../helpers/hostile-strings.js';
import { code, makeNotebook, tempDir } from '../helpers/notebooks.js';

/**
 * The security property of parameter injection: every hostile string passed as a
 * parameter reaches a real kernel as exactly the same string, and none runs as code.
 */
for (const kernel of ['python3', 'ir'] as const) {
  test(`hostile string parameters round-trip exactly through a real ${kernel} kernel and never run`, async () => {
    const dir = await tempDir();
    const canary = join(dir, 'pwned');
    const strings = hostileStrings(canary);
    const params: Parameters = {};
    strings.forEach((s, i) => (params[`s${i}`] = s));
    const names = strings.map((_, i) => `s${i}`);
    // Read values back as hex of their UTF-8 bytes, so nothing is lost in display.
    const readBack =
      kernel === 'python3'
        ? `for n in ${JSON.stringify(names)}:\n    print(n, globals()[n].encode('utf-8', 'surrogatepass').hex())`
        : `for (n in c(${names.map((n) => JSON.stringify(n)).join(', ')})) cat(n, paste(as.character(charToRaw(enc2utf8(get(n)))), collapse = ""), "\\n")`;
    const nb = parseNotebook(JSON.stringify(makeNotebook([code(kernel === 'python3' ? 's0 = ""' : 's0 <- ""', ['parameters']), code(readBack)], kernel)), 'hostile.ipynb');
    const result = await executeNotebook({ kernelName: kernel, notebook: nb, inputPath: join(dir, 'in.ipynb'), outputPath: join(dir, 'out.ipynb'), parameters: params });
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    const text = (result.notebook.cells[2] as { outputs: Array<{ text: string }> }).outputs.map((o) => o.text).join('');
    const got = new Map(text.trim().split('\n').map((l) => { const [n, hex] = l.trim().split(/\s+/); return [n!, hex ?? ''] as const; }));
    strings.forEach((s, i) => {
      assert.equal(got.get(`s${i}`), Buffer.from(s, 'utf8').toString('hex'), `string #${i} ${JSON.stringify(s)} changed in ${kernel}`);
    });
    assert.equal(existsSync(canary), false, 'a parameter ran as code');
  });
}
