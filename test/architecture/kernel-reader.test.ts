/**
 * The kernel is read from a notebook in one place (src/notebook/kernel.ts):
 * no other module of src/ reads `metadata.kernelspec` / `language_info`, and
 * only the modules that resolve a kernel once for what follows call the reader
 * (the intake for jobs, `hubmill run` for the CLI, inspection for itself). The
 * engine, injection and the parameter checks take the resolved kernel as an
 * argument. The last test proves the check can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** The one module that reads the notebook's kernel metadata. */
const READER = 'notebook/kernel.ts';
/**
 * The modules that may call the reader: each resolves the kernel once for everything after it.
 * cli/kernel-first.ts guesses `hubmill run`'s kernel to spawn it early; cli/run.ts resolves it
 * and uses that kernel only when the two agree.
 */
const RESOLVERS = new Set(['runner/intake.ts', 'cli/run.ts', 'notebook/inspect.ts', 'cli/kernel-first.ts']);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The code without comments and quoted strings (messages may name `metadata.kernelspec.name`). */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:])\/\/.*$/gm, '$1')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g, "''");
}

// `….kernelspec?.name`, `kernelspec.language`, `language_info?.name`; not a kernel's own
// kernel_info reply (`info?.language_info`), which is the running kernel, not the notebook.
const METADATA_READ = /(?<!info\??\.)\b(?:kernelspec|language_info)\s*\??\.\s*(?:name|language)\b/;
const READER_CALL = /\bnotebookKernel\s*\(/;

/** Which modules read the kernel from notebook metadata, and which call the reader outside the allowed resolvers. */
export function kernelReadViolations(files: ReadonlyMap<string, string>): { metadataReaders: string[]; strayCallers: string[] } {
  const metadataReaders: string[] = [];
  const strayCallers: string[] = [];
  for (const [file, text] of files) {
    const c = code(text);
    if (METADATA_READ.test(c)) metadataReaders.push(file);
    if (file !== READER && READER_CALL.test(c) && !/function notebookKernel\b/.test(c) && !RESOLVERS.has(file)) strayCallers.push(file);
  }
  return { metadataReaders: metadataReaders.sort(), strayCallers: strayCallers.sort() };
}

function srcFiles(): Map<string, string> {
  return new Map(tsFiles(src).map((f) => [relative(src, f).split(sep).join('/'), readFileSync(f, 'utf8')]));
}

test("only notebook/kernel.ts reads a notebook's kernel; only the resolvers call it", () => {
  const files = srcFiles();
  assert.ok(files.has(READER), `${READER} exists`);
  const v = kernelReadViolations(files);
  assert.deepEqual(v.metadataReaders, [READER], 'modules reading metadata.kernelspec / language_info besides the reader');
  assert.deepEqual(v.strayCallers, [], 'modules reading the kernel again instead of taking the resolved one');
});

test('the check fails for a second reader and for the engine reading the kernel again', () => {
  const files = srcFiles();
  files.set('engine/peek.ts', 'export const k = (nb: any) => nb.metadata.kernelspec?.name ?? nb.metadata.language_info?.name;');
  files.set('notebook/inject.ts', `${files.get('notebook/inject.ts')}\nconst again = notebookKernel(nb);\n`);
  const v = kernelReadViolations(files);
  assert.deepEqual(v.metadataReaders, ['engine/peek.ts', READER]);
  assert.deepEqual(v.strayCallers, ['notebook/inject.ts']);
  // A message naming the field, and the kernel's own kernel_info reply, are not reads of the notebook.
  const fine = new Map([[READER, files.get(READER)!], ['x.ts', "throw new Error('no metadata.kernelspec.name'); const l = this.info?.language_info?.name;"]]);
  assert.deepEqual(kernelReadViolations(fine), { metadataReaders: [READER], strayCallers: [] });
});
