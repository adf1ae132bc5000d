import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, parsePoolSizes, serviceUrl } from '../../src/config.js';
import { UsageError } from '../../src/errors.js';

describe('loadConfig', () => {
  it('uses the documented defaults and generates a token when neither a token nor a hub is configured', () => {
    const c = loadConfig({}, { HOME: '/home/svc' });
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8002);
    assert.equal(c.homeTemplate, '/home/{username}');
    assert.equal(c.dataDir, '/home/svc/.local/share/hubmill');
    assert.equal(c.apiTokenGenerated, true);
    assert.match(c.apiToken!, /^[0-9a-f]{48}$/);
    assert.deepEqual(c.poolSizes, { python3: 2 });
    assert.equal(c.forkServer, true);
    assert.equal(c.servicePrefix, '/');
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.poolSizes));
    assert.equal(serviceUrl(c), `http://127.0.0.1:8002/?token=${c.apiToken}`);
  });

  it('reads the environment, and flags win over it', () => {
    const env = {
      HUBMILL_HOST: '0.0.0.0',
      HUBMILL_PORT: '9000',
      HUBMILL_HOME_TEMPLATE: '/srv/homes/{username}',
      HUBMILL_DATA_DIR: '/var/lib/hubmill',
      HUBMILL_API_TOKEN: 'a-long-enough-token',
      HUBMILL_POOL: 'python3:2,ir:1',
      HUBMILL_PRELOAD: '{"python3": "import json"}',
      HUBMILL_MAX_TIMEOUT_S: '600',
      HUBMILL_REQUEUE_ON_RESTART: 'true',
      JUPYTERHUB_SERVICE_PREFIX: '/services/hubmill',
    };
    const c = loadConfig({ port: '9001', pool: 'python3:3' }, env);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.port, 9001);
    assert.equal(c.homeTemplate, '/srv/homes/{username}');
    assert.equal(c.dataDir, '/var/lib/hubmill');
    assert.equal(c.apiToken, 'a-long-enough-token');
    assert.equal(c.apiTokenGenerated, false);
    assert.deepEqual(c.poolSizes, { python3: 3 });
    assert.deepEqual(c.preload, { python3: 'import json' });
    assert.equal(c.maxTimeoutS, 600);
    assert.equal(c.requeueOnRestart, true);
    assert.equal(c.servicePrefix, '/services/hubmill/');
    assert.equal(serviceUrl(c), 'http://127.0.0.1:9001/services/hubmill/');
  });

  it('HUBMILL_FORK_SERVER=false turns the fork server off, and the default pool is then one kernel', () => {
    const c = loadConfig({}, { HUBMILL_FORK_SERVER: 'false' });
    assert.equal(c.forkServer, false);
    assert.deepEqual(c.poolSizes, { python3: 1 });
    assert.throws(() => loadConfig({}, { HUBMILL_FORK_SERVER: 'maybe' }), UsageError);
  });

  it('generates no token when a hub authenticates callers', () => {
    const c = loadConfig({}, { JUPYTERHUB_API_URL: 'http://127.0.0.1:8081/hub/api', JUPYTERHUB_API_TOKEN: 'secret' });
    assert.equal(c.apiToken, null);
    assert.equal(c.apiTokenGenerated, false);
  });

  it('refuses invalid values with a UsageError', () => {
    for (const [flags, env] of [
      [{ port: '80000' }, {}],
      [{ port: 'abc' }, {}],
      [{ homeTemplate: 'relative/{username}' }, {}],
      [{ homeTemplate: '/home/user' }, {}],
      [{ homeTemplate: '/home/x{username}' }, {}],
      [{}, { HUBMILL_POOL: 'python3' }],
      [{}, { HUBMILL_PRELOAD: '[1]' }],
      [{}, { HUBMILL_API_TOKEN: 'short' }],
      [{ logLevel: 'loud' }, {}],
      [{ concurrency: '0' }, {}],
      [{}, { JUPYTERHUB_API_URL: 'ftp://x' }],
    ] as const) {
      assert.throws(() => loadConfig(flags as never, env as never), UsageError, JSON.stringify([flags, env]));
    }
  });

  it('names the variable in the error, and derives a default from another setting', () => {
    assert.throws(() => loadConfig({}, { HUBMILL_USER_SERVER_IDLE_S: '-1' }), (e: Error) => e instanceof UsageError && /HUBMILL_USER_SERVER_IDLE_S/.test(e.message));
    assert.throws(() => loadConfig({ role: 'worker' }, {}), /set HUBMILL_DATABASE_URL/);
    assert.equal(loadConfig({}, { HUBMILL_USER_SERVER_IDLE_S: '45' }).userServerIdleS, 45);
    const c = loadConfig({}, { JUPYTERHUB_SERVICE_NAME: 'mill', JUPYTERHUB_SERVICE_PREFIX: '/services/mill', JUPYTERHUB_HOST: 'https://hub.example.org/' });
    assert.equal(c.jupyterhubClientId, 'service-mill');
    assert.equal(c.jupyterhubOauthCallbackUrl, '/services/mill/oauth_callback');
    assert.equal(c.hubPublicUrl, 'https://hub.example.org');
  });

  it('parses pool sizes in both notations', () => {
    assert.deepEqual(parsePoolSizes('python3:2, ir=0'), { python3: 2, ir: 0 });
    assert.deepEqual(parsePoolSizes('{"python3": 4}'), { python3: 4 });
    assert.deepEqual(parsePoolSizes(''), {});
  });
});
