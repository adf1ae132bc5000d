/**
 * Secret names and scopes as the API gives them and the store keeps them:
 * the API's `user` (with a username) and `group:<name>` become the stored
 * `user:<username>` and `group:<name>`.
 */
import { SecretRefusedError } from './errors.js';

/** An environment variable's name; the names hubmill or the kernel launcher set themselves are refused. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const RESERVED = /^(HUBMILL_|JPY_|KERNEL_|JUPYTER_|JUPYTERHUB_)|^(HOME|USER|LOGNAME|PAGER|PATH|LD_PRELOAD|LD_LIBRARY_PATH|PYTHONPATH|PYTHONHOME|PYTHONSTARTUP)$/;
const GROUP = /^[^\s:][^:]{0,254}$/;

export function checkSecretName(name: string): void {
  if (!NAME.test(name)) throw new SecretRefusedError(`secret name '${name}' is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*, at most 128 characters)`);
  if (RESERVED.test(name)) throw new SecretRefusedError(`secret name '${name}' is reserved (hubmill or the kernel launcher sets it)`);
}

/** The stored scope of a user's own secrets. */
export const userScope = (username: string): string => `user:${username}`;
export const groupScope = (group: string): string => `group:${group}`;

/** The API's scope (`user` or `group:<name>`) as stored, for `username`'s user scope. */
export function storedScope(apiScope: string, username: string): string {
  if (apiScope === 'user') return userScope(username);
  if (apiScope.startsWith('group:') && GROUP.test(apiScope.slice(6))) return apiScope;
  throw new SecretRefusedError(`scope '${apiScope}' is neither 'user' nor 'group:<name>'`);
}

/** The stored scope as the API shows it: `user` or `group:<name>`. */
export function apiScope(stored: string): string {
  return stored.startsWith('user:') ? 'user' : stored;
}

/** The user of a user scope; null for a group scope. */
export function scopeUser(stored: string): string | null {
  return stored.startsWith('user:') ? stored.slice(5) : null;
}
