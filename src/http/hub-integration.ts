/**
 * Everything buildApp needs to run as a JupyterHub service, derived from the
 * config: the authenticators (static token first, so hub-less scripts keep
 * working while the hub is down; then hub API tokens; then browser sessions,
 * whose stored tokens are re-checked by the first two), the OAuth options,
 * and the URL rewrite that serves the prefixed app at the
 * root as well (the proxy sends `/services/hubmill/x` with the full path;
 * direct callers on :8002 use `/x`, as with the seed).
 */
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';
import type { SessionStore } from '../store/session-store.js';
import { StaticTokenAuthenticator, type Authenticator } from './auth.js';
import { BrowserSessions, type TokenIdentifier } from './browser-sessions.js';
import { HubAuthenticator } from './hub-auth.js';
import type { OAuthOptions } from './oauth.js';

export interface HubIntegration {
  hubAuth: HubAuthenticator;
  oauth: OAuthOptions;
}

export function hubIntegrationFromConfig(config: Config): HubIntegration | null {
  if (!config.jupyterhubApiUrl || !config.jupyterhubApiToken) return null;
  const hubAuth = new HubAuthenticator({
    apiUrl: config.jupyterhubApiUrl,
    serviceName: config.jupyterhubServiceName,
    cacheTtlMs: config.hubAuthCacheS * 1000,
  });
  return {
    hubAuth,
    oauth: {
      prefix: config.servicePrefix,
      hubAuth,
      clientId: config.jupyterhubClientId,
      clientSecret: config.jupyterhubApiToken,
      authorizeUrl: `${config.jupyterhubHost}${config.jupyterhubBaseUrl}hub/api/oauth2/authorize`,
      callbackUrl: config.jupyterhubOauthCallbackUrl,
      cookieSecret: config.cookieSecret,
      secureCookies: config.jupyterhubHost.startsWith('https://'),
    },
  };
}

/**
 * The authenticators of a request, in order, and the browser sessions (null without a session store,
 * as with the tests' fake job store, or without any token to sign in with).
 */
export function defaultAuthenticators(
  config: Config,
  hub: HubIntegration | null,
  store: SessionStore | null,
): { authenticators: Authenticator[]; sessions: BrowserSessions | null } {
  const list: Authenticator[] = [];
  const identifiers: TokenIdentifier[] = [];
  if (config.apiToken) {
    const statics = new StaticTokenAuthenticator(config.apiToken);
    list.push(statics);
    identifiers.push(statics);
  }
  if (hub) {
    list.push(hub.hubAuth);
    identifiers.push(hub.hubAuth);
  }
  const sessions =
    store && identifiers.length
      ? new BrowserSessions({
          store,
          identifiers,
          cookieSecret: config.cookieSecret,
          prefix: config.servicePrefix,
          alwaysSecure: config.jupyterhubHost.startsWith('https://'),
        })
      : null;
  if (sessions) list.push(sessions);
  return { authenticators: list, sessions };
}

/** Fastify `rewriteUrl`: a request outside the mount point is served as if it came under it. */
export function mountAtRoot(mount: string): (req: IncomingMessage) => string {
  return (req) => {
    const url = req.url ?? '/';
    if (mount === '' || url === mount || url.startsWith(`${mount}/`) || url.startsWith(`${mount}?`)) return url;
    return url.startsWith('/') ? `${mount}${url}` : url;
  };
}
