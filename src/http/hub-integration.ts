/**
 * Everything buildApp needs to run as a JupyterHub service, derived from the
 * config: the authenticators (static token first, so hub-less scripts keep
 * working while the hub is down; then hub API tokens; then browser sessions),
 * the OAuth options, and the URL rewrite that serves the prefixed app at the
 * root as well (the proxy sends `/services/hubmill/x` with the full path;
 * direct callers on :8002 use `/x`, as with the seed).
 */
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';
import { StaticTokenAuthenticator, type Authenticator } from './auth.js';
import { HubAuthenticator } from './hub-auth.js';
import { CookieSessionAuthenticator, type OAuthOptions } from './oauth.js';
import { TokenCookieAuthenticator, type TokenIdentifier } from './token-cookie.js';

export interface HubIntegration {
  hubAuth: HubAuthenticator;
  cookies: CookieSessionAuthenticator;
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
    cookies: new CookieSessionAuthenticator(hubAuth, config.cookieSecret),
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

export function defaultAuthenticators(config: Config, hub: HubIntegration | null): Authenticator[] {
  const list: Authenticator[] = [];
  const identifiers: TokenIdentifier[] = [];
  if (config.apiToken) {
    const statics = new StaticTokenAuthenticator(config.apiToken);
    list.push(statics);
    identifiers.push(statics);
  }
  if (hub) {
    list.push(hub.hubAuth, hub.cookies);
    identifiers.push(hub.hubAuth);
  }
  // A browser signed in with a token link (ui/signin) carries that token in a cookie.
  if (identifiers.length) list.push(new TokenCookieAuthenticator(identifiers, config.cookieSecret));
  return list;
}

/** Fastify `rewriteUrl`: a request outside the mount point is served as if it came under it. */
export function mountAtRoot(mount: string): (req: IncomingMessage) => string {
  return (req) => {
    const url = req.url ?? '/';
    if (mount === '' || url === mount || url.startsWith(`${mount}/`) || url.startsWith(`${mount}?`)) return url;
    return url.startsWith('/') ? `${mount}${url}` : url;
  };
}
