/** One typed, labelled parameter input of a run form (the notebook page's and the schedule form's). */
import type { Field } from './params';

export function ParamInput({ f, value, error, onChange }: { f: Field; value: string; error?: string; onChange(v: string): void }) {
  const id = `param-${f.name}`;
  const describedBy = [f.help ? `${id}-help` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  const common = { id, name: f.name, 'aria-describedby': describedBy, 'aria-invalid': error ? true : undefined };
  let input;
  if (f.kind === 'boolean') {
    input = <input {...common} type="checkbox" checked={value === 'true'} onChange={(e) => onChange((e.target as HTMLInputElement).checked ? 'true' : 'false')} />;
  } else if (f.kind === 'json') {
    input = <textarea {...common} rows={Math.min(6, Math.max(1, value.split('\n').length))} spellcheck={false} value={value} onInput={(e) => onChange((e.target as HTMLTextAreaElement).value)} />;
  } else {
    input = (
      <input
        {...common}
        type="text"
        inputMode={f.kind === 'integer' ? 'numeric' : f.kind === 'number' ? 'decimal' : undefined}
        value={value}
        onInput={(e) => onChange((e.target as HTMLInputElement).value)}
      />
    );
  }
  return (
    <div class={`field${error ? ' invalid' : ''}`}>
      <label for={id}>{f.name}</label>
      <span class="type muted small">{f.typeLabel}</span>
      <div class="control">
        {input}
        {f.help && (
          <div id={`${id}-help`} class="help muted small">
            {f.help.replace(/^#\s*/, '')}
          </div>
        )}
        {error && (
          <div id={`${id}-error`} class="field-error small" role="alert">
            {error}
          </div>
        )}
      </div>
    </div>
  );
}
