/**
 * Write notebooks the way Jupyter does (`json.dumps(nb, indent=1, ensure_ascii=False)`
 * plus a trailing newline; keys in their given order), atomically.
 */
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PyFloat } from './py-float.js';
import type { Notebook } from './notebook-types.js';

/** Serialise a notebook as Jupyter writes it: one-space indent, literal non-ASCII, trailing newline. */
export function serializeNotebook(nb: Notebook): string {
  return `${toJsonText(nb, 1)}\n`;
}

/**
 * JSON text for any value, like JSON.stringify(value, null, indent) with three differences:
 * a `bigint` is written as its exact digits, a `PyFloat` keeps its Python spelling (`1.0`),
 * and non-finite numbers become `null` (JSON has no NaN; Python would write invalid JSON).
 */
export function toJsonText(value: unknown, indent = 0): string {
  const out = write(value, '', indent > 0 ? ' '.repeat(indent) : '');
  return out ?? 'null';
}

function write(value: unknown, pad: string, step: string): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value instanceof PyFloat) return Number.isFinite(value.value) ? value.repr() : 'null';
  const obj = value as { toJSON?: () => unknown };
  if (typeof obj.toJSON === 'function') return write(obj.toJSON(), pad, step);
  const inner = pad + step;
  const [open, close, sep] = step ? ['\n' + inner, '\n' + pad, ',\n' + inner] : ['', '', ','];
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((v) => write(v, inner, step) ?? 'null');
    return `[${open}${items.join(sep)}${close}]`;
  }
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const text = write(v, inner, step);
    if (text !== undefined) parts.push(`${JSON.stringify(k)}:${step ? ' ' : ''}${text}`);
  }
  if (parts.length === 0) return '{}';
  return `{${open}${parts.join(sep)}${close}}`;
}

/**
 * Write a notebook atomically: a temp file in the same folder, fsync, rename over the
 * target. Readers never see a half-written notebook; an existing file's mode is kept.
 * `sync: false` skips the fsync (still atomic for readers, not durable across an OS
 * crash): for saves that a later synced save supersedes, like a run's progress saves.
 */
export async function writeNotebookFile(path: string, nb: Notebook, opts: { sync?: boolean } = {}): Promise<void> {
  await writeFileAtomic(path, serializeNotebook(nb), opts);
}

/** Atomic text-file write used by writeNotebookFile (exported for other notebook-shaped files). */
export async function writeFileAtomic(path: string, text: string, opts: { sync?: boolean } = {}): Promise<void> {
  let mode: number | undefined;
  try {
    mode = (await stat(path)).mode & 0o7777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode ?? 0o666);
  try {
    try {
      await fh.writeFile(text, 'utf8');
      // `open` applied the umask; chmod restores the exact mode of the file being replaced.
      if (mode !== undefined) await fh.chmod(mode);
      if (opts.sync !== false) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Split text into nbformat's multiline form: each line keeps its `\n`; no empty trailing entry. */
export function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}
