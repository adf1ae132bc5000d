/**
 * The secret values this process holds at the moment (those of the jobs it is
 * running), for the one place that cannot be redacted at the source: hubmill's
 * own log lines. logger.ts passes every serialized line through `redactLogLine`.
 */
import { Redactor, type NamedValue } from './redactor.js';

const active = new Map<string, readonly NamedValue[]>();
let current: Redactor | null = null;

/** While job `id` runs, its values are redacted from every log line of this process. */
export function holdValues(id: string, values: readonly NamedValue[]): () => void {
  if (values.length === 0) return () => undefined;
  active.set(id, values);
  current = null;
  return () => {
    active.delete(id);
    current = null;
  };
}

/** A serialized log line (JSON or pretty) with the values of running jobs replaced, also in their JSON-escaped forms. */
export function redactLogLine(line: string): string {
  if (active.size === 0) return line;
  current ??= new Redactor([...active.values()].flat());
  return current.text(line);
}
