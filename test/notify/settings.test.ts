/**
 * The e-mail settings as config.ts reads them: smtp:// and smtps:// URLs, a From
 * address, refusals that never echo the URL (it holds a password), and the
 * notification retry settings' defaults.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { UsageError } from '../../src/errors.js';

const base = { HUBMILL_API_TOKEN: 'settings-test-token' };

describe('e-mail and notification settings', () => {
  it('reads HUBMILL_SMTP_URL, HUBMILL_SMTP_FROM and HUBMILL_PUBLIC_URL; none of them by default', () => {
    const none = loadConfig({}, base);
    assert.deepEqual([none.smtpUrl, none.smtpFrom, none.publicUrl, none.notifyAttempts, none.notifyBackoffS], [null, null, null, 8, 2]);
    const c = loadConfig({}, {
      ...base,
      HUBMILL_SMTP_URL: 'smtps://mailer:s3cr%40t@mail.example.org:465',
      HUBMILL_SMTP_FROM: 'Hubmill <hubmill@example.org>',
      HUBMILL_PUBLIC_URL: 'https://hub.example.org/services/hubmill/',
      HUBMILL_NOTIFY_ATTEMPTS: '3',
      HUBMILL_NOTIFY_BACKOFF_S: '0.5',
    });
    assert.deepEqual([c.smtpUrl, c.smtpFrom, c.publicUrl, c.notifyAttempts, c.notifyBackoffS], [
      'smtps://mailer:s3cr%40t@mail.example.org:465', 'Hubmill <hubmill@example.org>', 'https://hub.example.org/services/hubmill', 3, 0.5,
    ]);
    assert.equal(loadConfig({}, { ...base, HUBMILL_SMTP_URL: 'smtp://127.0.0.1:2525' }).smtpUrl, 'smtp://127.0.0.1:2525');
  });

  it('refuses another scheme, a URL it cannot read (without echoing it) and a From that is no address', () => {
    assert.throws(() => loadConfig({}, { ...base, HUBMILL_SMTP_URL: 'http://mail.example.org' }), (e: unknown) => e instanceof UsageError && /smtp:\/\/ or smtps:\/\//.test((e as Error).message));
    assert.throws(
      () => loadConfig({}, { ...base, HUBMILL_SMTP_URL: 'smtp://user:pa ss@' }),
      (e: unknown) => e instanceof UsageError && !(e as Error).message.includes('pa ss'),
    );
    assert.throws(() => loadConfig({}, { ...base, HUBMILL_SMTP_FROM: 'not an address' }), UsageError);
    assert.throws(() => loadConfig({}, { ...base, HUBMILL_NOTIFY_ATTEMPTS: '0' }), UsageError);
  });
});
