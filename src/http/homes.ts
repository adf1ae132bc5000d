/**
 * Users' homes as the HTTP layer needs them, bound to the configured home
 * template. The rules themselves (usernames, path confinement, the notebook
 * walk, output names) live in users/; this adds only the reverse lookup the
 * seed's `/run-notebook` needs: which user's home an absolute path lies in.
 */
import { normalize } from 'node:path';
import { userInfo } from 'node:os';
import { homePathFor, isValidUsername, resolveHome, type OwnHome } from '../users/home.js';
import { isInside, relativeToHome, resolveInside } from '../users/paths.js';
import { findNotebookByName, listNotebooks, type FoundNotebook, type NotebookEntry } from '../users/notebooks.js';

export class Homes {
  readonly template: string;
  readonly #pattern: RegExp;

  /**
   * @param own the home of the user hubmill runs as when the template has none for it
   *   (users/home.ts ownHomeOutsideTemplate; decided at start, null with a hub).
   */
  constructor(
    template: string,
    readonly own: OwnHome | null = null,
  ) {
    this.template = template;
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const [before, after] = template.replace(/\/+$/, '').split('{username}', 2) as [string, string];
    this.#pattern = new RegExp(`^${esc(before)}([^/]+)${esc(after)}(?:/|$)`);
  }

  /** The user hubmill runs as (whose home the UI opens for the service token). */
  get serviceUser(): string {
    return this.own?.username ?? userInfo().username;
  }

  /** The home of a user (no filesystem access). InvalidUsernameError (400) for unsafe names. */
  homeFor(username: string): string {
    return homePathFor(username, this.template, this.own);
  }

  /** The home of a user, which must exist; NotFoundError (404) otherwise. */
  existingHome(username: string): Promise<string> {
    return resolveHome(username, this.template, this.own);
  }

  /** Which user's home an absolute path lies in, judged lexically by the template; null when none. */
  userForPath(absPath: string): { username: string; home: string } | null {
    if (!absPath.startsWith('/')) return null;
    const p = normalize(absPath);
    if (this.own && isInside(this.own.home, p)) return { username: this.own.username, home: this.own.home };
    const m = this.#pattern.exec(p);
    if (!m || !isValidUsername(m[1])) return null;
    const home = this.homeFor(m[1]!);
    return isInside(home, p) ? { username: m[1]!, home } : null;
  }

  /** Resolves a caller's path inside the home (real path; symlinks may not lead out). 400 / 404. */
  resolveInside(home: string, userPath: string, opts: { mustExist: boolean; allowAbsolute?: boolean }): Promise<string> {
    return resolveInside(home, userPath, opts);
  }

  /** `abs` (from resolveInside) relative to the home, '/'-separated. */
  relative(home: string, abs: string): Promise<string> {
    return relativeToHome(home, abs);
  }

  findNotebook(home: string, name: string): Promise<FoundNotebook> {
    return findNotebookByName(home, name);
  }

  listNotebooks(home: string, maxCount?: number, opts: { skipOutputs?: boolean } = {}): Promise<NotebookEntry[]> {
    return listNotebooks(home, maxCount === undefined ? opts : { ...opts, maxCount });
  }
}
