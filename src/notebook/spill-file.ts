/**
 * Where a very long stream text (notebook/long-text.ts) keeps its blocks past
 * its first SPILL_AFTER_CHARS characters: an anonymous temporary file (created
 * in the folder given, by default the system's TMPDIR, and unlinked at once),
 * so a cell printing 100 MB costs the service disk, not memory. Blocks are
 * written as latin1 when every character fits a byte, else as UTF-16, so they
 * read back exactly (lone surrogates included). The file is closed once its
 * LongText is garbage (a FinalizationRegistry).
 */
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A LongText spills the blocks it seals after this many characters. */
export const SPILL_AFTER_CHARS = 16 * 1024 * 1024;

export interface SpilledBlock {
  readonly pos: number;
  readonly bytes: number;
  readonly latin1: boolean;
}

const closer = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // Already closed.
  }
});

const NOT_LATIN1 = /[^\x00-\xff]/;

export class SpillFile {
  private fd: number | null = null;
  private size = 0;

  constructor(private readonly dir: string = tmpdir()) {}

  write(block: string): SpilledBlock {
    if (this.fd === null) {
      const path = join(this.dir, `.hubmill-spill-${randomBytes(8).toString('hex')}`);
      this.fd = openSync(path, 'wx+', 0o600);
      unlinkSync(path);
      closer.register(this, this.fd, this);
    }
    const latin1 = !NOT_LATIN1.test(block);
    const buf = Buffer.from(block, latin1 ? 'latin1' : 'utf16le');
    for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off, buf.length - off, this.size + off);
    const spilled = { pos: this.size, bytes: buf.length, latin1 };
    this.size += buf.length;
    return spilled;
  }

  read(b: SpilledBlock): string {
    if (this.fd === null) throw new Error('spill file closed');
    const buf = Buffer.allocUnsafe(b.bytes);
    for (let off = 0; off < b.bytes; ) {
      const n = readSync(this.fd, buf, off, b.bytes - off, b.pos + off);
      if (n === 0) throw new Error('spill file truncated');
      off += n;
    }
    return buf.toString(b.latin1 ? 'latin1' : 'utf16le');
  }
}
