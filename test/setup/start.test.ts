/**
 * What a new user meets first: the Node.js check of scripts/ensure.mjs, the
 * start-up banner (the README shows the same lines), and the log format.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { chooseLogFormat, createLogger, routeConsoleDebug } from '../../src/logger.js';
import { startBanner } from '../../src/server.js';
import { HUBMILL_VERSION } from '../../src/version.js';
// @ts-expect-error: a plain .mjs script without type declarations
import { nodeVersionProblem } from '../../scripts/node-version.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const check = nodeVersionProblem as (range: string, version: string) => string | null;

describe('start-up', () => {
  it('the Node.js check accepts the versions package.json allows and names the need otherwise', () => {
    const range = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    assert.equal(check(range, process.versions.node), null, 'this Node.js runs the tests, so it must pass');
    assert.equal(check('>=20.6', '20.6.0'), null);
    assert.equal(check('>=20.6', '22.1.0'), null);
    assert.match(check('>=20.6', '20.5.9') ?? '', /needs Node\.js 20\.6 or newer; this is Node\.js 20\.5\.9/);
    assert.match(check('>=20.6', '18.19.0') ?? '', /needs Node\.js/);
    assert.match(check('^20', '20.0.0') ?? '', /not of the form/);
  });

  it('the banner is the one the README shows', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const url = 'http://127.0.0.1:8002/?token=3f9c…';
    const banner = startBanner(url, true).join('\n');
    assert.ok(readme.includes(`\`\`\`\n${banner}\n\`\`\``), `README lacks the banner:\n${banner}`);
    assert.equal(startBanner(url, false).length, 2);
    assert.match(banner, new RegExp(`^hubmill ${HUBMILL_VERSION.replace(/\./g, '\\.')} is running at:`));
  });

  it('logs are readable on a terminal and JSON otherwise, unless chosen', () => {
    assert.equal(chooseLogFormat('auto', true), 'pretty');
    assert.equal(chooseLogFormat('auto', false), 'json');
    assert.equal(chooseLogFormat('json', true), 'json');
    assert.equal(chooseLogFormat('pretty', false), 'pretty');
  });

  it('the JSON logger writes one JSON object per line, with secrets redacted', async () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter(Boolean)));
    const logger = await createLogger({ logLevel: 'info', logFormat: 'json' }, false, out);
    logger.info({ token: 'secret-xyz' }, 'hello');
    await new Promise((r) => setImmediate(r));
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(rec.msg, 'hello');
    assert.equal(rec.token, '[redacted]');
  });

  it("a library's console.debug goes to the log at debug level, not as a plain line on stdout", async () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter(Boolean)));
    const saved = console.debug;
    try {
      routeConsoleDebug(await createLogger({ logLevel: 'debug', logFormat: 'json' }, false, out));
      console.debug('Starting WebSocket: %s', 'ws://x');
      await new Promise((r) => setImmediate(r));
      const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
      assert.equal(rec.msg, 'Starting WebSocket: ws://x');
      assert.equal(rec.level, 20);
      lines.length = 0;
      routeConsoleDebug(await createLogger({ logLevel: 'info', logFormat: 'json' }, false, out));
      console.debug('hidden at info');
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(lines, []);
    } finally {
      console.debug = saved;
    }
  });

  it('the pretty logger writes a readable line, not JSON', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString('utf8')));
    const logger = await createLogger({ logLevel: 'info', logFormat: 'pretty' }, false, out);
    logger.info({ jobId: 'j1' }, 'job started');
    await new Promise((r) => setImmediate(r));
    assert.match(text, /INFO.*job started/);
    assert.match(text, /jobId: "j1"/);
    assert.throws(() => JSON.parse(text));
  });
});
