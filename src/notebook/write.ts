/**
 * Write notebooks the way Jupyter does (`json.dumps(nb, indent=1, ensure_ascii=False)`
 * plus a trailing newline; keys in their given order), atomically.
 */
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PyFloat } from './py-float.js';
import { LongText, longTextOf } from './long-text.js';
import type { Notebook } from './notebook-types.js';

/** Serialise a notebook as Jupyter writes it: one-space indent, literal non-ASCII, trailing newline. */
export function serializeNotebook(nb: Notebook): string {
  return `${toJsonText(nb, 1)}\n`;
}

/**
 * JSON text for any value, like JSON.stringify(value, null, indent) with three differences:
 * a `bigint` is written as its exact digits, a `PyFloat` keeps its Python spelling (`1.0`),
 * and non-finite numbers become `null` (JSON has no NaN; Python would write invalid JSON).
 * A LongText (notebook/long-text.ts) is written as the one string it holds.
 */
export function toJsonText(value: unknown, indent = 0): string {
  const parts: string[] = [];
  const out: JsonOut = { text: (s) => parts.push(s), long: (pieces) => parts.push(JSON.stringify([...pieces].join(''))) };
  if (!walk(value, '', indent > 0 ? ' '.repeat(indent) : '', out)) return 'null';
  return parts.length === 1 ? parts[0]! : parts.join('');
}

/**
 * The notebook's text (serializeNotebook's bytes) as pieces of at most about 1 Mi characters, for
 * writing without building one string of the whole notebook. The notebook's structure is
 * read now (a snapshot: a run may change the notebook while the chunks are written); its
 * long strings and stream texts are escaped chunk by chunk as they are written.
 */
export function notebookChunks(nb: Notebook): Iterable<string> {
  const blocks = new BlockOut();
  walk(nb, '', ' ', blocks);
  blocks.text('\n');
  // A small notebook (most runs) is one block: written as one string, no chunk buffer.
  return blocks.single() ?? blocks.chunks();
}

/** Where the walk writes: JSON text, and long strings as pieces that are escaped later, one by one. */
interface JsonOut {
  text(s: string): void;
  /** A string value given as pieces (concatenated, it is the string): written as one JSON string. */
  long(pieces: Iterable<string>): void;
}

/** Strings at least this long are escaped while written, in slices, not during the walk. */
const LONG_STRING = 64 * 1024;
/** How much JSON text the walk joins into one block; also the writer's buffer (times 4). */
const CHUNK_CHARS = 1024 * 1024;

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/** The walk's output kept as blocks of JSON text and unescaped long strings. */
class BlockOut implements JsonOut {
  private readonly blocks: Array<string | Iterable<string>> = [];
  private cur: string[] = [];
  private curChars = 0;

  text(s: string): void {
    this.cur.push(s);
    this.curChars += s.length;
    if (this.curChars >= CHUNK_CHARS) this.seal();
  }

  long(pieces: Iterable<string>): void {
    this.seal();
    this.blocks.push(pieces);
  }

  private seal(): void {
    if (this.cur.length > 0) this.blocks.push(this.cur.join(''));
    this.cur = [];
    this.curChars = 0;
  }

  /** The whole text when it is a single block of JSON text (under CHUNK_CHARS, no long string), else null. */
  single(): [string] | null {
    if (this.blocks.length === 0 && this.curChars < CHUNK_CHARS) return [this.cur.join('')];
    return null;
  }

  /** The pieces as they are written: the blocks, and each long string escaped slice by slice (no string of the whole). */
  *chunks(): Generator<string> {
    this.seal();
    for (const block of this.blocks) {
      if (typeof block === 'string') yield block;
      else yield* escapedPieces(block);
    }
  }
}

/** JSON.stringify of the concatenated pieces, given as slices (a surrogate pair is never cut between two). */
function* escapedPieces(pieces: Iterable<string>): Generator<string> {
  yield '"';
  let carry = '';
  for (const piece of pieces) {
    const p = carry + piece;
    carry = '';
    let i = 0;
    while (i < p.length) {
      let end = Math.min(p.length, i + LONG_STRING);
      if (isHighSurrogate(p.charCodeAt(end - 1))) {
        if (end === p.length) {
          // The pair may go on in the next piece.
          carry = p.slice(end - 1);
          end--;
          if (end <= i) break;
        } else {
          end--;
        }
      }
      const s = JSON.stringify(p.slice(i, end));
      yield s.slice(1, -1);
      i = end;
    }
  }
  if (carry) yield JSON.stringify(carry).slice(1, -1);
  yield '"';
}

/** A value after its toJSON (PyFloat and LongText are written by the walk itself). */
function resolved(value: unknown): unknown {
  let v = value;
  for (let depth = 0; depth < 100; depth++) {
    if (v === null || typeof v !== 'object' || v instanceof PyFloat || v instanceof LongText) return v;
    const obj = v as { toJSON?: () => unknown };
    if (typeof obj.toJSON !== 'function') return v;
    v = obj.toJSON();
  }
  return v;
}

/** Whether a (resolved) value is left out of an object and written `null` in an array, as JSON.stringify does. */
const writesNothing = (v: unknown): boolean => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/** Writes `value` (resolved or not); false when it writes nothing. */
function walk(value: unknown, pad: string, step: string, out: JsonOut): boolean {
  const v = resolved(value);
  if (v === null) {
    out.text('null');
    return true;
  }
  switch (typeof v) {
    case 'string':
      if (v.length >= LONG_STRING) out.long([v]);
      else out.text(JSON.stringify(v));
      return true;
    case 'number':
      out.text(Number.isFinite(v) ? JSON.stringify(v) : 'null');
      return true;
    case 'bigint':
      out.text(v.toString());
      return true;
    case 'boolean':
      out.text(v ? 'true' : 'false');
      return true;
    case 'undefined':
    case 'function':
    case 'symbol':
      return false;
  }
  if (v instanceof PyFloat) {
    out.text(Number.isFinite(v.value) ? v.repr() : 'null');
    return true;
  }
  if (v instanceof LongText) {
    out.long(v.pieces());
    return true;
  }
  const inner = pad + step;
  const [open, close, sep] = step ? ['\n' + inner, '\n' + pad, ',\n' + inner] : ['', '', ','];
  if (Array.isArray(v)) {
    if (v.length === 0) {
      out.text('[]');
      return true;
    }
    out.text('[' + open);
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out.text(sep);
      if (!walk(v[i], inner, step, out)) out.text('null');
    }
    out.text(close + ']');
    return true;
  }
  let first = true;
  for (const k of Object.keys(v as object)) {
    // A stream output's text is read from its LongText, never joined into one string.
    const item = longTextOf(v as object, k) ?? resolved((v as Record<string, unknown>)[k]);
    if (writesNothing(item)) continue;
    out.text(`${first ? '{' + open : sep}${JSON.stringify(k)}:${step ? ' ' : ''}`);
    first = false;
    walk(item, inner, step, out);
  }
  out.text(first ? '{}' : close + '}');
  return true;
}

/**
 * Write a notebook atomically: a temp file in the same folder, fsync, rename over the
 * target. Readers never see a half-written notebook; an existing file's mode is kept.
 * `sync: false` skips the fsync (still atomic for readers, not durable across an OS
 * crash): for saves that a later synced save supersedes, like a run's progress saves.
 */
export async function writeNotebookFile(path: string, nb: Notebook, opts: { sync?: boolean } = {}): Promise<void> {
  // Written chunk by chunk: a notebook with 100 MB of output is never one string (nor one Buffer) in memory.
  await writeFileAtomic(path, notebookChunks(nb), opts);
}

/** Atomic text-file write used by writeNotebookFile (exported for other notebook-shaped files); `text` may come in chunks. */
export async function writeFileAtomic(path: string, text: string | Iterable<string>, opts: { sync?: boolean } = {}): Promise<void> {
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
      if (typeof text === 'string') await fh.writeFile(text, 'utf8');
      else if (Array.isArray(text) && text.length === 1) await fh.writeFile(text[0] as string, 'utf8');
      else await writeChunks(fh, text);
      // `open` applied the umask; chmod restores the exact mode of the file being replaced (when the umask changed it).
      if (mode !== undefined && ((mode & 0o7000) !== 0 || (mode & ~process.umask()) !== mode)) await fh.chmod(mode);
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

/**
 * Writes the pieces through one reused buffer, so no string or Buffer of the whole text is
 * made (a UTF-16 unit is at most 3 UTF-8 bytes: a piece fits when 3× its length does).
 */
async function writeChunks(fh: FileHandle, chunks: Iterable<string>): Promise<void> {
  let buf = Buffer.allocUnsafe(4 * CHUNK_CHARS);
  let used = 0;
  const flush = async () => {
    for (let off = 0; off < used; ) off += (await fh.write(buf, off, used - off)).bytesWritten;
    used = 0;
  };
  for (const chunk of chunks) {
    if (used + chunk.length * 3 > buf.length) await flush();
    if (chunk.length * 3 > buf.length) buf = Buffer.allocUnsafe(chunk.length * 3);
    used += buf.write(chunk, used, 'utf8');
  }
  await flush();
}

/** Split text into nbformat's multiline form: each line keeps its `\n`; no empty trailing entry. */
export function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}
