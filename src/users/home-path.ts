/**
 * Usernames and home folders.
 *
 * Username rules (checked before a name touches a path, a query or getent):
 * 1 to 64 characters from `A-Z a-z 0-9 . _ @ + -`, starting with a letter, a
 * digit or `_`, and never containing `..`. That covers JupyterHub's usual names
 * (lower-cased logins, e-mail addresses like `ana@example.org`, `first.last`)
 * and Linux login names, while ruling out `/`, `\`, NUL and every other control
 * character, whitespace, `~`, `%`, `{}`, an empty name, `.`/`..` and names that
 * look like options (`-x`). A valid name is always exactly one path segment.
 */
import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { isAbsolute, normalize, sep } from 'node:path';
import { InvalidUsernameError, NotFoundError, UsageError } from '../errors.js';

export const USERNAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._@+-]{0,63}$/;
export const DEFAULT_HOME_TEMPLATE = '/home/{username}';

export function isValidUsername(name: unknown): name is string {
  return typeof name === 'string' && USERNAME_PATTERN.test(name) && !name.includes('..');
}

/** Returns the name unchanged, or throws InvalidUsernameError (400). */
export function validateUsername(name: unknown): string {
  if (!isValidUsername(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 80)) : typeof name;
    throw new InvalidUsernameError(
      `invalid username ${shown}: use 1-64 characters from letters, digits, '.', '_', '@', '+', '-', starting with a letter, digit or '_'`,
    );
  }
  return name;
}

/**
 * Checks a home template once (at config time): absolute, contains `{username}`,
 * and `{username}` fills a whole path segment, so a valid name can never reach a sibling folder.
 */
export function validateHomeTemplate(template: string): string {
  if (!isAbsolute(template)) throw new UsageError(`home template must be an absolute path: ${template}`);
  if (template.includes('\0')) throw new UsageError('home template contains a NUL byte');
  const segments = template.split('/');
  const withName = segments.filter((s) => s.includes('{username}'));
  if (withName.length === 0) throw new UsageError(`home template must contain {username}: ${template}`);
  if (withName.some((s) => s !== '{username}')) {
    throw new UsageError(`{username} must be a whole path segment in the home template: ${template}`);
  }
  if (segments.some((s) => s === '..' || s === '.')) throw new UsageError(`home template must not contain . or .. segments: ${template}`);
  return template;
}

/** The user hubmill runs as and its own home, when the home template has none for it (see ownHomeOutsideTemplate). */
export interface OwnHome {
  username: string;
  home: string;
}

/**
 * Decided once at start, for installs without a hub: when the template's folder for
 * the user hubmill runs as does not exist but that user's passwd home does (`npm start`
 * as root: /home/root is missing, /root is there), that user's home is its passwd home,
 * so the UI opens it instead of "Choose a user". Null otherwise. With a hub, a hub user
 * of that name is someone else: the caller passes no OwnHome there.
 */
export function ownHomeOutsideTemplate(template: string, who: { username: string; homedir: string } = userInfo()): OwnHome | null {
  if (!isValidUsername(who.username) || !who.homedir || !isAbsolute(who.homedir)) return null;
  const isDir = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
  if (isDir(homePathFor(who.username, template))) return null;
  const home = normalize(who.homedir).replace(/(.)\/+$/, '$1');
  return isDir(home) ? { username: who.username, home } : null;
}

/**
 * The home folder of a (validated) user, from the template (or `own`, for the user
 * hubmill runs as when the template has no home for it); no filesystem access.
 */
export function homePathFor(username: string, template: string = DEFAULT_HOME_TEMPLATE, own: OwnHome | null = null): string {
  validateUsername(username);
  validateHomeTemplate(template);
  if (own && username === own.username) return own.home;
  const home = normalize(template.split('{username}').join(username));
  // Trailing separators are dropped so `home + sep` prefix checks work everywhere.
  return home.length > 1 && home.endsWith(sep) ? home.slice(0, -1) : home;
}

/** The home folder of a user, which must exist and be a directory; NotFoundError (404) otherwise. */
export async function resolveHome(username: string, template: string = DEFAULT_HOME_TEMPLATE, own: OwnHome | null = null): Promise<string> {
  const home = homePathFor(username, template, own);
  const st = await stat(home).catch(() => null);
  if (!st || !st.isDirectory()) throw new NotFoundError(`user ${username} not found (no home folder)`);
  return home;
}
