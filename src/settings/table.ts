/**
 * Every setting of hubmill, once: its environment variable, its `hubmill serve`
 * flag (if any), its default, its parser and one line of documentation.
 * config.ts reads them into a `Config`, the CLI declares its flags from them, and
 * the configuration tables of README.md and docs/admin.md are rendered from them
 * (`npm run docs:settings`; test/settings/docs-sync.test.ts fails when they differ).
 *
 * A default is a value, or a function of the other settings (`get`) and the
 * environment for one that depends on them; `shown` is how the docs state such a default.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { validateHomeTemplate } from '../users/home-path.js';
import { decodeSecretKey } from '../secrets/key.js';
import { HOMES, LOG_FORMATS, LOG_LEVELS, ROLES, type Config, type SettingKey } from './config-type.js';
import { bad, httpUrl, list, oneOf, parsePoolSizes, parsePreload, toBool, toInt, toNumber, urlPrefix } from './parse.js';

/** Another setting's value (resolved on demand, so a default may depend on settings listed after it). */
export type Get = <K extends SettingKey>(key: K) => Config[K];

export interface Setting<T> {
  env: string;
  /** The `hubmill serve` flag: `--name` and its argument's placeholder. */
  flag?: { name: `--${string}`; arg: string };
  default: T | ((get: Get, env: NodeJS.ProcessEnv) => T);
  /** How the documentation states the default when it is not a plain value. */
  shown?: string;
  /** Turns a flag's or the environment's value into the setting (throws UsageError). */
  parse(raw: unknown, get: Get): T;
  doc: string;
  /** Other variables read only to compute this setting's default (documented next to it). */
  related?: readonly OtherVariable[];
}

/** A variable documented in the table that is not a setting of its own. */
export interface OtherVariable {
  names: readonly string[];
  shown: string;
  doc: string;
}

export type SettingsTable = { readonly [K in SettingKey]: Setting<Config[K]> };

const str = (raw: unknown): string => String(raw);
const optional = (raw: unknown): string | null => String(raw);
/** A secret key's text as the Config keeps it (base64); `from` names where it came from in the error. */
function secretKey(from: string, text: string): string {
  const key = decodeSecretKey(text);
  if (typeof key === 'string') bad(from, '<redacted>', key);
  return key.toString('base64');
}

const hubConfigured = (get: Get): boolean => get('jupyterhubApiUrl') !== null && get('jupyterhubApiToken') !== null;

/** In the order of the documentation's table. */
export const SETTINGS: SettingsTable = {
  host: { env: 'HUBMILL_HOST', flag: { name: '--host', arg: '<host>' }, default: '127.0.0.1', parse: str, doc: 'address to bind (`0.0.0.0` in containers)' },
  port: {
    env: 'HUBMILL_PORT',
    flag: { name: '--port', arg: '<port>' },
    default: 8002,
    parse: (v) => toInt('HUBMILL_PORT', v, 0, 65535),
    doc: 'port (0 = any free port, printed at start)',
  },
  role: {
    env: 'HUBMILL_ROLE',
    flag: { name: '--role', arg: '<role>' },
    default: 'all',
    parse: (v, get) => {
      const role = oneOf('HUBMILL_ROLE', v, ROLES);
      if (role !== 'all' && get('databaseUrl') === null) bad('HUBMILL_ROLE', role, 'api and worker nodes share a PostgreSQL store: set HUBMILL_DATABASE_URL');
      return role;
    },
    doc: '`all`, `api` (HTTP only: no kernels, no schedule loop) or `worker` (runs jobs and schedules, serves only `/health` and `/metrics`); `api` and `worker` need `HUBMILL_DATABASE_URL`',
  },
  databaseUrl: {
    env: 'HUBMILL_DATABASE_URL',
    flag: { name: '--database-url', arg: '<url>' },
    default: null,
    shown: 'SQLite in the data dir',
    parse: (v) => {
      if (!/^postgres(ql)?:\/\//.test(String(v))) bad('HUBMILL_DATABASE_URL', '<redacted>', 'expected a postgresql:// URL');
      return String(v);
    },
    doc: '`postgresql://user@host:5432/db?schema=hubmill`: jobs, schedules and queue in PostgreSQL, shared by every node (the schema, default `public`, is created and migrated at start)',
  },
  dataDir: {
    env: 'HUBMILL_DATA_DIR',
    flag: { name: '--data-dir', arg: '<dir>' },
    default: (_get, env) => {
      const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir();
      const xdgData = env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(home, '.local', 'share');
      return join(xdgData, 'hubmill');
    },
    shown: '`$XDG_DATA_HOME/hubmill`',
    parse: (v) => resolve(String(v)),
    doc: 'SQLite database, outputs and service state',
    related: [{ names: ['HOME', 'XDG_DATA_HOME'], shown: 'from the system', doc: 'where the default data dir is (`~/.local/share/hubmill`)' }],
  },
  homeTemplate: {
    env: 'HUBMILL_HOME_TEMPLATE',
    flag: { name: '--home-template', arg: '<template>' },
    default: '/home/{username}',
    parse: (v) => {
      validateHomeTemplate(String(v));
      return String(v);
    },
    doc: "users' homes on this node (`HUBMILL_HOMES=local`)",
  },
  homes: {
    env: 'HUBMILL_HOMES',
    default: 'local',
    parse: (v) => oneOf('HUBMILL_HOMES', v, HOMES),
    doc: "`local`: users' homes are on this machine (home template); `user-server`: notebooks are listed and read, outputs written, through each user's server's Contents API, and jobs default to `\"target\": \"user-server\"`",
  },
  userServerIdleS: {
    env: 'HUBMILL_USER_SERVER_IDLE_S',
    default: 300,
    parse: (v) => toNumber('HUBMILL_USER_SERVER_IDLE_S', v, 0),
    doc: 'a user server hubmill started is stopped through the hub once its last job ended and this long passed with no new one (0 = never)',
  },
  concurrency: {
    env: 'HUBMILL_CONCURRENCY',
    flag: { name: '--concurrency', arg: '<n>' },
    default: () => availableParallelism(),
    shown: 'number of cores',
    parse: (v) => toInt('HUBMILL_CONCURRENCY', v, 1, 1024),
    doc: 'jobs run at once on this node',
  },
  poolSizes: {
    env: 'HUBMILL_POOL',
    flag: { name: '--pool', arg: '<spec>' },
    // Forked kernels refill in milliseconds, so two ready ones cover both runners of a 2-core machine.
    default: (get) => ({ python3: get('forkServer') ? 2 : 1 }),
    shown: '`python3:2` with the fork server, else `python3:1`',
    parse: parsePoolSizes,
    doc: 'the fewest warm kernels per kernelspec, e.g. `python3:2,ir:0` (0: no pool); a pool grows above it up to `HUBMILL_POOL_MAX`',
  },
  poolMax: {
    env: 'HUBMILL_POOL_MAX',
    // Sized from the measured arrival rate and refill time (docs/architecture.md, "Pool sizing"); launched kernels cost seconds of CPU each.
    default: (get) => (get('forkServer') ? 8 : 0),
    shown: '`8` with the fork server, else `0`',
    parse: (v) => toInt('HUBMILL_POOL_MAX', v, 0, 64),
    doc: 'the most idle kernels a pool keeps: each pool targets ceil(arrivals/s × measured refill time) + 1 between its `HUBMILL_POOL` size and this (0 or less than the size: the size, fixed)',
  },
  preload: {
    env: 'HUBMILL_PRELOAD',
    default: {},
    parse: parsePreload,
    doc: 'JSON `{"python3": "import pandas"}`: run once in the fork server, else in each warm kernel',
  },
  forkServer: {
    env: 'HUBMILL_FORK_SERVER',
    default: true,
    parse: (v) => toBool('HUBMILL_FORK_SERVER', v),
    doc: 'fork Python kernels from a server that already imported ipykernel and the preload (`false`: launch every kernel)',
  },
  kernelGatewayUrl: {
    env: 'HUBMILL_KERNEL_GATEWAY_URL',
    default: null,
    parse: (v) => httpUrl('HUBMILL_KERNEL_GATEWAY_URL', v),
    doc: 'start the kernels of `local` jobs (and the warm pool) on this Jupyter Kernel/Enterprise Gateway or Jupyter Server, whose kernelspecs jobs may use; the fork server is then off',
  },
  kernelGatewayToken: { env: 'HUBMILL_KERNEL_GATEWAY_TOKEN', default: null, parse: optional, doc: "that gateway's token" },
  leaseS: {
    env: 'HUBMILL_LEASE_S',
    default: 60,
    parse: (v) => toNumber('HUBMILL_LEASE_S', v, 1),
    doc: 'a running job whose node stopped renewing its lease this long is reclaimed; the same on every node',
  },
  requeueOnRestart: {
    env: 'HUBMILL_REQUEUE_ON_RESTART',
    default: false,
    parse: (v) => toBool('HUBMILL_REQUEUE_ON_RESTART', v),
    doc: 'reclaimed jobs: `false` marks them failed, `true` queues them again',
  },
  shutdownGraceS: {
    env: 'HUBMILL_SHUTDOWN_GRACE_S',
    default: 30,
    parse: (v) => toNumber('HUBMILL_SHUTDOWN_GRACE_S', v, 0),
    doc: 'on SIGTERM, how long running jobs may finish',
  },
  maxTimeoutS: {
    env: 'HUBMILL_MAX_TIMEOUT_S',
    default: 24 * 3600,
    parse: (v) => toNumber('HUBMILL_MAX_TIMEOUT_S', v, 0),
    doc: 'maximum (and default) whole-run timeout, 0 = none; a job asking for more gets 422',
  },
  maxCellTimeoutS: {
    env: 'HUBMILL_MAX_CELL_TIMEOUT_S',
    default: 0,
    parse: (v) => toNumber('HUBMILL_MAX_CELL_TIMEOUT_S', v, 0),
    doc: 'maximum (and default) per-cell timeout, 0 = none',
  },
  maxBodyBytes: {
    env: 'HUBMILL_MAX_BODY_BYTES',
    default: 1024 * 1024,
    parse: (v) => toInt('HUBMILL_MAX_BODY_BYTES', v, 1024),
    doc: 'request body limit',
  },
  maxOutputBytes: {
    env: 'HUBMILL_MAX_OUTPUT_BYTES',
    default: 256 * 1024 * 1024,
    parse: (v) => toInt('HUBMILL_MAX_OUTPUT_BYTES', v, 0),
    doc: "outputs one job's notebook may hold (0 = no limit); beyond it the run goes on, its later outputs are dropped and the notebook says so (a note in the cell, a warning in `metadata.hubmill.warnings`)",
  },
  waitMaxS: { env: 'HUBMILL_WAIT_MAX_S', default: 60, parse: (v) => toNumber('HUBMILL_WAIT_MAX_S', v, 0), doc: 'bound of `POST /api/v1/jobs?wait=true` and of `POST /api/v1/pipelines/{id}/runs?wait=true`' },
  executeWaitMaxS: {
    env: 'HUBMILL_EXECUTE_WAIT_MAX_S',
    default: 3600,
    parse: (v) => toNumber('HUBMILL_EXECUTE_WAIT_MAX_S', v, 1),
    doc: "bound of the seed's synchronous endpoints (`/execute`, `/run-notebook`; the seed's client waits 300 s)",
  },
  retentionDays: {
    env: 'HUBMILL_RETENTION_DAYS',
    default: 30,
    parse: (v) => toNumber('HUBMILL_RETENTION_DAYS', v, 0),
    doc: 'finished job records older than this are pruned (0 = keep)',
  },
  maxRunningPerUser: {
    env: 'HUBMILL_MAX_RUNNING_PER_USER',
    default: 0,
    shown: '`0` (= concurrency)',
    parse: (v) => toInt('HUBMILL_MAX_RUNNING_PER_USER', v, 0),
    doc: 'runs one user may have running: no more of theirs is started (fires and other queued jobs wait); a direct submission beyond running + waiting gets 429 + `Retry-After`',
  },
  maxQueuedPerUser: {
    env: 'HUBMILL_MAX_QUEUED_PER_USER',
    default: 100,
    parse: (v) => toInt('HUBMILL_MAX_QUEUED_PER_USER', v, 0),
    doc: 'runs one user may have waiting (0 = unlimited)',
  },
  rateLimitPerMin: {
    env: 'HUBMILL_RATE_LIMIT_PER_MIN',
    default: 600,
    parse: (v) => toInt('HUBMILL_RATE_LIMIT_PER_MIN', v, 0),
    doc: 'requests per window per user (0 = off; 429 + `Retry-After` beyond)',
  },
  rateLimitIpPerMin: {
    env: 'HUBMILL_RATE_LIMIT_IP_PER_MIN',
    default: 1200,
    parse: (v) => toInt('HUBMILL_RATE_LIMIT_IP_PER_MIN', v, 0),
    doc: 'requests per window per client address (0 = off)',
  },
  rateLimitWindowS: {
    env: 'HUBMILL_RATE_LIMIT_WINDOW_S',
    default: 60,
    parse: (v) => toNumber('HUBMILL_RATE_LIMIT_WINDOW_S', v, 0.1),
    doc: 'length of the rate-limit window',
  },
  trustProxy: {
    env: 'HUBMILL_TRUST_PROXY',
    default: 'loopback',
    parse: (v) => (v === false || ['false', 'no', 'off', '0', 'none'].includes(String(v).trim().toLowerCase()) ? false : String(v)),
    doc: "whose `X-Forwarded-For` to believe: addresses/CIDRs, comma-separated (`false` = nobody); list the hub's proxy and any load balancer",
  },
  apiToken: {
    env: 'HUBMILL_API_TOKEN',
    default: (get) => (hubConfigured(get) ? null : randomBytes(24).toString('hex')),
    shown: 'generated when no hub is configured',
    parse: (v) => {
      if (String(v).length < 8) bad('HUBMILL_API_TOKEN', '<redacted>', 'must be at least 8 characters');
      return String(v);
    },
    doc: 'a static admin token (at least 8 characters)',
  },
  cookieSecret: {
    env: 'HUBMILL_COOKIE_SECRET',
    default: () => randomBytes(32).toString('hex'),
    shown: 'generated at start',
    parse: (v) => {
      if (String(v).length < 16) bad('HUBMILL_COOKIE_SECRET', '<redacted>', 'must be at least 16 characters');
      return String(v);
    },
    doc: 'signs browser sessions; **the same on every API node**',
  },
  secretKey: {
    env: 'HUBMILL_SECRET_KEY',
    default: (_get, env) => {
      const file = env.HUBMILL_SECRET_KEY_FILE;
      if (!file) return null;
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        return bad('HUBMILL_SECRET_KEY_FILE', file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      return secretKey('HUBMILL_SECRET_KEY_FILE', text.split('\n', 1)[0]!);
    },
    shown: 'from `HUBMILL_SECRET_KEY_FILE`, else none',
    parse: (v) => secretKey('HUBMILL_SECRET_KEY', String(v)),
    doc: 'seals stored secrets (AES-256-GCM): 32 bytes as 44 base64 characters or 64 hex digits, e.g. `openssl rand -base64 32`; without it secrets cannot be created (503), and a store holding secrets refuses to start. **The same on every node**; change it with `hubmill secrets rotate-key`',
    related: [{ names: ['HUBMILL_SECRET_KEY_FILE'], shown: 'none', doc: 'a file whose first line is the secret key (read when `HUBMILL_SECRET_KEY` is unset)' }],
  },
  hubAuthCacheS: {
    env: 'HUBMILL_HUB_AUTH_CACHE_S',
    default: 60,
    parse: (v) => toNumber('HUBMILL_HUB_AUTH_CACHE_S', v, 0),
    doc: 'how long a hub token check is trusted',
  },
  hubPublicUrl: {
    env: 'HUBMILL_HUB_PUBLIC_URL',
    default: (get, env) => {
      const host = get('jupyterhubHost');
      const raw = env.JUPYTERHUB_PUBLIC_URL || (host !== '' ? `${host}${get('jupyterhubBaseUrl')}` : undefined);
      return raw === undefined ? null : httpUrl('HUBMILL_HUB_PUBLIC_URL', raw);
    },
    shown: '`JUPYTERHUB_PUBLIC_URL`, else `JUPYTERHUB_HOST` + base URL',
    parse: (v) => httpUrl('HUBMILL_HUB_PUBLIC_URL', v),
    doc: "the hub's proxy as hubmill reaches it (e.g. `http://127.0.0.1:8000`), for users' servers (`target: user-server`, `HUBMILL_HOMES=user-server`)",
    related: [{ names: ['JUPYTERHUB_PUBLIC_URL'], shown: 'none', doc: 'default of `HUBMILL_HUB_PUBLIC_URL`' }],
  },
  webhookAllow: {
    env: 'HUBMILL_WEBHOOK_ALLOW',
    default: Object.freeze([]),
    shown: 'none',
    parse: list,
    doc: 'loopback/private webhook targets schedules and pipelines may call: host names, addresses, CIDRs (comma-separated)',
  },
  smtpUrl: {
    env: 'HUBMILL_SMTP_URL',
    default: null,
    shown: 'none',
    parse: (v) => {
      const s = String(v);
      let u: URL;
      try {
        u = new URL(s);
      } catch {
        return bad('HUBMILL_SMTP_URL', '(hidden)', 'expected smtp://user:pass@host:port or smtps://…');
      }
      if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') bad('HUBMILL_SMTP_URL', u.protocol, 'expected smtp:// or smtps://');
      if (!u.hostname) bad('HUBMILL_SMTP_URL', u.protocol, 'expected a host');
      return s;
    },
    doc: 'mail server of e-mail notifications: `smtp://user:pass@host:port` (STARTTLS when offered) or `smtps://…` (TLS from the start)',
  },
  smtpFrom: {
    env: 'HUBMILL_SMTP_FROM',
    default: null,
    shown: 'none',
    parse: (v) => {
      const s = String(v).trim();
      if (!/^[^\s@<>]+@[^\s@<>]+$|<[^\s@<>]+@[^\s@<>]+>$/.test(s)) bad('HUBMILL_SMTP_FROM', s, 'expected an address (hubmill@example.org or "Hubmill <hubmill@example.org>")');
      return s;
    },
    doc: 'the From address of notification mail; with `HUBMILL_SMTP_URL`, `notify.email` may be used',
  },
  publicUrl: {
    env: 'HUBMILL_PUBLIC_URL',
    default: null,
    shown: "hubmill's own address",
    parse: (v) => httpUrl('HUBMILL_PUBLIC_URL', v),
    doc: "the UI's address as users reach it (e.g. `https://hub.example.org/services/hubmill`), for the links in notification mail",
  },
  notifyAttempts: {
    env: 'HUBMILL_NOTIFY_ATTEMPTS',
    default: 8,
    parse: (v) => toInt('HUBMILL_NOTIFY_ATTEMPTS', v, 1, 100),
    doc: 'attempts of one webhook or e-mail before it shows as failed (`GET …/deliveries`; retried by hand from there)',
  },
  notifyBackoffS: {
    env: 'HUBMILL_NOTIFY_BACKOFF_S',
    default: 2,
    parse: (v) => toNumber('HUBMILL_NOTIFY_BACKOFF_S', v, 0.01),
    doc: 'wait before the first retry of a notification, doubled each time (at most an hour)',
  },
  logLevel: { env: 'HUBMILL_LOG_LEVEL', default: 'info', parse: (v) => oneOf('HUBMILL_LOG_LEVEL', v, LOG_LEVELS), doc: '`fatal` … `trace`, `silent`' },
  logFormat: {
    env: 'HUBMILL_LOG_FORMAT',
    default: 'auto',
    parse: (v) => oneOf('HUBMILL_LOG_FORMAT', v, LOG_FORMATS),
    doc: '`auto` (readable on a terminal, JSON otherwise), `json`, `pretty`',
  },
  jupyterhubApiUrl: {
    env: 'JUPYTERHUB_API_URL',
    default: null,
    parse: (v) => {
      if (!/^https?:\/\//.test(String(v))) bad('JUPYTERHUB_API_URL', v, 'expected an http(s) URL');
      return String(v);
    },
    doc: "the hub's API, e.g. `http://hub:8081/hub/api`; with `JUPYTERHUB_API_TOKEN`, callers are authenticated by the hub",
  },
  jupyterhubApiToken: {
    env: 'JUPYTERHUB_API_TOKEN',
    default: null,
    parse: optional,
    doc: "hubmill's service token (the service's `api_token`; also its OAuth client secret)",
  },
  servicePrefix: {
    env: 'JUPYTERHUB_SERVICE_PREFIX',
    default: '/',
    parse: (v) => urlPrefix('JUPYTERHUB_SERVICE_PREFIX', v),
    doc: "URL prefix behind the hub's proxy, `/services/hubmill/`",
  },
  jupyterhubServiceName: { env: 'JUPYTERHUB_SERVICE_NAME', default: 'hubmill', parse: str, doc: "the service's name at the hub" },
  jupyterhubClientId: {
    env: 'JUPYTERHUB_CLIENT_ID',
    default: (get) => `service-${get('jupyterhubServiceName')}`,
    shown: '`service-<name>`',
    parse: str,
    doc: 'OAuth client id',
  },
  jupyterhubOauthCallbackUrl: {
    env: 'JUPYTERHUB_OAUTH_CALLBACK_URL',
    default: (get) => `${get('servicePrefix')}oauth_callback`,
    shown: '`<prefix>oauth_callback`',
    parse: str,
    doc: 'OAuth redirect URI as registered at the hub',
  },
  jupyterhubBaseUrl: { env: 'JUPYTERHUB_BASE_URL', default: '/', parse: (v) => urlPrefix('JUPYTERHUB_BASE_URL', v), doc: "the hub's base URL path" },
  jupyterhubHost: {
    env: 'JUPYTERHUB_HOST',
    default: '',
    shown: 'same origin',
    parse: (v) => {
      const origin = String(v).replace(/\/+$/, '');
      if (origin !== '' && !/^https?:\/\/[^/]+$/.test(origin)) bad('JUPYTERHUB_HOST', origin, 'expected an origin like https://hub.example.org');
      return origin;
    },
    doc: "the hub's origin for browser redirects",
  },
};

/**
 * The default of a setting whose default is a plain value, for modules that
 * fall back to it when built without a Config (tests, tools): the value is written once, here.
 */
export function plainDefault<K extends SettingKey>(key: K): Config[K] {
  const d = SETTINGS[key].default;
  if (typeof d === 'function') throw new Error(`setting ${key} has a computed default`);
  return d as Config[K];
}

/** Variables read outside config.ts (development switches), documented with the settings. */
export const OTHER_VARIABLES: readonly OtherVariable[] = [
  { names: ['HUBMILL_UI_DEV'], shown: 'unset', doc: "development only: re-read the web UI's page on every request" },
];
