/**
 * A user's notebooks found through their Jupyter server's Contents API
 * (HUBMILL_HOMES=user-server): the same walk as users/notebook-listing.ts does on a local
 * home — breadth-first, hidden names skipped, sorted by path, bounded in depth
 * and count — plus a bound on the folders visited, since each is one request.
 * The server itself confines the walk to its root and decides about symlinks.
 */
import { NotFoundError, UnsafePathError } from '../errors.js';
import { apiPath, type ContentsApi } from './contents-api.js';
import { isOutputNotebook, localIsoSeconds, OUTPUTS_FOLDER, type ListNotebooksOptions, type NotebookEntry } from '../users/notebook-listing.js';

export interface ContentsListOptions extends ListNotebooksOptions {
  /** Folders listed at most (default 500). */
  maxFolders?: number;
}

/** Every notebook in the server (`path` and `relative_path` are both the API path). */
export async function listContentsNotebooks(api: ContentsApi, opts: ContentsListOptions = {}): Promise<NotebookEntry[]> {
  const maxDepth = opts.maxDepth ?? 20;
  const maxCount = opts.maxCount ?? 10_000;
  let folders = opts.maxFolders ?? 500;
  const found: NotebookEntry[] = [];
  let level = [''];
  for (let depth = 0; depth <= maxDepth && level.length > 0 && found.length < maxCount; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      if (folders-- <= 0 || found.length >= maxCount) break;
      const entries = await api.list(dir).catch((err: unknown) => {
        // The root must exist; a folder removed during the walk is skipped.
        if (dir === '' || !(err instanceof NotFoundError)) throw err;
        return [];
      });
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const rel = dir ? `${dir}/${e.name}` : e.name;
        if (e.type === 'directory') {
          if (!(opts.skipOutputs && e.name === OUTPUTS_FOLDER)) next.push(rel);
          continue;
        }
        if (e.type !== 'notebook' && !e.name.endsWith('.ipynb')) continue;
        if (opts.skipOutputs && isOutputNotebook(rel)) continue;
        const ms = e.last_modified ? Date.parse(e.last_modified) : NaN;
        found.push({
          name: e.name,
          path: rel,
          relative_path: rel,
          size: typeof e.size === 'number' ? e.size : 0,
          modified: localIsoSeconds(Number.isFinite(ms) ? ms : 0),
        });
        if (found.length >= maxCount) break;
      }
    }
    level = next;
  }
  return found.sort((a, b) => (a.relative_path < b.relative_path ? -1 : a.relative_path > b.relative_path ? 1 : 0));
}

/**
 * The seed's lookup (findNotebookByName's rule) in the user's server: `name`
 * with a `/` is a path; a bare name is searched anywhere (also with `.ipynb`
 * appended), the shallowest match first, then the alphabetically first path.
 * Returns the API path; NotFoundError (404) when nothing matches.
 */
export async function findContentsNotebook(api: ContentsApi, name: unknown): Promise<string> {
  if (typeof name !== 'string' || name.trim() === '') throw new UnsafePathError('notebook name must be a non-empty string');
  const path = apiPath(name);
  if (name.includes('/')) {
    const st = await api.stat(path);
    if (!st || st.type === 'directory') throw new NotFoundError(`notebook not found: ${name}`);
    return path;
  }
  if (path.includes('/') || path === '') throw new NotFoundError(`notebook not found: ${name}`);
  const all = await listContentsNotebooks(api);
  const depth = (p: string) => p.split('/').length;
  for (const w of name.endsWith('.ipynb') ? [name] : [name, `${name}.ipynb`]) {
    const best = all.filter((n) => n.name === w).sort((a, b) => depth(a.relative_path) - depth(b.relative_path) || (a.relative_path < b.relative_path ? -1 : 1))[0];
    if (best) return best.relative_path;
  }
  throw new NotFoundError(`notebook not found: ${name}`);
}
