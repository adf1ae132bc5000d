/**
 * Create or edit a schedule: notebook, cron with presets, IANA time zone, the
 * next 5 fire times from the server's preview (debounced, as you type), the
 * typed parameters form of the notebook page, overlap/catch-up/retries and
 * run options, an optional webhook and e-mail addresses; after creation the webhook secret is shown once.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, createSchedule, getSchedule, listNotebooks, patchSchedule, previewCron, type Schedule } from '../api';
import { ErrorBox, href, Loading, useApp, useLoad } from '../common';
import { cronFor, inZone, localZone, presetOf, timeZones, WEEKDAYS, type Preset, type PresetState } from '../cron-presets';
import { ParamFields, useParamForm } from '../param-form';
import { fieldFor } from '../params';

function usePreview(cron: string, timezone: string): { times: string[] | null; error: unknown } {
  const [state, setState] = useState<{ times: string[] | null; error: unknown }>({ times: null, error: null });
  useEffect(() => {
    let live = true;
    const t = setTimeout(() => {
      if (!cron.trim()) return setState({ times: null, error: 'Enter a cron expression' });
      previewCron(cron, timezone).then(
        (r) => live && setState({ times: r.times, error: null }),
        (e) => live && setState({ times: null, error: e }),
      );
    }, 300);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [cron, timezone]);
  return state;
}

const num = (v: string) => (v.trim() === '' ? null : Number(v));
const posError = (v: string) => (v.trim() === '' || (Number(v) > 0 && Number.isFinite(Number(v))) ? undefined : 'Enter a positive number of seconds');
const intError = (v: string, max: number) => (/^\d+$/.test(v.trim()) && Number(v) <= max ? undefined : `Enter a whole number from 0 to ${max}`);

function Field1({ id, label, error, children }: { id: string; label: string; error?: string; children: preact.ComponentChildren }) {
  return (
    <div class={`field setting${error ? ' invalid' : ''}`}>
      <label for={id}>{label}</label>
      <div class="control">
        {children}
        {error && <div class="field-error small" role="alert">{error}</div>}
      </div>
    </div>
  );
}

/** The `notify` of the form's webhook and addresses (null: neither); a saved `on` is kept. */
function notifyOf(webhook: string, email: string, on: string[] | undefined) {
  const addresses = email.split(/[,;\s]+/).map((a) => a.trim()).filter(Boolean);
  if (!webhook.trim() && addresses.length === 0) return null;
  return { ...(webhook.trim() ? { webhook_url: webhook.trim() } : {}), ...(addresses.length ? { email: addresses } : {}), ...(on ? { on } : {}) };
}

export function ScheduleFormPage({ id, notebook: initialNotebook }: { id: string | null; notebook: string | null }) {
  const { user } = useApp();
  const existing = useLoad(() => (id ? getSchedule(id) : Promise.resolve(null)), [id]);
  const owner = existing.value?.owner ?? user;
  const nbs = useLoad(() => (owner ? listNotebooks(owner) : Promise.resolve(null)), [owner]);
  const specs = useLoad(() => api<{ kernelspecs: { name: string; display_name: string }[] }>('api/v1/kernelspecs'), []);
  const zones = useMemo(timeZones, []);

  const [name, setName] = useState('');
  const [notebook, setNotebook] = useState(initialNotebook ?? '');
  const [preset, setPreset] = useState<PresetState>({ preset: 'daily', time: '09:00', weekday: 1 });
  const [cron, setCron] = useState('0 9 * * *');
  const [timezone, setTimezone] = useState(localZone());
  const [kernel, setKernel] = useState('');
  const [timeout, setTimeoutS] = useState('');
  const [cellTimeout, setCellTimeout] = useState('');
  const [overlap, setOverlap] = useState('skip');
  const [catchup, setCatchup] = useState('latest');
  const [misfire, setMisfire] = useState('');
  const [retries, setRetries] = useState('0');
  const [backoff, setBackoff] = useState('60');
  const [webhook, setWebhook] = useState('');
  const [email, setEmail] = useState('');
  const [filled, setFilled] = useState(false);
  const [busy, setBusy] = useState(false);
  const [submitError, setSubmitError] = useState<unknown>(null);
  const [created, setCreated] = useState<Schedule | null>(null);

  const s = existing.value;
  const nb = nbs.value?.notebooks.find((n) => n.path === notebook);
  const fields = useMemo(() => (nb ? nb.parameters.map(fieldFor) : null), [nb]);
  // An existing schedule's parameters fill the form once the notebook's fields are known.
  const form = useParamForm(fields, s ?? null);
  if (s && !filled) {
    setName(s.name);
    setNotebook(s.notebook);
    setCron(s.cron);
    setPreset(presetOf(s.cron));
    setTimezone(s.timezone);
    setKernel(s.kernel ?? '');
    setTimeoutS(s.timeout_s ? String(s.timeout_s) : '');
    setCellTimeout(s.cell_timeout_s ? String(s.cell_timeout_s) : '');
    setOverlap(s.overlap);
    setCatchup(s.catchup);
    setMisfire(s.misfire_grace_s === null ? '' : String(s.misfire_grace_s));
    setRetries(String(s.max_retries));
    setBackoff(String(s.retry_backoff_s));
    setWebhook(s.notify?.webhook_url ?? '');
    setEmail((s.notify?.email ?? []).join(', '));
    setFilled(true);
  }
  if (!s && !name && nb && !filled) {
    setName(nb.name.replace(/\.ipynb$/, ''));
    setFilled(true);
  }

  const preview = usePreview(cron, timezone);
  const choosePreset = (p: PresetState) => {
    setPreset(p);
    const c = cronFor(p);
    if (c) setCron(c);
  };

  const optErrors = {
    name: name.trim() ? undefined : 'Enter a name',
    notebook: notebook ? undefined : 'Choose a notebook',
    timeout: posError(timeout),
    cellTimeout: posError(cellTimeout),
    retries: intError(retries, 20),
    backoff: backoff.trim() !== '' && Number(backoff) >= 0 && Number(backoff) <= 86400 ? undefined : 'Enter 0 to 86400 seconds',
    // Used with catch-up "none" only (hidden otherwise); empty: the scheduler's own few seconds.
    misfire: catchup !== 'none' || misfire.trim() === '' || (Number(misfire) >= 0 && Number(misfire) <= 86400) ? undefined : 'Enter 0 to 86400 seconds, or nothing',
  };
  const invalid = form.invalid || Object.values(optErrors).some(Boolean);

  const save = async (e: Event) => {
    e.preventDefault();
    if (invalid || busy) return;
    // Untouched defaults are left to the notebook, as on the notebook page.
    const parameters = form.parameters();
    const body: Record<string, unknown> = {
      name: name.trim(),
      notebook,
      cron,
      timezone,
      parameters,
      kernel: kernel || null,
      timeout_s: num(timeout),
      cell_timeout_s: num(cellTimeout),
      overlap,
      catchup,
      misfire_grace_s: catchup === 'none' ? num(misfire) : null,
      max_retries: Number(retries),
      retry_backoff_s: Number(backoff),
      notify: notifyOf(webhook, email, s?.notify?.on),
    };
    setBusy(true);
    setSubmitError(null);
    try {
      const saved = s ? await patchSchedule(s.id, body) : await createSchedule({ ...body, username: owner });
      if (saved.webhook_secret) setCreated(saved);
      else location.hash = href(`/schedules/${saved.id}`);
    } catch (err) {
      setSubmitError(err);
      form.showServerErrors(err);
    } finally {
      setBusy(false);
    }
  };

  if (created) {
    return (
      <main>
        <h1>Schedule {created.name} saved</h1>
        <p>The webhook requests carry <code>X-Hubmill-Signature</code>, an HMAC-SHA256 of the body keyed with this secret. It is shown only now: copy it.</p>
        <label for="webhook-secret">Webhook secret</label>
        <input id="webhook-secret" readOnly value={created.webhook_secret} size={70} onFocus={(e) => (e.target as HTMLInputElement).select()} />
        <p><a class="button primary" href={href(`/schedules/${created.id}`)}>Open the schedule</a></p>
      </main>
    );
  }
  if (existing.error) return <main><ErrorBox error={existing.error} /></main>;
  // The form shows once it holds the schedule's values (not the defaults for a moment).
  if (id && (!s || !filled)) return <main><Loading /></main>;
  if (!owner) return <main><h1>New schedule</h1><p>Pick the user whose notebook to schedule with the user switch above.</p></main>;

  const input = (id2: string, value: string, set: (v: string) => void, extra: Record<string, unknown> = {}) => (
    <input id={id2} type="text" value={value} onInput={(e) => set((e.target as HTMLInputElement).value)} {...extra} />
  );
  return (
    <main>
      <nav class="crumbs" aria-label="Breadcrumb"><a href={href('/schedules')}>Schedules</a> / {s ? s.name : 'new'}</nav>
      <h1>{s ? `Edit schedule ${s.name}` : 'New schedule'}</h1>
      <form class="run-form" onSubmit={save} noValidate>
        <fieldset>
          <legend>What</legend>
          <Field1 id="s-name" label="Name" error={optErrors.name}>{input('s-name', name, setName)}</Field1>
          <Field1 id="s-notebook" label="Notebook" error={optErrors.notebook}>
            <select id="s-notebook" value={notebook} onChange={(e) => (setNotebook((e.target as HTMLSelectElement).value), form.reset())}>
              <option value="">choose…</option>
              {notebook && nbs.value && !nb && <option value={notebook}>{notebook}</option>}
              {(nbs.value?.notebooks ?? []).map((n) => <option key={n.path} value={n.path}>{n.path}</option>)}
            </select>
          </Field1>
        </fieldset>
        <fieldset>
          <legend>When</legend>
          <Field1 id="s-preset" label="Repeat">
            <select id="s-preset" value={preset.preset} onChange={(e) => choosePreset({ ...preset, preset: (e.target as HTMLSelectElement).value as Preset })}>
              <option value="hourly">hourly</option>
              <option value="daily">daily at…</option>
              <option value="weekdays">weekdays at…</option>
              <option value="weekly">weekly on…</option>
              <option value="custom">custom cron</option>
            </select>
          </Field1>
          {preset.preset === 'weekly' && (
            <Field1 id="s-weekday" label="Day">
              <select id="s-weekday" value={String(preset.weekday)} onChange={(e) => choosePreset({ ...preset, weekday: Number((e.target as HTMLSelectElement).value) })}>
                {WEEKDAYS.map((d, i) => <option key={d} value={String(i)}>{d}</option>)}
              </select>
            </Field1>
          )}
          {preset.preset === 'hourly' && (
            <Field1 id="s-minute" label="Minute past the hour">
              <input id="s-minute" type="number" min={0} max={59} value={Number(preset.time.slice(3))} onInput={(e) => choosePreset({ ...preset, time: `${preset.time.slice(0, 2)}:${String(Math.max(0, Math.min(59, Number((e.target as HTMLInputElement).value) || 0))).padStart(2, '0')}` })} />
            </Field1>
          )}
          {['daily', 'weekdays', 'weekly'].includes(preset.preset) && (
            <Field1 id="s-time" label="At">
              <input id="s-time" type="time" value={preset.time} onInput={(e) => (e.target as HTMLInputElement).value && choosePreset({ ...preset, time: (e.target as HTMLInputElement).value })} />
            </Field1>
          )}
          <Field1 id="s-cron" label="Cron">
            <input id="s-cron" type="text" spellcheck={false} value={cron} aria-describedby="s-preview" onInput={(e) => {
              const c = (e.target as HTMLInputElement).value;
              setCron(c);
              setPreset(presetOf(c, preset.time));
            }} />
            <div class="help muted small">5 fields (minute hour day month weekday), 6 with seconds first, or @hourly, @daily, @weekly, @monthly</div>
          </Field1>
          <Field1 id="s-tz" label="Time zone">
            <select id="s-tz" value={timezone} onChange={(e) => setTimezone((e.target as HTMLSelectElement).value)}>
              {!zones.includes(timezone) && <option value={timezone}>{timezone}</option>}
              {zones.map((z) => <option key={z} value={z}>{z}</option>)}
            </select>
          </Field1>
          <section id="s-preview" class="preview" aria-live="polite" aria-label="Next fire times">
            <h2 class="small">Next 5 fire times ({timezone})</h2>
            {preview.error ? <ErrorBox error={preview.error} /> : !preview.times ? <Loading /> : (
              <ol class="fires">
                {preview.times.map((t) => <li key={t}><time dateTime={t} title={t}>{inZone(t, timezone)}</time></li>)}
              </ol>
            )}
          </section>
        </fieldset>
        <fieldset>
          <legend>Parameters</legend>
          {!nb && <p class="muted">Choose a notebook to fill in its parameters.</p>}
          {nb && form.fields.length === 0 && <p class="muted">This notebook has no parameters cell.</p>}
          <ParamFields form={form} />
        </fieldset>
        <fieldset class="options">
          <legend>Options</legend>
          <Field1 id="s-overlap" label="If the last run is still going">
            <select id="s-overlap" value={overlap} onChange={(e) => setOverlap((e.target as HTMLSelectElement).value)}>
              <option value="skip">skip this run</option>
              <option value="queue">queue it</option>
              <option value="allow">run at the same time</option>
            </select>
          </Field1>
          <Field1 id="s-catchup" label="Runs missed while down">
            <select id="s-catchup" value={catchup} onChange={(e) => setCatchup((e.target as HTMLSelectElement).value)}>
              <option value="latest">run the latest</option>
              <option value="all">run them all</option>
              <option value="none">skip them</option>
            </select>
          </Field1>
          {catchup === 'none' && (
            <Field1 id="s-misfire" label="Still run when late by (s)" error={optErrors.misfire}>
              {input('s-misfire', misfire, setMisfire, { type: 'number', min: 0, max: 86400, step: 'any', placeholder: 'a few seconds', 'aria-describedby': 's-misfire-help' })}
              <div id="s-misfire-help" class="help muted small">A run this late (after downtime) still runs; a later one is skipped. Empty: only the scheduler's wake-up tolerance.</div>
            </Field1>
          )}
          <Field1 id="s-retries" label="Retries" error={optErrors.retries}>{input('s-retries', retries, setRetries, { inputMode: 'numeric' })}</Field1>
          <Field1 id="s-backoff" label="Retry backoff (s)" error={optErrors.backoff}>{input('s-backoff', backoff, setBackoff, { inputMode: 'decimal' })}</Field1>
          <Field1 id="s-kernel" label="Kernel">
            <select id="s-kernel" value={kernel} onChange={(e) => setKernel((e.target as HTMLSelectElement).value)}>
              <option value="">The notebook's ({nb?.kernel ?? 'default'})</option>
              {(specs.value?.kernelspecs ?? []).map((k) => <option key={k.name} value={k.name}>{k.display_name} ({k.name})</option>)}
            </select>
          </Field1>
          <Field1 id="s-timeout" label="Run timeout (s)" error={optErrors.timeout}>{input('s-timeout', timeout, setTimeoutS, { inputMode: 'decimal', placeholder: 'server default' })}</Field1>
          <Field1 id="s-cell-timeout" label="Cell timeout (s)" error={optErrors.cellTimeout}>{input('s-cell-timeout', cellTimeout, setCellTimeout, { inputMode: 'decimal', placeholder: 'server default' })}</Field1>
          <Field1 id="s-webhook" label="Webhook URL (on failure)">{input('s-webhook', webhook, setWebhook, { type: 'url', placeholder: 'none' })}</Field1>
          <Field1 id="s-email" label="E-mail on failure (comma-separated)">{input('s-email', email, setEmail, { type: 'text', placeholder: 'none' })}</Field1>
        </fieldset>
        {submitError != null && <ErrorBox error={submitError} />}
        <div class="actions">
          <button type="submit" class="primary" disabled={invalid || busy}>{s ? 'Save' : 'Create schedule'}</button>
          <a class="button" href={href(s ? `/schedules/${s.id}` : '/schedules')}>Cancel</a>
        </div>
      </form>
    </main>
  );
}
