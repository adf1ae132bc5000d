/**
 * Create or edit a pipeline as YAML (the API body's shape), with a live preview
 * of its graph. Saving sends it as JSON with each number as typed; a 422's
 * problems are shown next to the lines their paths point at, syntax errors too.
 * With `notebook=` (the notebook page's "Sweep…") the page starts as a one-task
 * sweep of that notebook: its typed parameters, one list of values each, fill
 * the task's for_each grid.
 */
import { useMemo, useState } from 'preact/hooks';
import { listNotebooks } from '../api';
import { ErrorBox, href, Loading, useApp, useLoad } from '../common';
import { createPipeline, getPipeline, parseLossless, patchPipeline, problemsOf, type PipelineProblem } from '../pipeline-api';
import { PipelineGraph } from '../pipeline-graph';
import { fieldFor } from '../params';
import { gridOf, initialRaws, SweepFields, sweepPipeline } from '../sweep-fields';
import { YamlEditor, type LineNote } from '../yaml-editor';
import { parsePipelineText, tasksOf, textAt, toYamlText } from '../yaml-text';

const TEMPLATE = `name: my pipeline
parameters:
  day: "2026-01-01"
tasks:
  - key: extract
    notebook: extract.ipynb
  - key: train
    notebook: train.ipynb
    depends_on: [extract]
    for_each:
      grid:
        lr: [0.1, 0.01]
        depth: [2, 4]
  - key: report
    notebook: report.ipynb
    depends_on: [train]
    parameters:
      scores: "{{tasks.train.result.score}}"
`;

/** The fields the editor shows of a saved pipeline (its body's shape). */
const FIELDS = ['name', 'parameters', 'tasks', 'max_concurrent_runs', 'notify'] as const;

function parseFrom(params: string | null): Record<string, unknown> {
  if (!params) return {};
  try {
    // Numbers keep their text (2.0 a float), as the run form typed them.
    const v = parseLossless(params);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function PipelineFormPage({ id, notebook, params }: { id: string | null; notebook: string | null; params: string | null }) {
  const { user } = useApp();
  const existing = useLoad(() => (id ? getPipeline(id) : Promise.resolve(null)), [id]);
  const p = existing.value;
  const owner = p?.owner ?? user;
  const nbs = useLoad(() => (notebook && owner ? listNotebooks(owner) : Promise.resolve(null)), [notebook, owner]);
  const nb = notebook ? nbs.value?.notebooks.find((n) => n.path === notebook) : undefined;
  const fields = useMemo(() => (nb ? nb.parameters.map(fieldFor) : null), [nb]);
  const [text, setText] = useState<string | null>(null);
  const [raws, setRaws] = useState<Record<string, string> | null>(null);
  // The server's problems, each with the text of what its path named then: shown until that part is edited.
  const [problems, setProblems] = useState<(PipelineProblem & { was: string })[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  // The first text: the saved pipeline, the sweep, or the template.
  if (text === null) {
    if (p) setText(toYamlText(Object.fromEntries(FIELDS.filter((k) => p[k] !== null && p[k] !== undefined).map((k) => [k, p[k]]))));
    else if (!id && !notebook) setText(TEMPLATE);
    else if (!id && notebook && fields) {
      const r = initialRaws(fields, parseFrom(params));
      setRaws(r);
      setText(toYamlText(sweepPipeline(notebook, gridOf(fields, r))));
    }
  }
  const sweep = (r: Record<string, string>) => {
    setRaws(r);
    setText(toYamlText(sweepPipeline(notebook!, gridOf(fields!, r))));
  };

  const parsed = useMemo(() => parsePipelineText(text ?? ''), [text]);
  const current = parsed.value === undefined ? problems : problems.filter((pr) => textAt(parsed.value, pr.path) === pr.was);
  const notes: LineNote[] = [
    ...parsed.errors,
    ...current.map((pr) => ({
      line: parsed.lineOf(pr.path),
      message: pr.task && !pr.message.includes(pr.task) ? `task ${pr.task}: ${pr.message}` : pr.message,
    })),
  ];
  const tasks = tasksOf(parsed.value);
  const withProblems = new Set(current.map((pr) => pr.task));
  const graph = useMemo(
    () => tasks.map((t) => ({ key: t.key, deps: t.deps, sub: t.notebook, problem: withProblems.has(t.key) })),
    [text, current.length],
  );

  const save = async (e: Event) => {
    e.preventDefault();
    const v = parsed.value;
    if (busy || parsed.errors.length) return;
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      setError('The pipeline must be a YAML mapping with name and tasks');
      return;
    }
    const body = v as Record<string, unknown>;
    setBusy(true);
    setError(null);
    setProblems([]);
    try {
      const saved = p
        ? await patchPipeline(p.id, { name: body.name, parameters: body.parameters ?? {}, tasks: body.tasks, max_concurrent_runs: body.max_concurrent_runs ?? 1, notify: body.notify ?? null })
        : await createPipeline({ ...body, ...(owner && body.username === undefined ? { username: owner } : {}) });
      location.hash = href(`/pipelines/${saved.id}`);
    } catch (err) {
      const list = problemsOf(err);
      setProblems(list.map((pr) => ({ ...pr, was: textAt(v, pr.path) })));
      setError(list.length ? `The pipeline has ${list.length} problem${list.length === 1 ? '' : 's'}: see the marked lines.` : err);
    } finally {
      setBusy(false);
    }
  };

  if (existing.error) return <main><ErrorBox error={existing.error} /></main>;
  if (nbs.error) return <main><ErrorBox error={nbs.error} /></main>;
  if (notebook && nbs.value && !nb) return <main><h1>Notebook not found</h1><p>{notebook} is not a notebook in the home of {owner}.</p></main>;
  if (text === null) return <main><Loading /></main>;
  const title = p ? `Edit pipeline ${p.name}` : notebook ? `Sweep ${notebook}` : 'New pipeline';
  return (
    <main class="wide">
      <nav class="crumbs" aria-label="Breadcrumb"><a href={href('/pipelines')}>Pipelines</a> / {p ? <a href={href(`/pipelines/${p.id}`)}>{p.name}</a> : 'new'}</nav>
      <h1>{title}</h1>
      <form class="pipeline-form" onSubmit={save} noValidate>
        {notebook && fields && raws && (
          <fieldset>
            <legend>Values to sweep</legend>
            <p class="muted small">One list per parameter; the task runs once per combination. Changing a list rewrites the YAML below.</p>
            {fields.length === 0 ? <p class="muted">This notebook has no parameters cell.</p> : <SweepFields fields={fields} raws={raws} onChange={sweep} />}
          </fieldset>
        )}
        <div class="editor-and-preview">
          <div>
            <label for="pipeline-yaml" class="small muted">Pipeline (YAML: name, parameters, tasks, max_concurrent_runs, notify)</label>
            <YamlEditor id="pipeline-yaml" label="Pipeline YAML" value={text} onInput={(v) => setText(v)} notes={notes} />
          </div>
          <section aria-label="Preview">
            <h2 class="small muted">Preview</h2>
            {parsed.errors.length ? <p class="muted">Fix the YAML to see the graph.</p> : <PipelineGraph tasks={graph} label="Preview of the graph" />}
          </section>
        </div>
        {error != null && <ErrorBox error={error} />}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy || parsed.errors.length > 0}>{p ? 'Save' : 'Create pipeline'}</button>
          <a class="button" href={href(p ? `/pipelines/${p.id}` : '/pipelines')}>Cancel</a>
        </div>
      </form>
    </main>
  );
}
