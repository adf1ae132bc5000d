/**
 * Service configuration: read once from flags and environment, validated, frozen.
 * Flags win over the environment, the environment over defaults. No other module
 * reads `process.env`; everything else receives a `Config` (or parts of it).
 *
 * Every setting (its variable, flag, default, parser and documentation) is one
 * row of settings/table.ts; the README's and docs/admin.md's tables are rendered from it.
 */
import type { Config, SettingKey } from './settings/config-type.js';
import { SETTINGS, type Get, type Setting } from './settings/table.js';

export { ROLES, type Config, type Role } from './settings/config-type.js';
export { parsePoolSizes } from './settings/parse.js';

/** The commander attribute of a flag: `--home-template` → `homeTemplate`. */
export function flagAttribute(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Flags as given by the CLI or by code, keyed by the Config field or by the
 * flag's own name (`pool` for `--pool`); strings are parsed like their environment twins.
 */
export type ConfigFlags = { [K in SettingKey]?: Config[K] | string } & { pool?: string };

const present = (v: unknown): boolean => v !== undefined && v !== null && v !== '';

/**
 * Reads flags and environment into a frozen, validated `Config`.
 * Throws `UsageError` (CLI exit 2) on any invalid value.
 */
export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const given = flags as Record<string, unknown>;
  const values = new Map<SettingKey, unknown>();
  const resolving = new Set<SettingKey>();
  const raw = (key: SettingKey): unknown => {
    const s = SETTINGS[key] as Setting<unknown>;
    const f = present(given[key]) ? given[key] : s.flag ? given[flagAttribute(s.flag.name)] : undefined;
    if (present(f)) return f;
    const e = env[s.env];
    return present(e) ? e : undefined;
  };
  const get = (<K extends SettingKey>(key: K): Config[K] => {
    if (values.has(key)) return values.get(key) as Config[K];
    if (resolving.has(key)) throw new Error(`setting ${key} depends on itself`);
    resolving.add(key);
    const s = SETTINGS[key] as Setting<Config[K]>;
    const r = raw(key);
    const v = r !== undefined ? s.parse(r, get) : typeof s.default === 'function' ? (s.default as (g: Get, e: NodeJS.ProcessEnv) => Config[K])(get, env) : s.default;
    values.set(key, v);
    return v;
  }) as Get;

  const config: Record<string, unknown> = {};
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const v = get(key);
    config[key] = v !== null && typeof v === 'object' ? Object.freeze(v) : v;
  }
  config.apiTokenGenerated = config.apiToken !== null && raw('apiToken') === undefined;
  return Object.freeze(config) as unknown as Config;
}

/** The URL to print at start (with `?token=` when the token was generated, as Jupyter does). */
export function serviceUrl(config: Config, port = config.port): string {
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const base = `http://${host}:${port}${config.servicePrefix}`;
  return config.apiTokenGenerated && config.apiToken ? `${base}?token=${config.apiToken}` : base;
}
