/**
 * "Sweep…": a notebook's typed parameter form where each parameter takes a list
 * of values (comma-separated, or a JSON list), each value checked as the run
 * form checks it. The lists become the grid of a one-task pipeline; parameters
 * left at their default are left to the notebook.
 */
import { useState } from 'preact/hooks';
import { jsonText, RawJson } from './json-text.js';
import { formValue, readField, type Field } from './params';

export interface SweepSpec {
  /** Each parameter's list of values, or its error. */
  lists: Record<string, { values: unknown[] } | { error: string }>;
}

/** The values typed for one field: `a, b, c`, or a JSON list `[...]` (needed for lists and objects). */
export function readValues(f: Field, raw: string): { values: unknown[] } | { error: string } {
  const text = raw.trim();
  if (!text) return { error: 'Enter at least one value' };
  let parts: string[];
  if (f.kind === 'json' || text.startsWith('[')) {
    try {
      const list = JSON.parse(text) as unknown;
      if (!Array.isArray(list) || list.length === 0) return { error: 'Enter a JSON list of values, e.g. [1, 2]' };
      parts = list.map((v) => (f.kind === 'text' && typeof v === 'string' ? v : JSON.stringify(v)));
    } catch {
      return { error: 'Enter values separated by commas, or a JSON list' };
    }
  } else parts = text.split(',').map((s) => s.trim());
  const values: unknown[] = [];
  for (const p of parts) {
    if (f.kind === 'boolean' && !/^(true|false)$/i.test(p)) return { error: `${p || '(empty)'}: enter true or false` };
    const r = readField(f, f.kind === 'boolean' ? p.toLowerCase() : p);
    if ('error' in r) return { error: `${p || '(empty)'}: ${r.error}` };
    values.push(r.value);
  }
  return { values };
}

/** A field's list before anything is typed: its default alone. */
export const defaultRaw = (f: Field) => (f.kind === 'json' ? `[${f.initial}]` : f.initial);

/** The pipeline a sweep of `notebook` over `grid` is (one task, key `sweep`). */
export function sweepPipeline(notebook: string, grid: Record<string, unknown[]>): Record<string, unknown> {
  const name = notebook.replace(/^.*\//, '').replace(/\.ipynb$/, '');
  return { name: `sweep ${name}`, tasks: [{ key: 'sweep', notebook, for_each: { grid } }] };
}

/** The grid of the lists that differ from the notebook's default (the first field's default when none does). */
export function gridOf(fields: Field[], raws: Record<string, string>): Record<string, unknown[]> {
  const grid: Record<string, unknown[]> = {};
  for (const f of fields) {
    const raw = raws[f.name];
    if (raw === undefined || raw.trim() === defaultRaw(f).trim()) continue;
    const r = readValues(f, raw);
    if ('values' in r) grid[f.name] = r.values;
  }
  const first = fields.find((f) => f.readable);
  if (Object.keys(grid).length === 0 && first) {
    const r = readValues(first, defaultRaw(first));
    if ('values' in r) grid[first.name] = r.values;
  }
  return grid;
}

/** The first values of the lists: the run form's values (`from`, as sent) over the defaults. */
export function initialRaws(fields: Field[], from: Record<string, unknown>): Record<string, string> {
  const raws: Record<string, string> = {};
  for (const f of fields) {
    if (!(f.name in from)) continue;
    const v = from[f.name];
    raws[f.name] = f.kind === 'json' ? `[${v instanceof RawJson ? v.text : jsonText(v)}]` : formValue(f, v instanceof RawJson ? Number(v.text) : v);
  }
  return raws;
}

export function SweepFields({ fields, raws, onChange }: { fields: Field[]; raws: Record<string, string>; onChange(r: Record<string, string>): void }) {
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  return (
    <>
      {fields.map((f) => {
        const id = `sweep-${f.name}`;
        const raw = raws[f.name] ?? defaultRaw(f);
        const r = readValues(f, raw);
        const error = 'error' in r && (touched[f.name] || f.readable) ? r.error : undefined;
        const count = 'values' in r ? r.values.length : 0;
        return (
          <div key={f.name} class={`field${error ? ' invalid' : ''}`}>
            <label for={id}>{f.name}</label>
            <span class="type muted small">{f.typeLabel}</span>
            <div class="control">
              <input
                id={id}
                type="text"
                value={raw}
                aria-invalid={error ? true : undefined}
                aria-describedby={`${id}-help`}
                onInput={(e) => {
                  setTouched({ ...touched, [f.name]: true });
                  onChange({ ...raws, [f.name]: (e.target as HTMLInputElement).value });
                }}
              />
              <div id={`${id}-help`} class="help muted small">
                {count > 1 ? `${count} values` : f.kind === 'json' ? 'a JSON list of values' : 'values separated by commas'}
                {f.help ? ` · ${f.help.replace(/^#\s*/, '')}` : ''}
              </div>
              {error && <div class="field-error small" role="alert">{error}</div>}
            </div>
          </div>
        );
      })}
    </>
  );
}
