/**
 * Read and validate nbformat v4 notebooks, upgrading 4.0–4.4 to 4.5 (cell ids).
 * Only what hubmill depends on is checked; everything else (unknown metadata,
 * attachments, raw cells, extra fields) is kept untouched, as nbformat does,
 * numbers included: `1.0` stays a float, big integers keep every digit (exact-json.ts).
 */
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { NotebookFormatError } from '../errors.js';
import { parseJsonExact } from './exact-json.js';
import type { Cell, MultilineString, Notebook } from './notebook-types.js';

const CELL_TYPES = new Set(['code', 'markdown', 'raw']);
const CELL_ID = /^[a-zA-Z0-9-_]{1,64}$/;

/** Read a notebook file; every failure names the file. */
export async function readNotebookFile(path: string): Promise<Notebook> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NotebookFormatError(`${path}: cannot read notebook (${code ?? (err as Error).message})`, { cause: err });
  }
  return parseNotebook(text, path);
}

/** Parse notebook JSON text; `source` names the input in error messages (a path, `<stdin>`, an upload name). */
export function parseNotebook(text: string, source: string): Notebook {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let data: unknown;
  try {
    data = parseJsonExact(text);
  } catch (err) {
    throw new NotebookFormatError(`${source}: not valid JSON (${describeJsonError(err as Error, text)})`, { cause: err });
  }
  if (!isObject(data)) throw new NotebookFormatError(`${source}: not a notebook (the JSON top level is not an object)`);
  const major = data.nbformat;
  if (major === 3 || (major === undefined && Array.isArray(data.worksheets))) {
    throw new NotebookFormatError(
      `${source}: nbformat 3 notebooks are not supported; convert with \`jupyter nbconvert --to notebook --nbformat 4\``,
    );
  }
  if (major === undefined) throw new NotebookFormatError(`${source}: not a notebook (no "nbformat" field)`);
  if (typeof major !== 'number' || !Number.isInteger(major)) {
    throw new NotebookFormatError(`${source}: "nbformat" must be an integer, got ${JSON.stringify(major)}`);
  }
  if (major > 4) throw new NotebookFormatError(`${source}: nbformat ${major} is newer than the supported nbformat 4`);
  if (major < 3) throw new NotebookFormatError(`${source}: nbformat ${major} notebooks are not supported`);
  if (!Array.isArray(data.cells)) throw new NotebookFormatError(`${source}: not a notebook (no "cells" list)`);
  if (data.metadata === undefined) data.metadata = {};
  if (!isObject(data.metadata)) throw new NotebookFormatError(`${source}: notebook "metadata" must be an object`);
  const minor = typeof data.nbformat_minor === 'number' ? data.nbformat_minor : 0;

  data.cells.forEach((cell: unknown, index: number) => checkCell(cell, index, source));
  const cells = data.cells as Record<string, unknown>[];
  if (minor < 5) {
    // nbformat's v4.5 upgrade: every cell gets a fresh random id.
    const used = new Set<string>();
    for (const cell of cells) cell.id = newCellId(used);
    data.nbformat_minor = 5;
  } else {
    // 4.5+ requires ids; repair missing or duplicate ones like nbformat's validator does.
    const used = new Set<string>();
    for (const cell of cells) {
      if (typeof cell.id !== 'string' || !CELL_ID.test(cell.id) || used.has(cell.id)) cell.id = newCellId(used);
      used.add(cell.id as string);
    }
  }
  return data as unknown as Notebook;
}

function checkCell(cell: unknown, index: number, source: string): void {
  const where = `${source}: cell ${index}`;
  if (!isObject(cell)) throw new NotebookFormatError(`${where} is not an object`);
  const type = cell.cell_type;
  if (typeof type !== 'string' || !CELL_TYPES.has(type)) {
    throw new NotebookFormatError(`${where} has unknown cell_type ${JSON.stringify(type)} (expected code, markdown or raw)`);
  }
  if (cell.source === undefined) throw new NotebookFormatError(`${where} (${type}) has no "source"`);
  const src = cell.source;
  if (typeof src !== 'string' && !(Array.isArray(src) && src.every((s) => typeof s === 'string'))) {
    throw new NotebookFormatError(`${where} (${type}) "source" must be a string or a list of strings`);
  }
  if (cell.metadata === undefined) cell.metadata = {};
  if (!isObject(cell.metadata)) throw new NotebookFormatError(`${where} (${type}) "metadata" must be an object`);
  if (type === 'code') {
    if (cell.outputs === undefined) cell.outputs = [];
    if (!Array.isArray(cell.outputs)) throw new NotebookFormatError(`${where} (code) "outputs" must be a list`);
    if (cell.execution_count === undefined) cell.execution_count = null;
  }
}

/** A cell's source as one string, whether stored as a string or as nbformat's list of lines. */
export function sourceText(cell: Pick<Cell, 'source'> | { source: MultilineString }): string {
  const src = cell.source;
  return Array.isArray(src) ? src.join('') : src;
}

/** A random nbformat cell id (8 lowercase hex chars, like nbformat's), unique within `used`, which it joins. */
export function newCellId(used?: Set<string>): string {
  for (;;) {
    const id = randomBytes(4).toString('hex');
    if (!used?.has(id)) {
      used?.add(id);
      return id;
    }
  }
}

function describeJsonError(err: Error, text: string): string {
  const msg = err.message;
  let pos: number | undefined;
  const m = /at position (\d+)/.exec(msg);
  if (m) pos = Number(m[1]);
  else if (/end of JSON input/i.test(msg)) pos = text.length;
  if (pos === undefined) return msg;
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  const reason = msg.replace(/\s*in JSON at position \d+.*$/s, '').replace(/\s*\(line \d+ column \d+\)$/, '');
  return `${reason} at line ${line} column ${column}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
