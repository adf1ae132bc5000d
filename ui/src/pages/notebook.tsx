/**
 * One notebook: the typed run form built from its parameters cell (defaults
 * filled in, help shown, bad values flagged in place), run options, "Run" and
 * "Schedule…", and its recent runs. `from=<job id>` fills the form from a job
 * (Edit & rerun). Only parameters that differ from the notebook's defaults are
 * sent, so untouched ones keep the notebook's own literal (e.g. `1.0` stays a float).
 */
import { useMemo, useState } from 'preact/hooks';
import { jsonText } from '../json-text';
import { api, getJob, listJobs, listNotebooks, submitJob, type Job } from '../api';
import { ErrorBox, href, Loading, Status, When, seconds, useApp, useLoad } from '../common';
import { ParamFields, useParamForm } from '../param-form';
import { fieldFor } from '../params';

export function NotebookPage({ path, from }: { path: string; from: string | null }) {
  const { user } = useApp();
  const nbs = useLoad(() => listNotebooks(user!), [user]);
  const specs = useLoad(() => api<{ default: string | null; kernelspecs: { name: string; display_name: string }[] }>('api/v1/kernelspecs'), []);
  const source = useLoad(() => (from ? getJob(from) : Promise.resolve(null)), [from]);
  const runs = useLoad(() => listJobs({ username: user, notebook: path, limit: 10 }), [user, path]);
  const nb = nbs.value?.notebooks.find((n) => n.path === path);
  const fields = useMemo(() => (nb ? nb.parameters.map(fieldFor) : null), [nb]);
  const job = source.value;
  const form = useParamForm(fields, job ?? null);
  const [kernel, setKernel] = useState('');
  const [timeout, setTimeoutS] = useState('');
  const [cellTimeout, setCellTimeout] = useState('');
  const [submitError, setSubmitError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [filledFrom, setFilledFrom] = useState<string | null>(null);

  // Edit & rerun: the job's values over the defaults (its parameters: useParamForm), once both are loaded.
  if (job && nb && filledFrom !== job.id) {
    setKernel(job.kernel ?? '');
    setTimeoutS(job.timeout_s ? String(job.timeout_s) : '');
    setCellTimeout(job.cell_timeout_s ? String(job.cell_timeout_s) : '');
    setFilledFrom(job.id);
  }

  const optError = (v: string) => (v.trim() === '' || (Number(v) > 0 && Number.isFinite(Number(v))) ? undefined : 'Enter a positive number of seconds');
  const timeoutError = optError(timeout);
  const cellTimeoutError = optError(cellTimeout);
  const invalid = form.invalid || Boolean(timeoutError || cellTimeoutError);

  const run = async (e: Event) => {
    e.preventDefault();
    if (invalid || busy) return;
    // Untouched defaults are left to the notebook (its own literal, e.g. 1.0 stays a float).
    const parameters = form.parameters();
    setBusy(true);
    setSubmitError(null);
    try {
      const created = await submitJob({
        notebook: path,
        username: user,
        parameters,
        // The server checks again: only the notebook's declared parameters, each of its type.
        strict_parameters: true,
        ...(kernel ? { kernel } : {}),
        ...(timeout ? { timeout_s: Number(timeout) } : {}),
        ...(cellTimeout ? { cell_timeout_s: Number(cellTimeout) } : {}),
      });
      location.hash = href(`/job/${created.id}`);
    } catch (err) {
      setSubmitError(err);
      form.showServerErrors(err);
    } finally {
      setBusy(false);
    }
  };

  if (nbs.error) return <main><ErrorBox error={nbs.error} /></main>;
  if (!nbs.value) return <main><Loading /></main>;
  if (!nb) return <main><h1>Notebook not found</h1><p>{path} is not a notebook in the home of {user}.</p></main>;
  return (
    <main>
      <nav class="crumbs" aria-label="Breadcrumb"><a href={href('/notebooks')}>Notebooks</a> / {nb.path}</nav>
      <h1>{nb.name}</h1>
      <p class="muted">
        Kernel {nb.kernel ?? 'unknown'}
        {nb.language ? ` (${nb.language})` : ''}
        {job && <> · filled in from run <a href={href(`/job/${job.id}`)}>{job.id}</a></>}
      </p>
      {nb.error && <ErrorBox error={nb.error.detail} />}
      <form class="run-form" onSubmit={run} noValidate>
        <fieldset>
          <legend>Parameters</legend>
          {form.fields.length === 0 && <p class="muted">This notebook has no parameters cell (tag a cell "parameters" to get a form).</p>}
          <ParamFields form={form} />
        </fieldset>
        <fieldset class="options">
          <legend>Options</legend>
          <div class="field">
            <label for="opt-kernel">Kernel</label>
            <div class="control">
              <select id="opt-kernel" value={kernel} onChange={(e) => setKernel((e.target as HTMLSelectElement).value)}>
                <option value="">The notebook's ({nb.kernel ?? 'default'})</option>
                {(specs.value?.kernelspecs ?? []).map((k) => (
                  <option key={k.name} value={k.name}>{k.display_name} ({k.name})</option>
                ))}
              </select>
            </div>
          </div>
          <div class={`field${timeoutError ? ' invalid' : ''}`}>
            <label for="opt-timeout">Run timeout (s)</label>
            <div class="control">
              <input id="opt-timeout" type="text" inputMode="decimal" placeholder="server default" value={timeout} aria-invalid={timeoutError ? true : undefined} onInput={(e) => setTimeoutS((e.target as HTMLInputElement).value)} />
              {timeoutError && <div class="field-error small" role="alert">{timeoutError}</div>}
            </div>
          </div>
          <div class={`field${cellTimeoutError ? ' invalid' : ''}`}>
            <label for="opt-cell-timeout">Cell timeout (s)</label>
            <div class="control">
              <input id="opt-cell-timeout" type="text" inputMode="decimal" placeholder="server default" value={cellTimeout} aria-invalid={cellTimeoutError ? true : undefined} onInput={(e) => setCellTimeout((e.target as HTMLInputElement).value)} />
              {cellTimeoutError && <div class="field-error small" role="alert">{cellTimeoutError}</div>}
            </div>
          </div>
        </fieldset>
        {submitError != null && <ErrorBox error={submitError} />}
        <div class="actions">
          <button type="submit" class="primary" disabled={invalid || busy}>Run</button>
          <button type="button" onClick={() => (location.hash = href('/schedules/new', { notebook: path, user }))}>Schedule…</button>
          <button type="button" title="Run it over lists of parameter values (a one-task pipeline)" onClick={() => (location.hash = href('/pipelines/new', { notebook: path, params: jsonText(form.parameters()) }))}>Sweep…</button>
        </div>
      </form>
      <section>
        <h2>Recent runs</h2>
        {runs.error ? <ErrorBox error={runs.error} /> : !runs.value ? <Loading /> : <RunList jobs={runs.value.jobs} />}
        {runs.value && runs.value.jobs.length > 0 && <p class="small"><a href={href('/jobs', { notebook: path })}>All runs of this notebook</a></p>}
      </section>
    </main>
  );
}

export function RunList({ jobs }: { jobs: Job[] }) {
  if (jobs.length === 0) return <p class="muted">No runs yet.</p>;
  return (
    <ul class="runs">
      {jobs.map((j) => (
        <li key={j.id}>
          <Status status={j.status} /> <a href={href(`/job/${j.id}`)}>{j.id}</a> <When iso={j.created_at} /> <span class="muted small">{seconds(j.duration_s)}</span>
        </li>
      ))}
    </ul>
  );
}
