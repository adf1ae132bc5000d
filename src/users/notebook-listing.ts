/**
 * Finding a user's notebooks (the seed's `GET /list-notebooks/{username}` and
 * `POST /execute`'s `notebook_name` lookup).
 *
 * The walk skips hidden entries (names starting with `.`, so `.ipynb_checkpoints`,
 * `.git`, `.local`...), never follows a symlinked folder (no loops, no escape),
 * lists a symlinked notebook only when its real target is a file inside the
 * home, and is bounded in depth and count so a huge home cannot stall the service.
 */
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError, UnsafePathError } from '../errors.js';
import { isInside, relativeToHome, resolveInside, splitUserPath } from './paths.js';

export interface NotebookEntry {
  /** File name, e.g. `Test_notebook.ipynb`. */
  name: string;
  /** Absolute path: the home as configured joined with relative_path (as the seed shows it). */
  path: string;
  /** Relative to the home, `/`-separated. */
  relative_path: string;
  /** Bytes. */
  size: number;
  /** Local naive time `YYYY-MM-DDTHH:MM:SS`, as the seed's example shows it. */
  modified: string;
}

export interface ListNotebooksOptions {
  /** Folder levels below the home to descend (default 20). */
  maxDepth?: number;
  /** Stop after this many notebooks (default 10 000). */
  maxCount?: number;
  /** Leave out output notebooks (see isOutputNotebook); default false, as the seed listed them. */
  skipOutputs?: boolean;
}

/** The folder the runner writes job outputs into, next to the input notebook. */
export const OUTPUTS_FOLDER = 'hubmill-outputs';

/**
 * Whether a notebook (path relative to the home) looks like a run's output rather than an
 * input: anything inside a `hubmill-outputs` folder (the runner's default outputs), and
 * names with `_output_` (the seed's `<stem>_output_<YYYYMMDD_HHMMSS>.ipynb`).
 */
export function isOutputNotebook(relPath: string): boolean {
  const segments = relPath.split('/');
  return segments.slice(0, -1).includes(OUTPUTS_FOLDER) || segments[segments.length - 1]!.includes('_output_');
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `YYYY-MM-DDTHH:MM:SS` in the service's local time zone (Python's naive `datetime.fromtimestamp(t).isoformat()` without microseconds). */
export function localIsoSeconds(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function isNotebookName(name: string): boolean {
  return name.endsWith('.ipynb') && !name.startsWith('.');
}

/** Every notebook under `home`, sorted by relative path. NotFoundError (404) when the home does not exist. */
export async function listNotebooks(home: string, opts: ListNotebooksOptions = {}): Promise<NotebookEntry[]> {
  const maxDepth = opts.maxDepth ?? 20;
  const maxCount = opts.maxCount ?? 10_000;
  let realHome: string;
  try {
    realHome = await realpath(home);
    if (!(await stat(realHome)).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new NotFoundError('home folder not found');
  }
  const found: NotebookEntry[] = [];
  // Breadth-first so the count bound keeps the shallow notebooks.
  let level: { dir: string; rel: string }[] = [{ dir: realHome, rel: '' }];
  for (let depth = 0; depth <= maxDepth && level.length > 0 && found.length < maxCount; depth++) {
    const nextLevel: { dir: string; rel: string }[] = [];
    for (const { dir, rel } of level) {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const abs = join(dir, e.name);
        const relPath = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (!(opts.skipOutputs && e.name === OUTPUTS_FOLDER)) nextLevel.push({ dir: abs, rel: relPath });
          continue;
        }
        if (!isNotebookName(e.name)) continue;
        if (opts.skipOutputs && isOutputNotebook(relPath)) continue;
        if (!e.isFile() && !e.isSymbolicLink()) continue;
        let st;
        try {
          if (e.isSymbolicLink()) {
            const target = await realpath(abs);
            if (!isInside(realHome, target)) continue;
            st = await stat(target);
          } else {
            st = await lstat(abs);
          }
        } catch {
          continue;
        }
        if (!st.isFile()) continue;
        found.push({ name: e.name, path: join(home, relPath), relative_path: relPath, size: st.size, modified: localIsoSeconds(st.mtimeMs) });
        if (found.length >= maxCount) break;
      }
      if (found.length >= maxCount) break;
    }
    level = nextLevel;
  }
  return found.sort((a, b) => (a.relative_path < b.relative_path ? -1 : a.relative_path > b.relative_path ? 1 : 0));
}

export interface FoundNotebook {
  /** Real absolute path. */
  path: string;
  /** Relative to the home, `/`-separated. */
  relative_path: string;
}

/**
 * The seed's lookup: `name` with a `/` is a path relative to the home; a bare
 * name is searched anywhere in the home (also tried with `.ipynb` appended).
 * Several matches: the shallowest wins, then the alphabetically first path.
 * NotFoundError (404) when nothing matches; UnsafePathError (400) for hostile input.
 */
export async function findNotebookByName(home: string, name: unknown, opts: ListNotebooksOptions = {}): Promise<FoundNotebook> {
  if (typeof name !== 'string' || name.trim() === '') throw new UnsafePathError('notebook name must be a non-empty string');
  if (name.includes('/')) {
    const abs = await resolveInside(home, name, { mustExist: true });
    if (!(await stat(abs)).isFile()) throw new NotFoundError(`notebook not found: ${name}`);
    return { path: abs, relative_path: await relativeToHome(home, abs) };
  }
  // Validates the bare name with the same rules as paths (NUL, `..`, encoded tricks...).
  const segments = splitUserPath(home, name);
  if (segments.length !== 1) throw new NotFoundError(`notebook not found: ${name}`);
  const all = await listNotebooks(home, opts);
  const wanted = name.endsWith('.ipynb') ? [name] : [name, `${name}.ipynb`];
  for (const w of wanted) {
    const matches = all
      .filter((n) => n.name === w)
      .sort((a, b) => {
        const da = a.relative_path.split('/').length;
        const db = b.relative_path.split('/').length;
        return da - db || (a.relative_path < b.relative_path ? -1 : a.relative_path > b.relative_path ? 1 : 0);
      });
    const best = matches[0];
    if (best) {
      const abs = await resolveInside(home, best.relative_path, { mustExist: true });
      return { path: abs, relative_path: best.relative_path };
    }
  }
  throw new NotFoundError(`notebook not found: ${name}`);
}
