/**
 * The typed parameters part of a run form, shared by the notebook page and the
 * schedule form: the values typed so far over the notebook's defaults, their
 * errors (the form's own, and the server's strict_parameters verdict until the
 * field is edited), filling in from a job or schedule, and the parameters to send.
 */
import { useState } from 'preact/hooks';
import { ApiError } from './api';
import { ParamInput } from './param-input';
import { formValue, readField, type Field } from './params';

export interface ParamForm {
  fields: Field[];
  current(f: Field): string;
  errors: Record<string, string>;
  invalid: boolean;
  /** A field was edited (this also clears the server's verdict on it). */
  set(name: string, raw: string): void;
  /** Forget what was typed (e.g. another notebook was chosen). */
  reset(): void;
  /**
   * The parameters to send: only what differs from the notebook's defaults, so
   * untouched ones keep the notebook's own literal; a parameter the filled-in
   * job or schedule had is always sent.
   */
  parameters(): Record<string, unknown>;
  /** Shows a strict_parameters 422's per-parameter problems at their fields. */
  showServerErrors(err: unknown): void;
}

/**
 * `fields`: null until the notebook is known. `from`: a job's or schedule's id and
 * parameters, filled in once (for each id) when the fields are known.
 */
export function useParamForm(fields: Field[] | null, from: { id: string; parameters: Record<string, unknown> } | null): ParamForm {
  const [values, setValues] = useState<Record<string, string>>({});
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [filledFrom, setFilledFrom] = useState<string | null>(null);
  const list = fields ?? [];
  if (from && fields && filledFrom !== from.id) {
    const v: Record<string, string> = {};
    for (const f of list) if (f.name in from.parameters) v[f.name] = formValue(f, from.parameters[f.name]);
    setValues(v);
    setFilledFrom(from.id);
  }

  const current = (f: Field) => values[f.name] ?? f.initial;
  // The form's own errors block sending; the server's are shown until the field is edited.
  const own: Record<string, string> = {};
  for (const f of list) {
    const r = readField(f, current(f));
    if ('error' in r && (values[f.name] !== undefined || f.readable)) own[f.name] = r.error;
  }
  const errors: Record<string, string> = {};
  for (const f of list) if (own[f.name] || serverErrors[f.name]) errors[f.name] = own[f.name] || serverErrors[f.name]!;
  return {
    fields: list,
    current,
    errors,
    invalid: Object.keys(own).length > 0,
    set: (name, raw) => {
      setValues({ ...values, [name]: raw });
      if (serverErrors[name]) setServerErrors({ ...serverErrors, [name]: '' });
    },
    reset: () => setValues({}),
    parameters: () => {
      const out: Record<string, unknown> = {};
      for (const f of list) {
        const raw = current(f);
        if (raw === f.initial && f.readable && !(from && f.name in from.parameters)) continue;
        if (!f.readable && values[f.name] === undefined) continue;
        const r = readField(f, raw);
        if ('value' in r) out[f.name] = r.value;
      }
      return out;
    },
    showServerErrors: (err) => setServerErrors(parameterProblems(err)),
  };
}

/** One input per field of the form. */
export function ParamFields({ form }: { form: ParamForm }) {
  return (
    <>
      {form.fields.map((f) => (
        <ParamInput key={f.name} f={f} value={form.current(f)} error={form.errors[f.name]} onChange={(v) => form.set(f.name, v)} />
      ))}
    </>
  );
}

/** Per-parameter messages from a strict_parameters 422 (`parameters: [{parameter, expected, given}]`). */
function parameterProblems(err: unknown): Record<string, string> {
  const list = err instanceof ApiError ? err.problem?.parameters : undefined;
  if (!Array.isArray(list)) return {};
  const out: Record<string, string> = {};
  for (const p of list as { parameter?: unknown; expected?: unknown; given?: unknown }[]) {
    if (typeof p.parameter !== 'string') continue;
    out[p.parameter] = typeof p.expected === 'string' ? `The server expects ${p.expected}, got ${String(p.given)}` : 'Not a parameter of this notebook';
  }
  return out;
}
