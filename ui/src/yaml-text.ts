/**
 * A pipeline as YAML text, both ways, with the numbers kept as written: `2.0`
 * stays a float and `12345678901234567890` keeps its digits (RawJson values, as
 * the run form sends them), so what the editor saves is what was typed. And a
 * problem's JSON path (`tasks[2].depends_on[0]`, as the 422 names it) mapped to
 * the line of the YAML text it is about.
 */
import { Document, isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar, visit } from 'yaml';
import { floatLiteral, jsonText, RawJson } from './json-text.js';

export interface Parsed {
  /** The value with lossless numbers (RawJson), or undefined when the text does not parse. */
  value: unknown;
  /** Syntax errors, each at its line (1-based). */
  errors: { line: number; message: string }[];
  /** The line of a JSON path into the value (the nearest part of it that exists). */
  lineOf(path: string): number;
}

export function parsePipelineText(text: string): Parsed {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, intAsBigInt: true, prettyErrors: true, uniqueKeys: true });
  const errors = doc.errors.map((e) => ({ line: e.linePos?.[0]?.line ?? 1, message: e.message.split('\n')[0]! }));
  const toValue = (node: unknown, depth: number): unknown => {
    if (depth > 100) return null;
    if (isAlias(node)) return toValue(node.resolve(doc), depth + 1);
    if (isMap(node)) {
      const o: Record<string, unknown> = {};
      for (const pair of node.items) o[isScalar(pair.key) ? String(pair.key.value) : String(pair.key)] = toValue(pair.value, depth + 1);
      return o;
    }
    if (isSeq(node)) return node.items.map((n) => toValue(n, depth + 1));
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : new RawJson(v.toString());
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) return v;
        return Number.isInteger(v) && /[.eE]/.test(node.source ?? '') ? new RawJson(floatLiteral(v)) : v;
      }
      return v;
    }
    return null;
  };
  const lineOf = (path: string) => {
    let node: unknown = doc.contents;
    let offset = 0;
    for (const seg of parsePath(path)) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        offset = (pair.key as Scalar).range?.[0] ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
        node = node.items[seg];
        offset = (node as Scalar).range?.[0] ?? offset;
      } else break;
    }
    return lc.linePos(offset).line;
  };
  return { value: errors.length ? undefined : toValue(doc.contents, 0), errors, lineOf };
}

/** `tasks[2].depends_on[0]` → ['tasks', 2, 'depends_on', 0]. */
export function parsePath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/\[(\d+)\]|([^.[\]]+)/g)) out.push(m[1] !== undefined ? Number(m[1]) : m[2]!);
  return out;
}

/** The part of a value a path names, as JSON text ('' when it is not there): to tell whether it was edited. */
export function textAt(value: unknown, path: string): string {
  let v = value;
  for (const seg of parsePath(path)) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, seg)) return '';
    v = (v as Record<string | number, unknown>)[seg];
  }
  return jsonText(v);
}

/** YAML text of a pipeline's fields (RawJson numbers written as they were; short lists of scalars on one line). */
export function toYamlText(value: unknown): string {
  const nodes = (v: unknown): unknown => {
    if (v instanceof RawJson) {
      if (/^-?\d+$/.test(v.text)) return new Scalar(BigInt(v.text));
      const s = new Scalar(Number(v.text));
      const frac = /\.(\d+)$/.exec(v.text);
      if (frac) s.minFractionDigits = frac[1]!.length;
      return s;
    }
    if (Array.isArray(v)) return v.map(nodes);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, nodes(x)]));
    return v;
  };
  const doc = new Document(nodes(value), { aliasDuplicateObjects: false });
  visit(doc, {
    Seq(_, seq) {
      if (seq.items.length <= 12 && seq.items.every((i) => isScalar(i) && String(i.value).length < 40)) seq.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** The tasks of a parsed pipeline, as far as they can be read (for the live graph). */
export function tasksOf(value: unknown): { key: string; deps: string[]; notebook: string; index: number }[] {
  const tasks = value && typeof value === 'object' ? (value as { tasks?: unknown }).tasks : undefined;
  if (!Array.isArray(tasks)) return [];
  return tasks.flatMap((t, index) => {
    if (!t || typeof t !== 'object') return [];
    const o = t as { key?: unknown; depends_on?: unknown; notebook?: unknown };
    if (typeof o.key !== 'string' || !o.key) return [];
    const deps = Array.isArray(o.depends_on) ? o.depends_on.filter((d): d is string => typeof d === 'string') : [];
    return [{ key: o.key, deps, notebook: typeof o.notebook === 'string' ? o.notebook : '', index }];
  });
}
