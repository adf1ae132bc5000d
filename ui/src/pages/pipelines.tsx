/**
 * The Pipelines pages: the list, and one pipeline (its graph, the run form of
 * its parameters typed like the notebook form, and a runs × tasks matrix of its
 * recent runs, and its notifications, deliveries.tsx). Create and edit are in pipeline-form.tsx, a run in pipeline-run.tsx.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { listNotebooks } from '../api';
import { ErrorBox, href, Loading, useApp, useLoad } from '../common';
import { Deliveries } from '../deliveries';
import { ParamFields, useParamForm } from '../param-form';
import { ShareButton, SharedFilter } from '../share';
import { deletePipeline, getPipeline, listPipelines, listRuns, runEnded, specTasks, startRun } from '../pipeline-api';
import { PipelineGraph } from '../pipeline-graph';
import { pipelineFields, RunsMatrix, StatusWord } from '../pipeline-parts';

export function PipelinesPage() {
  const { me, user } = useApp();
  const [shared, setShared] = useState(false);
  const list = useLoad(() => listPipelines(me.admin && !shared ? user : null, shared), [user, shared]);
  const rows = list.value?.pipelines;
  return (
    <main>
      <h1>Pipelines</h1>
      <p class="filters"><a class="button primary" href={href('/pipelines/new')}>New pipeline</a> <SharedFilter shared={shared} onChange={setShared} /></p>
      {list.error ? <ErrorBox error={list.error} /> : !rows ? <Loading /> : rows.length === 0 ? <p>{shared ? 'Nothing is shared with you.' : 'No pipelines yet. Create one from YAML here, or press "Sweep…" on a notebook\'s page.'}</p> : (
        <table class="jobs pipelines">
          <thead><tr><th scope="col">Name</th><th scope="col">Owner</th><th scope="col">Tasks</th><th scope="col">Updated</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {rows.map((p) => (
              <tr key={p.id} data-pipeline-id={p.id}>
                <td><a href={href(`/pipelines/${p.id}`)}>{p.name}</a></td>
                <td>{p.owner}</td>
                <td>{p.plan.tasks.length}</td>
                <td><time dateTime={p.updated_at}>{new Date(p.updated_at).toLocaleString()}</time></td>
                <td><a class="button" href={href(`/pipelines/${p.id}/edit`)} aria-label={`Edit ${p.name}`}>Edit</a></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}

export function PipelinePage({ id }: { id: string }) {
  const loaded = useLoad(() => getPipeline(id), [id]);
  const p = loaded.value;
  const nbs = useLoad(() => (p ? listNotebooks(p.owner) : Promise.resolve(null)), [p?.owner]);
  const runs = useLoad(() => listRuns(id, 15), [id]);
  const fields = useMemo(() => (p && (nbs.value || nbs.error) ? pipelineFields(p, nbs.value?.notebooks) : null), [p, nbs.value, nbs.error]);
  const form = useParamForm(fields, null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const live = (runs.value?.runs ?? []).some((r) => !runEnded(r.status));
  useEffect(() => {
    if (!live) return;
    const t = setInterval(runs.reload, 2000);
    return () => clearInterval(t);
  }, [live, runs.value]);

  const graphTasks = useMemo(() => {
    if (!p) return [];
    const specs = new Map(specTasks(p).map((t) => [t.key, t]));
    return p.plan.tasks.map((t) => ({ key: t.key, deps: t.depends_on, sub: specs.get(t.key)?.for_each ? `for each · ${t.notebook}` : t.notebook }));
  }, [p]);

  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e);
      form.showServerErrors(e);
    } finally {
      setBusy(false);
    }
  };
  const run = (e: Event) => {
    e.preventDefault();
    if (form.invalid || busy) return;
    void act(async () => {
      const r = await startRun(id, form.parameters());
      location.hash = href(`/pipelines/${id}/runs/${r.id}`);
    });
  };
  const remove = () =>
    act(async () => {
      if (!confirm(`Delete pipeline ${p!.name}? Its runs' jobs stay.`)) return;
      await deletePipeline(id);
      location.hash = href('/pipelines');
    });

  if (loaded.error) return <main><ErrorBox error={loaded.error} /></main>;
  if (!p || !fields) return <main><Loading /></main>;
  const last = runs.value?.runs[0];
  return (
    <main class="wide">
      <nav class="crumbs" aria-label="Breadcrumb"><a href={href('/pipelines')}>Pipelines</a> / {p.name}</nav>
      <h1>{p.name}</h1>
      <p class="muted">
        {p.owner} · {p.plan.tasks.length} task{p.plan.tasks.length === 1 ? '' : 's'} · at most {p.max_concurrent_runs} run{p.max_concurrent_runs === 1 ? '' : 's'} at once · updated {new Date(p.updated_at).toLocaleString()}
        {last && <> · last run <a href={href(`/pipelines/${id}/runs/${last.id}`)}><StatusWord status={last.status} /></a></>}
      </p>
      <form class="run-form" onSubmit={run} noValidate>
        {fields.length > 0 && (
          <fieldset>
            <legend>Parameters</legend>
            <ParamFields form={form} />
          </fieldset>
        )}
        {error != null && <ErrorBox error={error} />}
        <div class="actions">
          <button type="submit" class="primary" disabled={form.invalid || busy}>Run</button>
          <a class="button" href={href(`/pipelines/${id}/edit`)}>Edit</a>
          <ShareButton kind="pipelines" id={id} label={p.name} />
          <button type="button" disabled={busy} onClick={remove}>Delete</button>
        </div>
      </form>
      <section>
        <h2>Graph</h2>
        <PipelineGraph tasks={graphTasks} label={`Graph of ${p.name}`} />
      </section>
      <section>
        <h2>Recent runs</h2>
        {runs.error ? <ErrorBox error={runs.error} /> : !runs.value ? <Loading /> : <RunsMatrix pipeline={p} runs={runs.value.runs} />}
      </section>
      {p.notify && <Deliveries kind="pipelines" id={p.id} />}
    </main>
  );
}
