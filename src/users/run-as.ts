/**
 * Running a kernel as the notebook's owner. Only when hubmill itself runs as
 * root and a system account with the (validated) username exists does a job get
 * a RunAs; otherwise the kernel runs as the service's own user.
 */
import { execFile } from 'node:child_process';
import { chown, readFile } from 'node:fs/promises';
import type { RunAs } from '../engine/run-types.js';
import { isValidUsername } from './home-path.js';

export type { RunAs };

export interface LookupRunAsOptions {
  /** Defaults to `process.getuid() === 0`. */
  isRoot?: boolean;
  /** Defaults to /etc/passwd. */
  passwdPath?: string;
  /** Ask NSS (`getent passwd NAME`, so LDAP/SSSD accounts are found) when the passwd file has no entry. Default true. */
  useGetent?: boolean;
}

/** The entry for `username` in passwd(5) text, or null. */
export function parsePasswd(text: string, username: string): RunAs | null {
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 7 || f[0] !== username) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid < 0 || gid < 0) return null;
    return { uid, gid, home: f[5]!, username };
  }
  return null;
}

function getent(username: string): Promise<string> {
  return new Promise((resolve) => {
    execFile('getent', ['passwd', username], { timeout: 5000 }, (err, stdout) => resolve(err ? '' : stdout));
  });
}

/** The identity a job of `username` runs as, or null (not root, invalid name, or no such system user). */
export async function lookupRunAs(username: string, opts: LookupRunAsOptions = {}): Promise<RunAs | null> {
  const isRoot = opts.isRoot ?? (typeof process.getuid === 'function' && process.getuid() === 0);
  if (!isRoot || !isValidUsername(username)) return null;
  const text = await readFile(opts.passwdPath ?? '/etc/passwd', 'utf8').catch(() => '');
  const fromFile = parsePasswd(text, username);
  if (fromFile) return fromFile;
  if (opts.useGetent === false) return null;
  return parsePasswd(await getent(username), username);
}

/** Gives a file hubmill wrote (an output notebook, a folder it created) to the user; no-op without RunAs. */
export async function chownToUser(path: string, runAs: RunAs | null | undefined): Promise<void> {
  if (!runAs) return;
  await chown(path, runAs.uid, runAs.gid);
}
