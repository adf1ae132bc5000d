/** Builders for test notebooks and temp dirs. */
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

type Json = Record<string, unknown>;

export interface CellSpec {
  type?: 'code' | 'markdown' | 'raw';
  source: string;
  tags?: string[];
  metadata?: Json;
}

export function code(source: string, tags?: string[]): CellSpec {
  return { type: 'code', source, tags };
}
export function md(source: string): CellSpec {
  return { type: 'markdown', source };
}

/** A notebook for `kernel` (python3, ir, or any other name, taken as a Python kernel). */
export function makeNotebook(cells: CellSpec[], kernel = 'python3'): Json {
  const ks =
    kernel === 'ir'
      ? { name: 'ir', display_name: 'R', language: 'R' }
      : { name: kernel, display_name: kernel === 'python3' ? 'Python 3' : kernel, language: 'python' };
  return {
    cells: cells.map((c) => {
      const type = c.type ?? 'code';
      const metadata: Json = { ...(c.metadata ?? {}) };
      if (c.tags) metadata.tags = c.tags;
      const base: Json = { cell_type: type, id: randomBytes(4).toString('hex'), metadata, source: c.source };
      if (type === 'code') Object.assign(base, { execution_count: null, outputs: [] });
      return base;
    }),
    metadata: { kernelspec: ks, language_info: { name: ks.language === 'R' ? 'R' : 'python' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

/** makeNotebook as the JSON text of an .ipynb file. */
export function notebookJson(cells: CellSpec[], kernel = 'python3'): string {
  return JSON.stringify(makeNotebook(cells, kernel));
}

export async function tempDir(prefix = 'hubmill-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function writeNotebook(dir: string, name: string, nb: Json): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, JSON.stringify(nb, null, 1));
  return p;
}

/** Whether a process with this pid exists (and is not a zombie). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return cond();
}
