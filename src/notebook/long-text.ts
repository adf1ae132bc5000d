/**
 * A text that grows piece by piece (a cell's stream output: stdout arrives as
 * thousands of kernel messages), kept compactly: the pieces are joined into
 * blocks of about BLOCK_CHARS, so appending is linear, one copy of the text is
 * held, and no single string of the whole text is built unless someone asks for
 * it; past SPILL_AFTER_CHARS its blocks may go to a SpillFile (on disk, read
 * back while the notebook is written). The notebook writer (notebook/write.ts) writes it block by block as one
 * JSON string.
 *
 * In an output object, `attachLongText` puts the text under a hidden symbol
 * and makes `text` a getter that joins it: readers of `output.text` still see a
 * plain string (built on demand), and the object keeps its keys and their order.
 */

import { SPILL_AFTER_CHARS, type SpillFile, type SpilledBlock } from './spill-file.js';

/** Blocks of about 64 Ki characters: small enough to escape and write at a time, large enough to be few. */
const BLOCK_CHARS = 64 * 1024;

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

export class LongText {
  /** Sealed blocks, in memory or spilled: none ends with a high surrogate, so escaping block by block equals escaping the whole. */
  private readonly blocks: Array<string | SpilledBlock> = [];
  private tail: string[] = [];
  private tailChars = 0;
  /** Length in UTF-16 code units, as String#length. */
  length = 0;

  /** `spill`: where blocks sealed past `spillAfter` characters go (notebook/spill-file.ts); none: all stay in memory. */
  constructor(
    first = '',
    private readonly spill: SpillFile | null = null,
    private readonly spillAfter = SPILL_AFTER_CHARS,
  ) {
    if (first) this.append(first);
  }

  append(s: string): void {
    if (!s) return;
    this.tail.push(s);
    this.tailChars += s.length;
    this.length += s.length;
    if (this.tailChars >= BLOCK_CHARS) this.seal();
  }

  private seal(): void {
    let block = this.tail.length === 1 ? this.tail[0]! : this.tail.join('');
    let carry = '';
    // A surrogate pair split between two blocks would be escaped as two lone surrogates: keep the pair together.
    if (isHighSurrogate(block.charCodeAt(block.length - 1))) {
      carry = block.slice(-1);
      block = block.slice(0, -1);
    }
    if (block) this.blocks.push(this.spill && this.length > this.spillAfter ? this.spill.write(block) : block);
    this.tail = carry ? [carry] : [];
    this.tailChars = carry.length;
  }

  /**
   * The text as blocks, for writing: a snapshot (later appends do not change it) that can be
   * iterated more than once; spilled blocks are read back one at a time as the iteration reaches them.
   */
  pieces(): Iterable<string> {
    if (this.tail.length > 1) {
      const joined = this.tail.join('');
      this.tail = [joined];
    }
    const blocks = this.tail.length > 0 ? [...this.blocks, this.tail[0]!] : [...this.blocks];
    const spill = this.spill;
    return {
      *[Symbol.iterator]() {
        for (const b of blocks) yield typeof b === 'string' ? b : spill!.read(b);
      },
    };
  }

  /** The text's length in UTF-8 bytes (counted over its pieces: no string of the whole; a pair split between two pieces counts 4). */
  utf8Bytes(): number {
    let n = 0;
    let highAtEnd = false;
    for (const p of this.pieces()) {
      if (!p) continue;
      n += Buffer.byteLength(p);
      // Counted apart, each half of a pair was 3 bytes (U+FFFD); together they are one 4-byte character.
      if (highAtEnd && isLowSurrogate(p.charCodeAt(0))) n -= 2;
      highAtEnd = isHighSurrogate(p.charCodeAt(p.length - 1));
    }
    return n;
  }

  toString(): string {
    return [...this.pieces()].join('');
  }

  toJSON(): string {
    return this.toString();
  }
}

/** A stream text (one string, nbformat's list of lines, or a LongText) as pieces, never joined into one string. */
export function textPieces(t: string | string[] | LongText | undefined): Iterable<string> {
  if (t === undefined) return [];
  if (t instanceof LongText) return t.pieces();
  return Array.isArray(t) ? t : [t];
}

/** Where an output object keeps its LongText (not enumerable: copies, deepEqual and JSON see only `text`). */
export const LONG_TEXT: unique symbol = Symbol('hubmill.longText');

/** Makes `obj[key]` read `text` (joined on each read) and keeps `text` under LONG_TEXT for the writer and appenders. */
export function attachLongText(obj: Record<string, unknown>, key: string, text: LongText): void {
  Object.defineProperty(obj, LONG_TEXT, { value: { key, text }, enumerable: false, configurable: true });
  Object.defineProperty(obj, key, {
    get: () => text.toString(),
    // A reader that assigns the text (e.g. a test, or code that trims it) gets a plain property again.
    set: (v: unknown) => {
      delete (obj as Record<symbol, unknown>)[LONG_TEXT];
      Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
    },
    enumerable: true,
    configurable: true,
  });
}

/** The LongText behind `obj[key]`, if attachLongText put one there. */
export function longTextOf(obj: object, key: string): LongText | undefined {
  const held = (obj as Record<symbol, { key: string; text: LongText } | undefined>)[LONG_TEXT];
  return held && held.key === key ? held.text : undefined;
}
