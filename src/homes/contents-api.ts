/**
 * A user's files through their Jupyter server's Contents API (`/api/contents`),
 * for deployments where hubmill does not share the users' homes (Kubernetes:
 * each home is a volume mounted only in the user's pod).
 *
 * Paths are API paths: relative to the server's root, '/'-separated. They come
 * from callers, so `apiPath` checks them first with the lexical rules of
 * users/paths.ts (no NUL or control characters, no backslash, no absolute path,
 * no double-encoding tricks) and, stricter than for local homes, refuses every
 * `..` segment: the server resolves paths itself and hubmill cannot see where a
 * `..` would land. Each segment is percent-encoded in the URL.
 *
 * Notebooks are read and written as text (`type=file`, `format=text`), not as
 * the server's parsed `type=notebook` model: the server would re-serialise the
 * JSON with sorted keys and Python floats, so a run through the Contents API
 * would not be byte-for-byte the run on a local home. As text, hubmill parses
 * and serialises exactly as it does for local files (notebook/read, write).
 * Jupyter Server writes files atomically (a temp file, then a rename).
 *
 * Every call is bounded (default 30 s). A 404 is a NotFoundError; other failures
 * are ContentsApiError (502) naming the path and the server's message.
 */
import { HubmillError, NotFoundError, UnsafePathError } from '../errors.js';
import type { NotebookSink } from '../notebook/io.js';
import { serializeNotebook } from '../notebook/write.js';
import { splitUserPath } from '../users/paths.js';
import { jupyterCall, jupyterMessage, type JupyterAnswer } from './jupyter-call.js';

/** The user's server answered a Contents API call with an error, or did not answer; 502. */
export class ContentsApiError extends HubmillError {
  override readonly code = 'CONTENTS_API';
  override readonly httpStatus = 502;
}

/** A caller's path as a Contents API path ('' = the server's root), or UnsafePathError (400). */
export function apiPath(userPath: unknown): string {
  if (typeof userPath === 'string' && userPath.split('/').includes('..')) {
    const shown = JSON.stringify(userPath.length > 120 ? `${userPath.slice(0, 120)}…` : userPath);
    throw new UnsafePathError(`unsafe path ${shown}: '..' segments are not allowed in paths of the user's server`);
  }
  return splitUserPath('/', userPath).join('/');
}

/** The folder of an API path ('' for the root). */
export function apiDirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** One entry of the Contents API (the fields hubmill uses). */
export interface ContentsModel {
  name: string;
  path: string;
  type: 'notebook' | 'file' | 'directory';
  last_modified?: string;
  size?: number | null;
  content?: unknown;
  format?: string | null;
}

export interface ContentsApiOptions {
  /** Bound of one call (default 30 s). */
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
  /** Named in error messages, e.g. "alice's server". */
  label?: string;
}

export class ContentsApi {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly doFetch: typeof fetch;
  private readonly label: string;

  /** `baseUrl`: the server's base URL, e.g. http://hub:8000/user/alice/; `token`: one the server accepts. */
  constructor(
    baseUrl: string,
    readonly token: string,
    opts: ContentsApiOptions = {},
  ) {
    this.base = `${baseUrl.replace(/\/+$/, '')}/api/contents`;
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.doFetch = opts.fetch ?? fetch;
    this.label = opts.label ?? 'the Jupyter server';
  }

  private url(path: string, query = ''): string {
    const p = apiPath(path);
    const enc = p === '' ? '' : `/${p.split('/').map(encodeURIComponent).join('/')}`;
    return `${this.base}${enc}${query}`;
  }

  private async call(method: string, path: string, query: string, body?: unknown, signal?: AbortSignal): Promise<JupyterAnswer> {
    const url = this.url(path, query); // UnsafePathError before any request
    return jupyterCall(url, {
      method,
      token: this.token,
      body,
      timeoutMs: this.timeoutMs,
      signal,
      fetch: this.doFetch,
      redirect: 'manual',
      noAnswer: (err) => new ContentsApiError(`${this.label} did not answer ${method} /api/contents/${path}: ${err.message}`, { cause: err }),
    });
  }

  private fail(method: string, path: string, r: JupyterAnswer): never {
    if (r.status === 404) throw new NotFoundError(`not found in ${this.label}: ${path}`);
    throw new ContentsApiError(`${this.label} refused ${method} /api/contents/${path} (${r.status}: ${jupyterMessage(r.body) ?? `HTTP ${r.status}`})`);
  }

  /** The entry without its content; null when it does not exist. */
  async stat(path: string, signal?: AbortSignal): Promise<ContentsModel | null> {
    const r = await this.call('GET', path, '?content=0', undefined, signal);
    if (r.status === 404) return null;
    if (r.status !== 200) this.fail('GET', path, r);
    return r.body as ContentsModel;
  }

  /** A file's text (a notebook's JSON text as stored); NotFoundError when missing or a folder. */
  async readText(path: string, signal?: AbortSignal): Promise<string> {
    const r = await this.call('GET', path, '?type=file&format=text&content=1', undefined, signal);
    if (r.status === 400) {
      // Jupyter Server answers 400 "... is a directory, not a file".
      throw new NotFoundError(`not a file in ${this.label}: ${path}`);
    }
    if (r.status !== 200) this.fail('GET', path, r);
    const model = r.body as ContentsModel;
    if (typeof model?.content !== 'string') throw new ContentsApiError(`${this.label} sent no text for ${path}`);
    return model.content;
  }

  /** Writes a file's text (created or replaced). */
  async writeText(path: string, text: string, signal?: AbortSignal): Promise<void> {
    const r = await this.call('PUT', path, '', { type: 'file', format: 'text', content: text }, signal);
    if (r.status !== 200 && r.status !== 201) this.fail('PUT', path, r);
  }

  /** Creates a folder (one level); an existing folder is fine. */
  async mkdir(path: string, signal?: AbortSignal): Promise<void> {
    const r = await this.call('PUT', path, '', { type: 'directory' }, signal);
    if (r.status === 200 || r.status === 201) return;
    const existing = await this.stat(path, signal);
    if (existing?.type === 'directory') return;
    this.fail('PUT', path, r);
  }

  /** The entries of a folder; NotFoundError when it does not exist. */
  async list(path: string, signal?: AbortSignal): Promise<ContentsModel[]> {
    const r = await this.call('GET', path, '?type=directory&content=1', undefined, signal);
    if (r.status !== 200) this.fail('GET', path, r);
    const content = (r.body as ContentsModel).content;
    return Array.isArray(content) ? (content as ContentsModel[]) : [];
  }
}

/** The output as a file in the user's server: each save is one PUT of the whole notebook's text. */
export function contentsSink(api: ContentsApi, path: string): NotebookSink {
  return {
    path,
    write: (nb) => api.writeText(path, serializeNotebook(nb)),
    close: () => undefined,
  };
}
