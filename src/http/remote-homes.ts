/**
 * HUBMILL_HOMES=user-server as the HTTP layer needs it: the users' files are in
 * their own Jupyter servers, reached through the Contents API (the server is
 * started through the hub when needed, and counts as in use for the idle stop
 * while a request reads it). Local homes are never touched in this mode.
 */
import { parseNotebook } from '../notebook/read.js';
import { summarizeNotebook } from '../notebook/inspect.js';
import { UserServerNotConfiguredError } from '../kernel/user-server.js';
import { checkServerName } from '../runner/contents-intake.js';
import type { ContentsApi } from '../users/contents-api.js';
import type { NotebookInspection, RouteContext } from './context.js';

/** True when users' files are read through their servers. */
export function remoteHomes(ctx: RouteContext): boolean {
  return ctx.config.homes === 'user-server';
}

/** Runs `fn` with the Contents API of the user's server (default or named). */
export async function withUserServer<T>(ctx: RouteContext, username: string, serverName: string | undefined, fn: (api: ContentsApi) => Promise<T>): Promise<T> {
  if (!ctx.userServers) {
    throw new UserServerNotConfiguredError('HUBMILL_HOMES=user-server needs JupyterHub (JUPYTERHUB_API_URL, JUPYTERHUB_API_TOKEN and the hub\'s public URL)');
  }
  const c = await ctx.userServers.contents(username, checkServerName(serverName) ?? '');
  try {
    return await fn(c.api);
  } finally {
    c.release();
  }
}

/** The listing's view of one notebook in the user's server. */
export async function inspectRemote(api: ContentsApi, path: string): Promise<NotebookInspection> {
  return summarizeNotebook(parseNotebook(await api.readText(path), path));
}
