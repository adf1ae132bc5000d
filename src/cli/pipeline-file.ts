/**
 * A pipeline file of `hubmill pipeline validate|run`: the body of
 * `POST /api/v1/pipelines` written as YAML or JSON (JSON is read as the YAML
 * 1.2 it is, so both give lines).
 *
 * Numbers are typed the way the API types its body: where values are passed to
 * notebooks (the pipeline's and the tasks' `parameters`, `for_each.items` and
 * `for_each.grid`) a number written with a fraction or an exponent stays a
 * float (`1.0`), an integer keeps every digit; everywhere else (timeouts,
 * concurrency, retries) numbers are plain. Keys are taken as written, so a
 * key `on` is the string "on".
 *
 * The line of every key and list item is kept by its JSON path
 * (`tasks[1].depends_on[0]`), the paths the save-time check names its
 * problems by, so each problem can be shown with its line.
 */
import { readFile } from 'node:fs/promises';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { UsageError } from '../errors.js';
import { exactInt } from '../notebook/parameters-json.js';
import { PyFloat } from '../notebook/py-float.js';
import type { PipelineProblem, PipelineSpec } from '../pipelines/types.js';

/** Where values keep their JSON types (as the API's lossless body fields: http/pipeline-schemas.ts). */
const TYPED: readonly (readonly (string | '*')[])[] = [['parameters'], ['tasks', '*', 'parameters'], ['tasks', '*', 'for_each', 'items'], ['tasks', '*', 'for_each', 'grid']];

export interface PipelineFile {
  path: string;
  spec: PipelineSpec;
  /** Problems of the file itself, found while reading it (an unquoted reference): reported with the checker's. */
  problems: PipelineProblem[];
  /** The 1-based line of a JSON path, or of its nearest enclosing part that is in the file; null when none is. */
  lineOf(path: string): number | null;
}

type Seg = string | number;

/** `tasks[1].depends_on[0]` from its segments. */
export function pathText(segs: readonly Seg[]): string {
  let out = '';
  for (const s of segs) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out;
}

/** The path without its last segment (`a.b[2]` → `a.b`, `a.b` → `a`, `a` → ''). */
function parentPath(path: string): string {
  const m = /(?:\[\d+\]|\.[^.[\]]*)$/.exec(path);
  return m ? path.slice(0, m.index) : '';
}

function isTyped(segs: readonly Seg[]): boolean {
  return TYPED.some((pattern) => pattern.length <= segs.length && pattern.every((p, i) => (p === '*' ? typeof segs[i] === 'number' : p === segs[i])));
}

function defineOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

class Reader {
  readonly lines = new Map<string, number>();
  readonly problems: PipelineProblem[] = [];

  constructor(
    private readonly doc: Document,
    private readonly text: string,
    private readonly counter: LineCounter,
  ) {}

  private lineAt(node: { range?: [number, number, number] | null } | null | undefined): number | null {
    const start = node?.range?.[0];
    return start === undefined ? null : this.counter.linePos(start).line;
  }

  private note(segs: readonly Seg[], node: { range?: [number, number, number] | null } | null | undefined): void {
    const line = this.lineAt(node);
    const key = pathText(segs);
    if (line !== null && !this.lines.has(key)) this.lines.set(key, line);
  }

  value(node: unknown, segs: Seg[], depth = 0): unknown {
    if (depth > 200) throw new UsageError('the pipeline file nests too deeply');
    if (isAlias(node)) return this.value(node.resolve(this.doc), segs, depth + 1);
    if (isMap(node)) {
      if (node.items.some((pair) => !isScalar(pair.key))) {
        const written = node.range ? this.text.slice(node.range[0], node.range[1]).trim() : '';
        // `x: {{parameters.y}}` is a mapping whose key is a mapping: the reference had to be quoted.
        const reference = /^\{\{[^{}]*\}\}$/.test(written);
        const message = reference ? `a reference must be quoted in YAML: write "${written}"` : 'a key must be a plain name, not a list or a mapping';
        this.problems.push({ task: null, path: pathText(segs), message });
        this.note(segs, node);
        // The reference as it was meant, so the check says what else is wrong with it.
        return reference ? written : null;
      }
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const key = pair.key as Node;
        if (!isScalar(key)) continue;
        const name = String(key.value);
        const at = [...segs, name];
        this.note(at, key);
        defineOwn(out, name, this.value(pair.value, at, depth + 1));
      }
      return out;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        const at = [...segs, i];
        this.note(at, item as Node);
        return this.value(item, at, depth + 1);
      });
    }
    if (isScalar(node)) return this.scalar(node.value, segs);
    return null;
  }

  private scalar(v: unknown, segs: readonly Seg[]): unknown {
    // intAsBigInt: every integer comes as a bigint, so a number is always a float as written.
    if (typeof v === 'bigint') return isTyped(segs) ? exactInt(v) : Number(v);
    if (typeof v === 'number') return isTyped(segs) ? new PyFloat(v) : v;
    if (v === undefined) return null;
    return v;
  }
}

/** Parses a pipeline file's text; UsageError (exit 2) for text that is not YAML or JSON, or not a mapping. */
export function parsePipelineText(text: string, path: string): PipelineFile {
  const counter = new LineCounter();
  const doc = parseDocument(text, { version: '1.2', schema: 'core', intAsBigInt: true, uniqueKeys: true, prettyErrors: false, lineCounter: counter });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? counter.linePos(e.pos[0]).line;
    throw new UsageError(`${path}:${line}: not valid YAML or JSON: ${e.message.split('\n')[0]}`);
  }
  const reader = new Reader(doc, text, counter);
  const data = reader.value(doc.contents, []);
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new UsageError(`${path}: a pipeline file is a mapping with 'name' and 'tasks' (the body of POST /api/v1/pipelines)`);
  }
  // The owner of a local run is the user running the command.
  const { username: _owner, ...spec } = data as Record<string, unknown>;
  const lines = reader.lines;
  const tasks = Array.isArray(spec.tasks) ? (spec.tasks as { key?: unknown }[]) : [];
  // A problem inside a task names it, as the check's do.
  const problems = reader.problems.map((p) => {
    const i = /^tasks\[(\d+)\]/.exec(p.path)?.[1];
    const key = i === undefined ? undefined : tasks[Number(i)]?.key;
    return typeof key === 'string' ? { ...p, task: key } : p;
  });
  return {
    path,
    spec: spec as unknown as PipelineSpec,
    problems,
    lineOf(p: string): number | null {
      for (let at = p; at !== ''; at = parentPath(at)) {
        const line = lines.get(at);
        if (line !== undefined) return line;
      }
      return null;
    },
  };
}

/** Reads and parses a pipeline file; UsageError (exit 2) when it cannot be read. */
export async function readPipelineFile(path: string): Promise<PipelineFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new UsageError(`${path}: cannot read the pipeline file (${code})`, { cause: err });
  }
  return parsePipelineText(text, path);
}

/** One problem as the commands print it: `FILE:LINE: task KEY: PATH: message`. */
export function formatProblem(file: PipelineFile, p: PipelineProblem): string {
  const line = p.path ? file.lineOf(p.path) : null;
  const where = line === null ? file.path : `${file.path}:${line}`;
  const task = p.task !== null ? ` task ${p.task}:` : '';
  const path = p.path ? ` ${p.path}:` : '';
  return `${where}:${task}${path} ${p.message}`;
}
