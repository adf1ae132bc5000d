/**
 * hubmill in this process as the test hub's external service `hubmill`: the
 * flags every hub test shares (loopback, the hub's homes, a data dir in the
 * hub's folder, no warm kernels, silent logs) and the environment the hub gives
 * its service; each test adds its own flags and variables.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Config, type ConfigFlags } from '../../src/config.js';
import { startServer, type StartedServer } from '../../src/server.js';
import { hubServiceEnv, type Hub } from './jupyterhub.js';

export interface HubService {
  server: StartedServer;
  config: Config;
  /** http://127.0.0.1:PORT, the service's own address (not through the proxy). */
  base: string;
}

/** Starts hubmill on `port` (the one the hub proxies /services/hubmill/ to; 0 when unregistered). */
export async function startHubService(hub: Hub, port: number, flags: ConfigFlags = {}, env: Record<string, string> = {}): Promise<HubService> {
  const config = loadConfig(
    { host: '127.0.0.1', port, homeTemplate: hub.homeTemplate, dataDir: join(hub.dir, 'hubmill-data'), pool: 'python3:0', logLevel: 'silent', ...flags },
    hubServiceEnv(hub, env),
  );
  const server = await startServer(config, { signals: false, logger: pino({ level: 'silent' }), print: () => undefined });
  return { server, config, base: `http://127.0.0.1:${server.port}` };
}
