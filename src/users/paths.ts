/**
 * Confinement of caller-supplied paths to a user's home.
 *
 * Refused with UnsafePathError (400), before any filesystem access:
 * - non-strings, empty-after-trim is allowed and means the home itself;
 * - NUL and every other control character;
 * - backslashes (a Windows-style `..\..\` must not mean something different to
 *   another tool reading the same string);
 * - literal `%2e`, `%2f`, `%5c`, `%00` (any case): the HTTP layer already decoded
 *   the path once, so these are double-encoding attempts, never legitimate names;
 * - a leading `~` (`~root/x`): no shell expansion happens, refusing avoids a
 *   path that means something else to a human;
 * - absolute paths (unless `allowAbsolute`, used by the seed's `/run-notebook`,
 *   and then only when lexically inside the home);
 * - `..` segments that climb above the home (`a/../b` is fine, `a/../../b` is not);
 * - segments over 255 bytes or paths over 4096 bytes.
 * Then each existing component is inspected with lstat: a symlink is followed
 * only if its real target stays inside realpath(home); a dangling symlink is
 * refused (writing through it would create a file wherever it points). The
 * result is the real absolute path (symlinks resolved), plus the components that
 * do not exist yet, so an output file can be checked before it is created.
 *
 * Residual risk, by design of POSIX: the user can swap a folder for a symlink
 * between this check and the use of the path. Writers that run as root should
 * create final files with O_EXCL / O_NOFOLLOW (see seed-output-name.ts) or run as the user.
 */
import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { NotFoundError, UnsafePathError } from '../errors.js';

export interface ResolveInsideOptions {
  /** NotFoundError (404) when the target does not exist. */
  mustExist?: boolean;
  /** Accept an absolute path when it names something inside the home (the seed's `/run-notebook` sends absolute paths). */
  allowAbsolute?: boolean;
}

const MAX_PATH_BYTES = 4096;
const MAX_SEGMENT_BYTES = 255;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const ENCODED_TRICKS = /%(2e|2f|5c|00)/i;

/** True when `p` is `root` or below it (both absolute and normalized). */
export function isInside(root: string, p: string): boolean {
  if (p === root) return true;
  const prefix = root.endsWith(sep) ? root : root + sep;
  return p.startsWith(prefix);
}

function unsafe(userPath: string, why: string): UnsafePathError {
  const shown = JSON.stringify(userPath.length > 120 ? userPath.slice(0, 120) + '…' : userPath);
  return new UnsafePathError(`unsafe path ${shown}: ${why}`);
}

/**
 * The lexical checks alone: returns the path's segments relative to the home
 * (no `.`/`..`/empty segments left), or throws UnsafePathError.
 */
export function splitUserPath(home: string, userPath: unknown, opts: { allowAbsolute?: boolean } = {}): string[] {
  if (typeof userPath !== 'string') throw new UnsafePathError('path must be a string');
  if (userPath.includes('\0')) throw unsafe(userPath.replaceAll('\0', '\\0'), 'NUL byte');
  if (CONTROL_CHARS.test(userPath)) throw unsafe(userPath, 'control character');
  if (Buffer.byteLength(userPath) > MAX_PATH_BYTES) throw unsafe(userPath, 'path too long');
  if (userPath.includes('\\')) throw unsafe(userPath, 'backslash');
  if (ENCODED_TRICKS.test(userPath)) throw unsafe(userPath, 'percent-encoded dot, slash or NUL');
  if (userPath.startsWith('~')) throw unsafe(userPath, 'leading ~ (paths are relative to your home; no ~ expansion)');
  let rel = userPath;
  if (isAbsolute(userPath)) {
    if (!opts.allowAbsolute) throw unsafe(userPath, 'absolute paths are not allowed; give a path relative to your home');
    const abs = normalize(userPath);
    if (!isInside(home, abs)) throw unsafe(userPath, 'outside your home');
    rel = relative(home, abs);
  }
  const out: string[] = [];
  for (const seg of rel.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) throw unsafe(userPath, '.. climbs out of your home');
      out.pop();
      continue;
    }
    if (Buffer.byteLength(seg) > MAX_SEGMENT_BYTES) throw unsafe(userPath, 'a path segment is too long');
    out.push(seg);
  }
  return out;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

/**
 * Resolves `userPath` (relative to `home`) to a real absolute path inside
 * realpath(home), or throws UnsafePathError (400) / NotFoundError (404).
 */
export async function resolveInside(home: string, userPath: unknown, opts: ResolveInsideOptions = {}): Promise<string> {
  const segments = splitUserPath(normalize(home), userPath, opts);
  let realHome: string;
  try {
    realHome = await realpath(home);
  } catch {
    throw new NotFoundError('home folder not found');
  }
  let cur = realHome;
  let i = 0;
  for (; i < segments.length; i++) {
    const next = join(cur, segments[i]!);
    let st;
    try {
      st = await lstat(next);
    } catch (e) {
      const code = errno(e);
      if (code === 'ENOENT') break;
      if (code === 'ENOTDIR') throw new NotFoundError(`not found: ${String(userPath)}`);
      if (code === 'ENAMETOOLONG') throw unsafe(String(userPath), 'path too long');
      throw new NotFoundError(`not accessible: ${String(userPath)}`);
    }
    if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = await realpath(next);
      } catch {
        throw unsafe(String(userPath), 'a symlink on the path points nowhere');
      }
      if (!isInside(realHome, target)) throw unsafe(String(userPath), 'a symlink on the path leads outside your home');
      cur = target;
    } else {
      cur = next;
    }
    if (i < segments.length - 1) {
      const dirSt = await lstat(cur).catch(() => null);
      if (!dirSt?.isDirectory()) throw new NotFoundError(`not found: ${String(userPath)}`);
    }
  }
  const missing = segments.slice(i);
  if (missing.length > 0 && opts.mustExist) throw new NotFoundError(`not found: ${String(userPath)}`);
  const result = missing.length > 0 ? join(cur, ...missing) : cur;
  if (!isInside(realHome, result)) throw unsafe(String(userPath), 'outside your home');
  return result;
}

/** `abs` (a result of resolveInside) relative to realpath(home), with `/` separators; '' for the home itself. */
export async function relativeToHome(home: string, abs: string): Promise<string> {
  const realHome = await realpath(home).catch(() => normalize(home));
  const rel = relative(realHome, abs);
  if (rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) throw new UnsafePathError('path is outside the home');
  return rel.split(sep).join('/');
}
