/**
 * Parts of the pipeline pages: the run form's fields (typed as the notebook
 * form types them), the status word of tasks and runs, and the runs × tasks
 * matrix of recent runs.
 */
import type { NotebookInfo } from './api';
import { href } from './common';
import { RawJson } from './json-text';
import { fieldFor, type Field, type Parameter } from './params';
import { latestJobs, progressOf, type Pipeline, type PipelineRunStatus, type Run, type TaskStatus } from './pipeline-api';

/** A JSON value (RawJson numbers as written) as the Python literal the form's parser reads. */
export function pythonLiteral(v: unknown): string {
  if (v instanceof RawJson) return v.text;
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `[${v.map(pythonLiteral).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${pythonLiteral(x)}`).join(', ')}}`;
  return String(v);
}

/**
 * The fields of a pipeline's parameters: each typed by the notebook of a task that declares it
 * (its annotation and help), with the pipeline's default; else typed from the default itself.
 */
export function pipelineFields(p: Pipeline, notebooks: readonly NotebookInfo[] | undefined): Field[] {
  const declared = new Map<string, Parameter>();
  for (const t of p.plan.tasks) {
    const nb = notebooks?.find((n) => n.path === t.notebook);
    for (const param of nb?.parameters ?? []) if (t.declared_parameters.includes(param.name) && !declared.has(param.name)) declared.set(param.name, param);
  }
  return Object.entries(p.parameters).map(([name, value]) => {
    const nb = declared.get(name);
    return fieldFor({ name, inferred_type_name: nb?.inferred_type_name ?? 'None', help: nb?.help ?? '', default: pythonLiteral(value) });
  });
}

export function StatusWord({ status }: { status: TaskStatus | PipelineRunStatus | 'none' }) {
  return <span class={`status status-${status}`}>{status.replace('_', ' ')}</span>;
}

/** Columns shown at most (a 1,000-task pipeline's runs are read on their run pages). */
const MATRIX_COLUMNS = 60;

/** Recent runs (rows) × tasks (columns): each cell the task's status in that run, linking to its job (or its items on the run page). */
export function RunsMatrix({ pipeline, runs }: { pipeline: Pipeline; runs: Run[] }) {
  if (runs.length === 0) return <p class="muted">No runs yet.</p>;
  const keys = pipeline.plan.tasks.map((t) => t.key);
  const shown = keys.slice(0, MATRIX_COLUMNS);
  const runHref = (r: Run, task?: string) => href(`/pipelines/${pipeline.id}/runs/${r.id}`, { task });
  return (
    <div class="matrix-wrap">
      <table class="matrix" aria-label="Recent runs by task">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Status</th>
            {shown.map((k) => <th key={k} scope="col" class="task-col"><span title={k}>{k}</span></th>)}
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => {
            const tasks = new Map(r.tasks.map((t) => [t.key, t]));
            return (
              <tr key={r.id} data-run-id={r.id}>
                <th scope="row"><a href={runHref(r)}>{new Date(r.created_at).toLocaleString()}</a></th>
                <td><StatusWord status={r.status} /></td>
                {shown.map((k) => {
                  const t = tasks.get(k);
                  if (!t) return <td key={k} class="cell st-none" />;
                  const jobs = latestJobs(t);
                  const one = !t.for_each ? jobs.get(null) : undefined;
                  const link = one ? href(`/job/${one.id}`) : runHref(r, k);
                  const n = progressOf(t);
                  return (
                    <td key={k} class={`cell st-${t.status}`} data-task={k} data-status={t.status}>
                      <a href={link} aria-label={`${k}: ${t.status}${n ? ` (${n})` : ''}`} title={`${k}: ${t.status}${n ? ` (${n})` : ''}`}>{n ?? ''}</a>
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
      {keys.length > shown.length && <p class="muted small">The first {shown.length} of {keys.length} tasks; each run's page shows them all.</p>}
    </div>
  );
}
