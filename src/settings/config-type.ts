/**
 * The shape of hubmill's settings once read (`loadConfig` in config.ts); each
 * field has its row in settings/table.ts (environment name, flag, default,
 * parser, documentation).
 */
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
  /** The 32-byte key that seals stored secrets, as base64 (from HUBMILL_SECRET_KEY or HUBMILL_SECRET_KEY_FILE); null = none (secrets cannot be stored). */
  readonly secretKey: string | null;
  /** How long a hub token check is cached, seconds. */
  readonly hubAuthCacheS: number;
  /** Requests per minute per user / per client address; 0 = unlimited. */
  readonly rateLimitPerMin: number;
  readonly rateLimitIpPerMin: number;
  /** Rate-limit window, seconds (the *PerMin limits count per window). */
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
  readonly poolMax: number;
  /** Code run in a pooled kernel before it joins the pool (or once in its fork server), per kernelspec name. */
  readonly preload: Readonly<Record<string, string>>;
  /** Fork Python kernels from a fork server per kernelspec (`hubmill serve` only; `hubmill run` launches). */
  readonly forkServer: boolean;
  /** Upper bound (and default) of a job's whole-run timeout; 0 = unlimited. A job asking for more is refused (runner/time-limits.ts). */
  readonly maxTimeoutS: number;
  /** Upper bound (and default) of a job's per-cell timeout; 0 = unlimited. A job asking for more is refused. */
  readonly maxCellTimeoutS: number;
  readonly maxBodyBytes: number;
  readonly maxOutputBytes: number;
  /** Bound of `POST /api/v1/jobs?wait=true`. */
  readonly waitMaxS: number;
  /** Bound of the synchronous seed endpoints (`/execute`, `/run-notebook`); the seed's client waits 300 s. */
  readonly executeWaitMaxS: number;
  /** Finished jobs older than this many days are pruned; 0 = keep forever. */
  readonly retentionDays: number;
  /** Re-queue (instead of fail) the jobs of a process whose lease expired. */
  readonly requeueOnRestart: boolean;
  /** A running job whose process did not renew its lease for this long is reclaimed. */
  readonly leaseS: number;
  readonly shutdownGraceS: number;
  /** Host names, addresses and CIDRs of loopback/private webhook targets that are allowed. */
  readonly webhookAllow: readonly string[];
  /** smtp://user:pass@host:port (STARTTLS when the server offers it) or smtps:// (TLS); null = no e-mail notifications. */
  readonly smtpUrl: string | null;
  /** The From address of notification mail. */
  readonly smtpFrom: string | null;
  /** The UI's address as users reach it, for links in notifications (default: hubmill's own address and prefix). */
  readonly publicUrl: string | null;
  /** Attempts of one notification before it is marked failed. */
  readonly notifyAttempts: number;
  /** Delay before a notification's first retry, doubled for each further one. */
  readonly notifyBackoffS: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** 'auto': human-readable lines when stdout is a terminal, JSON lines otherwise (see logger.ts). */
  readonly logFormat: (typeof LOG_FORMATS)[number];
  /** postgresql:// URL of the shared store and queue; null = SQLite in `dataDir` (one machine). */
  readonly databaseUrl: string | null;
  /** 'all': HTTP and jobs; 'api': HTTP only; 'worker': runs jobs and schedules, serves only /health and /metrics. */
  readonly role: Role;
  /** Base URL of a Jupyter Kernel/Enterprise Gateway or Jupyter Server that starts local-target kernels; null = launch here. */
  readonly kernelGatewayUrl: string | null;
  readonly kernelGatewayToken: string | null;
  /** Where users' files live: 'local' (homeTemplate on this machine) or 'user-server' (each user's Contents API). */
  readonly homes: (typeof HOMES)[number];
  /** A user server hubmill started is stopped this many seconds after its last job ends; 0 = never. */
  readonly userServerIdleS: number;
}

export const ROLES = ['all', 'api', 'worker'] as const;
export type Role = (typeof ROLES)[number];
export const HOMES = ['local', 'user-server'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

/** The fields read from a flag or the environment (all but the derived `apiTokenGenerated`). */
export type SettingKey = Exclude<keyof Config, 'apiTokenGenerated'>;
