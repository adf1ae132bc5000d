/**
 * Service configuration: read once from flags and environment, validated, frozen.
 * Flags win over the environment, the environment over defaults. No other module
 * reads `process.env`; everything else receives a `Config` (or parts of it).
 *
 * Environment (flag in parentheses, camelCase as in `Config`):
 *   HUBMILL_HOST (host)                    default 127.0.0.1
 *   HUBMILL_PORT (port)                    default 8002
 *   HUBMILL_HOME_TEMPLATE (homeTemplate)   default /home/{username}
 *   HUBMILL_DATA_DIR (dataDir)             default $XDG_DATA_HOME/hubmill, i.e. ~/.local/share/hubmill
 *   HUBMILL_API_TOKEN (apiToken)           admin token; generated at start when unset and no hub is configured
 *   JUPYTERHUB_API_URL, JUPYTERHUB_API_TOKEN, JUPYTERHUB_SERVICE_PREFIX (hub integration)
 *   JUPYTERHUB_SERVICE_NAME (default hubmill), JUPYTERHUB_CLIENT_ID (default service-<name>),
 *   JUPYTERHUB_OAUTH_CALLBACK_URL (default <prefix>oauth_callback), JUPYTERHUB_BASE_URL (default /),
 *   JUPYTERHUB_HOST (hub origin for browser redirects; default same origin)   OAuth browser login
 *   HUBMILL_HUB_PUBLIC_URL (hubPublicUrl)  the hub's proxy as hubmill reaches it, for jobs with target "user-server";
 *                                          default JUPYTERHUB_PUBLIC_URL, else JUPYTERHUB_HOST + JUPYTERHUB_BASE_URL
 *   HUBMILL_COOKIE_SECRET                  signs session cookies; generated at start when unset
 *   HUBMILL_HUB_AUTH_CACHE_S               how long a hub token check is trusted, default 60
 *   HUBMILL_RATE_LIMIT_PER_MIN             requests per minute per user, default 600 (0 = off)
 *   HUBMILL_RATE_LIMIT_IP_PER_MIN          requests per minute per client address, default 1200 (0 = off)
 *   HUBMILL_RATE_LIMIT_WINDOW_S            length of the rate-limit window, default 60 (the limits above count per window)
 *   HUBMILL_MAX_RUNNING_PER_USER           runs one user may have running, default 0 (= concurrency)
 *   HUBMILL_MAX_QUEUED_PER_USER            runs one user may have waiting, default 100 (0 = unlimited)
 *   HUBMILL_TRUST_PROXY                    whose X-Forwarded-For to believe, default loopback ("false" = nobody)
 *   HUBMILL_CONCURRENCY (concurrency)      default: number of cores
 *   HUBMILL_POOL (poolSizes)               "python3:2,ir:0"; default python3:2 with the fork server, else python3:1
 *   HUBMILL_PRELOAD (preload)              JSON object {"python3": "import pandas"}
 *   HUBMILL_FORK_SERVER (forkServer)       fork Python kernels from a server that preloaded ipykernel; default true
 *   HUBMILL_MAX_TIMEOUT_S, HUBMILL_MAX_CELL_TIMEOUT_S   server-side maximums (0 = unlimited)
 *   HUBMILL_MAX_BODY_BYTES                 request body limit, default 1 MiB
 *   HUBMILL_WAIT_MAX_S                     bound of POST /api/v1/jobs?wait=true, default 60
 *   HUBMILL_EXECUTE_WAIT_MAX_S             bound of the synchronous seed endpoints, default 3600
 *   HUBMILL_RETENTION_DAYS                 finished job records older than this are pruned (0 = keep), default 30
 *   HUBMILL_REQUEUE_ON_RESTART             "true" re-queues jobs a crash left running (default: mark failed)
 *   HUBMILL_LEASE_S                        a running job whose process stopped renewing its lease this long is reclaimed, default 60
 *   HUBMILL_SHUTDOWN_GRACE_S               SIGTERM drain bound, default 30
 *   HUBMILL_LOG_LEVEL                      default info
 *   HUBMILL_WEBHOOK_ALLOW                  loopback/private webhook targets schedules may call: host names, addresses, CIDRs (comma-separated)
 *   HUBMILL_LOG_FORMAT                     auto (readable when stdout is a terminal, JSON otherwise), json or pretty
 *   HUBMILL_DATABASE_URL (databaseUrl)     postgresql://… selects PostgreSQL as the store and queue; default SQLite in the data dir
 *   HUBMILL_ROLE (role)                    all (default), api (HTTP only) or worker (kernels and schedules only)
 *   HUBMILL_KERNEL_GATEWAY_URL, HUBMILL_KERNEL_GATEWAY_TOKEN   start local-target kernels on a Jupyter (Kernel/Enterprise) Gateway or Server
 *   HUBMILL_HOMES (homes)                  local (default: users' homes are on this machine) or user-server (through each user's Contents API)
 *   HUBMILL_USER_SERVER_IDLE_S             stop a user server hubmill started once its last job ended this long ago, default 300 (0 = never)
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { UsageError } from './errors.js';
import { validateHomeTemplate } from './users/home.js';

export interface Config {
  readonly host: string;
  readonly port: number;
  /** Absolute path containing `{username}`. */
  readonly homeTemplate: string;
  /** Absolute directory for the SQLite database and other service state. */
  readonly dataDir: string;
  /** Admin token for installs without a hub; null only when a hub authenticates callers. */
  readonly apiToken: string | null;
  /** True when apiToken was generated at start (print it with the URL, as Jupyter does). */
  readonly apiTokenGenerated: boolean;
  readonly jupyterhubApiUrl: string | null;
  readonly jupyterhubApiToken: string | null;
  /** URL prefix the service is mounted under, '/' or '/services/hubmill/' (always starts and ends with '/'). */
  readonly servicePrefix: string;
  /** Our name at the hub (access scope access:services!service=<name>). */
  readonly jupyterhubServiceName: string;
  /** OAuth client id at the hub. */
  readonly jupyterhubClientId: string;
  /** OAuth redirect_uri as registered at the hub (a path, or a full URL). */
  readonly jupyterhubOauthCallbackUrl: string;
  /** The hub's base URL path ('/'), for the browser's authorize redirect. */
  readonly jupyterhubBaseUrl: string;
  /** The hub's origin for browser redirects ('' = same origin as hubmill behind the proxy). */
  readonly jupyterhubHost: string;
  /** The hub's public URL (its proxy) as hubmill reaches it, for jobs run in a user's own server; null = unknown (such jobs are refused). */
  readonly hubPublicUrl: string | null;
  /** Secret for signed cookies (sessions, OAuth state). */
  readonly cookieSecret: string;
  /** How long a hub token check is cached, seconds. */
  readonly hubAuthCacheS: number;
  /** Requests per minute per user / per client address; 0 = unlimited. */
  readonly rateLimitPerMin: number;
  readonly rateLimitIpPerMin: number;
  /** Rate-limit window, seconds (default 60; the *PerMin limits count per window). */
  readonly rateLimitWindowS: number;
  /** Run quotas per user; 0 = unlimited. */
  readonly maxRunningPerUser: number;
  readonly maxQueuedPerUser: number;
  /** Fastify trustProxy: 'loopback', addresses/CIDRs, or false. */
  readonly trustProxy: string | false;
  /** Maximum number of jobs running at once. */
  readonly concurrency: number;
  /** Warm kernels kept per kernelspec name. */
  readonly poolSizes: Readonly<Record<string, number>>;
  /** Code run in a pooled kernel before it joins the pool (or once in its fork server), per kernelspec name. */
  readonly preload: Readonly<Record<string, string>>;
  /** Fork Python kernels from a fork server per kernelspec (`hubmill serve` only; `hubmill run` launches). */
  readonly forkServer: boolean;
  /** Upper bound (and default) of a job's whole-run timeout; 0 = unlimited. A job asking for more is refused (runner/limits.ts). */
  readonly maxTimeoutS: number;
  /** Upper bound (and default) of a job's per-cell timeout; 0 = unlimited. A job asking for more is refused. */
  readonly maxCellTimeoutS: number;
  readonly maxBodyBytes: number;
  /** Bound of `POST /api/v1/jobs?wait=true`. */
  readonly waitMaxS: number;
  /** Bound of the synchronous seed endpoints (`/execute`, `/run-notebook`); the seed's client waits 300 s. */
  readonly executeWaitMaxS: number;
  /** Finished jobs older than this many days are pruned; 0 = keep forever. */
  readonly retentionDays: number;
  /** Re-queue (instead of fail) the jobs of a process whose lease expired. */
  readonly requeueOnRestart: boolean;
  /** A running job whose process did not renew its lease for this long is reclaimed (HUBMILL_LEASE_S, default 60). */
  readonly leaseS: number;
  readonly shutdownGraceS: number;
  /** Host names, addresses and CIDRs of loopback/private webhook targets that are allowed (default none). */
  readonly webhookAllow: readonly string[];
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** 'auto': human-readable lines when stdout is a terminal, JSON lines otherwise (see logger.ts). */
  readonly logFormat: 'auto' | 'json' | 'pretty';
  /** postgresql:// URL of the shared store and queue; null = SQLite in `dataDir` (one machine). */
  readonly databaseUrl: string | null;
  /** 'all': HTTP and jobs; 'api': HTTP only; 'worker': runs jobs and schedules, serves only /health and /metrics. */
  readonly role: Role;
  /** Base URL of a Jupyter Kernel/Enterprise Gateway or Jupyter Server that starts local-target kernels; null = launch here. */
  readonly kernelGatewayUrl: string | null;
  readonly kernelGatewayToken: string | null;
  /** Where users' files live: 'local' (homeTemplate on this machine) or 'user-server' (each user's Contents API). */
  readonly homes: 'local' | 'user-server';
  /** A user server hubmill started is stopped this many seconds after its last job ends; 0 = never. */
  readonly userServerIdleS: number;
}

export const ROLES = ['all', 'api', 'worker'] as const;
export type Role = (typeof ROLES)[number];
const HOMES = ['local', 'user-server'] as const;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type ConfigKey = Exclude<keyof Config, 'apiTokenGenerated'>;
/** Flags as given by the CLI (strings are parsed like their environment twins); `pool` is `--pool`'s name for poolSizes. */
export type ConfigFlags = { [K in ConfigKey]?: Config[K] | string } & { pool?: string };

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

function bad(name: string, value: unknown, why: string): never {
  throw new UsageError(`invalid ${name} ${JSON.stringify(value)}: ${why}`);
}

function toInt(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) bad(name, v, 'expected an integer');
  if (n < min || n > max) bad(name, v, `expected ${min}..${max}`);
  return n;
}

function toNumber(name: string, v: unknown, min: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < min) bad(name, v, `expected a number >= ${min}`);
  return n;
}

function toBool(name: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
  return bad(name, v, 'expected true or false');
}

/** "python3:2,ir:0" → {python3: 2, ir: 0}; also accepts a JSON object. */
export function parsePoolSizes(v: unknown): Record<string, number> {
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, number> = {};
    for (const [k, n] of Object.entries(v)) out[k] = toInt(`pool size of ${k}`, n, 0, 64);
    return out;
  }
  const s = String(v).trim();
  if (s.startsWith('{')) {
    try {
      return parsePoolSizes(JSON.parse(s) as unknown);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      bad('HUBMILL_POOL', v, 'not valid JSON');
    }
  }
  const out: Record<string, number> = {};
  if (s === '') return out;
  for (const part of s.split(',')) {
    const m = /^\s*([A-Za-z0-9._-]+)\s*[:=]\s*(\d+)\s*$/.exec(part);
    if (!m) bad('HUBMILL_POOL', v, 'expected kernel:size[,kernel:size...]');
    out[m[1]!] = toInt(`pool size of ${m[1]}`, m[2], 0, 64);
  }
  return out;
}

function parsePreload(v: unknown): Record<string, string> {
  let obj: unknown = v;
  if (typeof v === 'string') {
    if (v.trim() === '') return {};
    try {
      obj = JSON.parse(v);
    } catch {
      bad('HUBMILL_PRELOAD', v, 'expected a JSON object {"kernel": "code"}');
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) bad('HUBMILL_PRELOAD', v, 'expected an object');
  const out: Record<string, string> = {};
  for (const [k, code] of Object.entries(obj)) {
    if (typeof code !== 'string') bad(`preload of ${k}`, code, 'expected a string of code');
    out[k] = code;
  }
  return out;
}

function normalizePrefix(v: string): string {
  let p = v.trim();
  if (!p.startsWith('/')) p = `/${p}`;
  if (!p.endsWith('/')) p = `${p}/`;
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(p) || p.includes('//')) bad('JUPYTERHUB_SERVICE_PREFIX', v, 'not a URL path');
  return p;
}

/**
 * Reads flags and environment into a frozen, validated `Config`.
 * Throws `UsageError` (CLI exit 2) on any invalid value.
 */
export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const pick = <K extends ConfigKey>(key: K, envName: string | null): Config[K] | string | undefined => {
    const f = flags[key] as Config[K] | string | undefined | null;
    if (f !== undefined && f !== null && f !== '') return f;
    const e = envName ? env[envName] : undefined;
    return e !== undefined && e !== '' ? e : undefined;
  };
  const str = (v: unknown, dflt: string): string => (v === undefined ? dflt : String(v));

  const host = str(pick('host', 'HUBMILL_HOST'), '127.0.0.1');
  const port = toInt('port', pick('port', 'HUBMILL_PORT') ?? 8002, 0, 65535);

  const homeTemplate = str(pick('homeTemplate', 'HUBMILL_HOME_TEMPLATE'), '/home/{username}');
  validateHomeTemplate(homeTemplate);

  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir();
  const xdgData = env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(home, '.local', 'share');
  const dataDir = resolve(str(pick('dataDir', 'HUBMILL_DATA_DIR'), join(xdgData, 'hubmill')));

  const jupyterhubApiUrl = (pick('jupyterhubApiUrl', 'JUPYTERHUB_API_URL') as string | undefined) ?? null;
  if (jupyterhubApiUrl !== null && !/^https?:\/\//.test(jupyterhubApiUrl)) bad('JUPYTERHUB_API_URL', jupyterhubApiUrl, 'expected an http(s) URL');
  const jupyterhubApiToken = (pick('jupyterhubApiToken', 'JUPYTERHUB_API_TOKEN') as string | undefined) ?? null;
  const hubConfigured = jupyterhubApiUrl !== null && jupyterhubApiToken !== null;

  let apiToken = (pick('apiToken', 'HUBMILL_API_TOKEN') as string | undefined) ?? null;
  let apiTokenGenerated = false;
  if (apiToken !== null && apiToken.length < 8) bad('HUBMILL_API_TOKEN', '<redacted>', 'must be at least 8 characters');
  if (apiToken === null && !hubConfigured) {
    apiToken = randomBytes(24).toString('hex');
    apiTokenGenerated = true;
  }

  const servicePrefix = normalizePrefix(str(pick('servicePrefix', 'JUPYTERHUB_SERVICE_PREFIX'), '/'));
  const jupyterhubServiceName = str(pick('jupyterhubServiceName', 'JUPYTERHUB_SERVICE_NAME'), 'hubmill');
  const jupyterhubClientId = str(pick('jupyterhubClientId', 'JUPYTERHUB_CLIENT_ID'), `service-${jupyterhubServiceName}`);
  const jupyterhubOauthCallbackUrl = str(pick('jupyterhubOauthCallbackUrl', 'JUPYTERHUB_OAUTH_CALLBACK_URL'), `${servicePrefix}oauth_callback`);
  const jupyterhubBaseUrl = normalizePrefix(str(pick('jupyterhubBaseUrl', 'JUPYTERHUB_BASE_URL'), '/'));
  const jupyterhubHost = str(pick('jupyterhubHost', 'JUPYTERHUB_HOST'), '').replace(/\/+$/, '');
  if (jupyterhubHost !== '' && !/^https?:\/\/[^/]+$/.test(jupyterhubHost)) bad('JUPYTERHUB_HOST', jupyterhubHost, 'expected an origin like https://hub.example.org');
  const hubPublicUrlRaw =
    (pick('hubPublicUrl', 'HUBMILL_HUB_PUBLIC_URL') as string | undefined) ??
    (env.JUPYTERHUB_PUBLIC_URL || undefined) ??
    (jupyterhubHost !== '' ? `${jupyterhubHost}${jupyterhubBaseUrl}` : undefined);
  const hubPublicUrl = hubPublicUrlRaw === undefined ? null : String(hubPublicUrlRaw).replace(/\/+$/, '');
  if (hubPublicUrl !== null && !/^https?:\/\/[^/]+/.test(hubPublicUrl)) bad('HUBMILL_HUB_PUBLIC_URL', hubPublicUrl, 'expected an http(s) URL');
  const cookieSecret = str(pick('cookieSecret', 'HUBMILL_COOKIE_SECRET'), randomBytes(32).toString('hex'));
  if (cookieSecret.length < 16) bad('HUBMILL_COOKIE_SECRET', '<redacted>', 'must be at least 16 characters');
  const hubAuthCacheS = toNumber('hub auth cache', pick('hubAuthCacheS', 'HUBMILL_HUB_AUTH_CACHE_S') ?? 60, 0);
  const rateLimitPerMin = toInt('rate limit per user', pick('rateLimitPerMin', 'HUBMILL_RATE_LIMIT_PER_MIN') ?? 600, 0);
  const rateLimitIpPerMin = toInt('rate limit per address', pick('rateLimitIpPerMin', 'HUBMILL_RATE_LIMIT_IP_PER_MIN') ?? 1200, 0);
  const rateLimitWindowS = toNumber('rate limit window', pick('rateLimitWindowS', 'HUBMILL_RATE_LIMIT_WINDOW_S') ?? 60, 0.1);
  const maxRunningPerUser = toInt('max running per user', pick('maxRunningPerUser', 'HUBMILL_MAX_RUNNING_PER_USER') ?? 0, 0);
  const maxQueuedPerUser = toInt('max queued per user', pick('maxQueuedPerUser', 'HUBMILL_MAX_QUEUED_PER_USER') ?? 100, 0);
  const trustProxyRaw = pick('trustProxy', 'HUBMILL_TRUST_PROXY');
  const trustProxy: string | false =
    trustProxyRaw === undefined ? 'loopback' : trustProxyRaw === false || ['false', 'no', 'off', '0', 'none'].includes(String(trustProxyRaw).trim().toLowerCase()) ? false : String(trustProxyRaw);
  const concurrency = toInt('concurrency', pick('concurrency', 'HUBMILL_CONCURRENCY') ?? availableParallelism(), 1, 1024);
  const poolRaw = pick('poolSizes', null) ?? (flags.pool || undefined) ?? pick('poolSizes', 'HUBMILL_POOL');
  const forkServer = toBool('fork server', pick('forkServer', 'HUBMILL_FORK_SERVER') ?? true);
  // Forked kernels refill in milliseconds, so two ready ones cover both runners of a 2-core machine.
  const poolSizes = poolRaw === undefined ? { python3: forkServer ? 2 : 1 } : parsePoolSizes(poolRaw);
  const preloadRaw = pick('preload', 'HUBMILL_PRELOAD');
  const preload = preloadRaw === undefined ? {} : parsePreload(preloadRaw);

  const maxTimeoutS = toNumber('max timeout', pick('maxTimeoutS', 'HUBMILL_MAX_TIMEOUT_S') ?? 24 * 3600, 0);
  const maxCellTimeoutS = toNumber('max cell timeout', pick('maxCellTimeoutS', 'HUBMILL_MAX_CELL_TIMEOUT_S') ?? 0, 0);
  const maxBodyBytes = toInt('max body bytes', pick('maxBodyBytes', 'HUBMILL_MAX_BODY_BYTES') ?? 1024 * 1024, 1024);
  const waitMaxS = toNumber('wait max', pick('waitMaxS', 'HUBMILL_WAIT_MAX_S') ?? 60, 0);
  const executeWaitMaxS = toNumber('execute wait max', pick('executeWaitMaxS', 'HUBMILL_EXECUTE_WAIT_MAX_S') ?? 3600, 1);
  const retentionDays = toNumber('retention days', pick('retentionDays', 'HUBMILL_RETENTION_DAYS') ?? 30, 0);
  const requeueOnRestart = toBool('requeue on restart', pick('requeueOnRestart', 'HUBMILL_REQUEUE_ON_RESTART') ?? false);
  const leaseS = toNumber('lease', pick('leaseS', 'HUBMILL_LEASE_S') ?? 60, 1);
  const shutdownGraceS = toNumber('shutdown grace', pick('shutdownGraceS', 'HUBMILL_SHUTDOWN_GRACE_S') ?? 30, 0);
  const webhookAllowRaw = pick('webhookAllow', 'HUBMILL_WEBHOOK_ALLOW');
  const webhookAllow = Object.freeze(
    (Array.isArray(webhookAllowRaw) ? webhookAllowRaw.map(String) : String(webhookAllowRaw ?? '').split(',')).map((x) => x.trim()).filter(Boolean),
  );
  const logLevel = str(pick('logLevel', 'HUBMILL_LOG_LEVEL'), 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) bad('log level', logLevel, `expected one of ${LOG_LEVELS.join(', ')}`);
  const logFormat = str(pick('logFormat', 'HUBMILL_LOG_FORMAT'), 'auto') as Config['logFormat'];
  if (!LOG_FORMATS.includes(logFormat)) bad('log format', logFormat, `expected one of ${LOG_FORMATS.join(', ')}`);

  const databaseUrl = (pick('databaseUrl', 'HUBMILL_DATABASE_URL') as string | undefined) ?? null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) bad('HUBMILL_DATABASE_URL', '<redacted>', 'expected a postgresql:// URL');
  const role = str(pick('role', 'HUBMILL_ROLE'), 'all') as Role;
  if (!ROLES.includes(role)) bad('role', role, `expected one of ${ROLES.join(', ')}`);
  if (role !== 'all' && databaseUrl === null) bad('role', role, 'api and worker nodes share a PostgreSQL store: set HUBMILL_DATABASE_URL');
  const kernelGatewayUrl = ((pick('kernelGatewayUrl', 'HUBMILL_KERNEL_GATEWAY_URL') as string | undefined) ?? null)?.replace(/\/+$/, '') ?? null;
  if (kernelGatewayUrl !== null && !/^https?:\/\/[^/]+/.test(kernelGatewayUrl)) bad('HUBMILL_KERNEL_GATEWAY_URL', kernelGatewayUrl, 'expected an http(s) URL');
  const kernelGatewayToken = (pick('kernelGatewayToken', 'HUBMILL_KERNEL_GATEWAY_TOKEN') as string | undefined) ?? null;
  const homes = str(pick('homes', 'HUBMILL_HOMES'), 'local') as Config['homes'];
  if (!HOMES.includes(homes)) bad('HUBMILL_HOMES', homes, `expected one of ${HOMES.join(', ')}`);
  const userServerIdleS = toNumber('user server idle', pick('userServerIdleS', 'HUBMILL_USER_SERVER_IDLE_S') ?? 300, 0);

  const config: Mutable<Config> = {
    host,
    port,
    homeTemplate,
    dataDir,
    apiToken,
    apiTokenGenerated,
    jupyterhubApiUrl,
    jupyterhubApiToken,
    servicePrefix,
    jupyterhubServiceName,
    jupyterhubClientId,
    jupyterhubOauthCallbackUrl,
    jupyterhubBaseUrl,
    jupyterhubHost,
    hubPublicUrl,
    cookieSecret,
    hubAuthCacheS,
    rateLimitPerMin,
    rateLimitIpPerMin,
    rateLimitWindowS,
    maxRunningPerUser,
    maxQueuedPerUser,
    trustProxy,
    concurrency,
    poolSizes: Object.freeze(poolSizes),
    preload: Object.freeze(preload),
    forkServer,
    maxTimeoutS,
    maxCellTimeoutS,
    maxBodyBytes,
    waitMaxS,
    executeWaitMaxS,
    retentionDays,
    requeueOnRestart,
    leaseS,
    shutdownGraceS,
    webhookAllow,
    logLevel,
    logFormat,
    databaseUrl,
    role,
    kernelGatewayUrl,
    kernelGatewayToken,
    homes,
    userServerIdleS,
  };
  return Object.freeze(config);
}

/** The URL to print at start (with `?token=` when the token was generated, as Jupyter does). */
export function serviceUrl(config: Config, port = config.port): string {
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const base = `http://${host}:${port}${config.servicePrefix}`;
  return config.apiTokenGenerated && config.apiToken ? `${base}?token=${config.apiToken}` : base;
}
