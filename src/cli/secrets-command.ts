/**
 * `hubmill secrets rotate-key --new-key-file <path>`: re-seals every stored
 * secret under a new key, in one transaction of the configured store (the
 * `serve` settings: HUBMILL_DATABASE_URL or the data dir). The current key is
 * the configured one (HUBMILL_SECRET_KEY or HUBMILL_SECRET_KEY_FILE); the new
 * one is read from a file (`-` = standard input), never from the command line,
 * where other users of the machine could see it. Run it while hubmill is
 * stopped, then start every node with the new key.
 */
import { readFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { pino } from 'pino';
import type { Config } from '../config.js';
import { UsageError } from '../errors.js';
import { decodeSecretKey, keyId } from '../secrets/key.js';
import { SecretVault } from '../runner/secret-vault.js';
import { openStores } from '../store/open.js';

export interface RotateKeyOptions {
  /** A file whose first line is the new key; '-' reads standard input. */
  newKeyFile: string;
  readStdin?: () => Promise<string>;
}

/** Re-seals every value; returns how many and the new key's id. */
export async function rotateKey(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'secretKey'>, o: RotateKeyOptions): Promise<{ count: number; keyId: string }> {
  if (config.secretKey === null) throw new UsageError('the current key is needed to open the stored values: set HUBMILL_SECRET_KEY (or HUBMILL_SECRET_KEY_FILE) to it');
  const text = o.newKeyFile === '-' ? await (o.readStdin ?? readStdin)() : await readFile(o.newKeyFile, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read --new-key-file ${o.newKeyFile}: ${e.code ?? e.message}`);
  });
  const next = decodeSecretKey(text.split('\n', 1)[0] ?? '');
  if (typeof next === 'string') throw new UsageError(`invalid new key in ${o.newKeyFile === '-' ? 'standard input' : o.newKeyFile}: ${next}`);
  if (next.equals(Buffer.from(config.secretKey, 'base64'))) throw new UsageError('the new key is the current key');
  const stores = await openStores(config, pino({ level: 'silent' }));
  try {
    const vault = SecretVault.fromConfig(stores.secrets, config.secretKey);
    const count = await vault.rotate(next, { name: `cli:${safeUser()}`, origin: hostname() });
    return { count, keyId: keyId(next) };
  } finally {
    await stores.close();
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
