/**
 * Users' homes as the HTTP layer needs them, bound to the configured home
 * template. The rules themselves (usernames, path confinement, the notebook
 * walk, output names) live in users/; this adds only the reverse lookup the
 * seed's `/run-notebook` needs: which user's home an absolute path lies in.
 */
import { normalize } from 'node:path';
import { homePathFor, isValidUsername, resolveHome } from '../users/home.js';
import { isInside, relativeToHome, resolveInside } from '../users/paths.js';
import { findNotebookByName, listNotebooks, type FoundNotebook, type NotebookEntry } from '../users/notebooks.js';

export class Homes {
  readonly template: string;
  readonly #pattern: RegExp;

  constructor(template: string) {
    this.template = template;
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const [before, after] = template.replace(/\/+$/, '').split('{username}', 2) as [string, string];
    this.#pattern = new RegExp(`^${esc(before)}([^/]+)${esc(after)}(?:/|$)`);
  }

  /** The home of a user (no filesystem access). InvalidUsernameError (400) for unsafe names. */
  homeFor(username: string): string {
    return homePathFor(username, this.template);
  }

  /** The home of a user, which must exist; NotFoundError (404) otherwise. */
  existingHome(username: string): Promise<string> {
    return resolveHome(username, this.template);
  }

  /** Which user's home an absolute path lies in, judged lexically by the template; null when none. */
  userForPath(absPath: string): { username: string; home: string } | null {
    if (!absPath.startsWith('/')) return null;
    const p = normalize(absPath);
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
