/**
 * Two runs of one notebook side by side: the parameters and results that
 * differ (highlighted), per-cell durations, and the cells whose text output
 * changed. With only `a`, lists the other runs of that notebook to pick `b`.
 */
import { getJob, joinText, listJobs, outputNotebook, type Cell, type Job, type Notebook } from '../api';
import { ErrorBox, href, Loading, Status, When, shortValue, useLoad } from '../common';

function cellText(c: Cell | undefined): string {
  if (!c) return '';
  return (c.outputs ?? [])
    .map((o) => (o.output_type === 'stream' ? joinText(o.text) : o.output_type === 'error' ? `${o.ename}: ${o.evalue}` : joinText((o.data?.['text/plain'] as string | string[] | undefined) ?? '')))
    .join('');
}

function DiffTable({ caption, a, b }: { caption: string; a: Record<string, unknown>; b: Record<string, unknown> }) {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  if (keys.length === 0) return <p class="muted">No {caption.toLowerCase()}.</p>;
  return (
    <table class="compare">
      <caption>{caption}</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Run A</th><th scope="col">Run B</th></tr></thead>
      <tbody>
        {keys.map((k) => {
          const differs = JSON.stringify(a[k]) !== JSON.stringify(b[k]);
          return (
            <tr key={k} class={differs ? 'differs' : ''} data-name={k}>
              <th scope="row">{k}{differs && <span class="sr-only"> (differs)</span>}</th>
              <td><code>{k in a ? shortValue(a[k]) : '—'}</code></td>
              <td><code>{k in b ? shortValue(b[k]) : '—'}</code></td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Cells({ a, b }: { a: Notebook | null; b: Notebook | null }) {
  if (!a || !b) return <p class="muted">Both output notebooks are needed to compare cells.</p>;
  const n = Math.max(a.cells.length, b.cells.length);
  const rows = [];
  for (let i = 0; i < n; i++) {
    const ca = a.cells[i];
    const cb = b.cells[i];
    if ((ca?.cell_type ?? cb?.cell_type) !== 'code') continue;
    const ta = cellText(ca);
    const tb = cellText(cb);
    const da = ca?.metadata?.papermill?.duration;
    const db = cb?.metadata?.papermill?.duration;
    const changed = ta !== tb;
    rows.push(
      <tr key={i} class={changed ? 'differs' : ''}>
        <th scope="row">{i}</th>
        <td>{typeof da === 'number' ? `${da.toFixed(2)} s` : '—'}</td>
        <td>{typeof db === 'number' ? `${db.toFixed(2)} s` : '—'}</td>
        <td>{changed ? <div class="side"><pre>{ta.slice(0, 5000)}</pre><pre>{tb.slice(0, 5000)}</pre></div> : <span class="muted">same</span>}</td>
      </tr>,
    );
  }
  return (
    <table class="compare cells">
      <caption>Cells</caption>
      <thead><tr><th scope="col">Cell</th><th scope="col">A duration</th><th scope="col">B duration</th><th scope="col">Text output</th></tr></thead>
      <tbody>{rows}</tbody>
    </table>
  );
}

function Pick({ a }: { a: Job }) {
  const runs = useLoad(() => listJobs({ username: a.username, notebook: a.notebook, limit: 50 }), [a.id]);
  if (runs.error) return <ErrorBox error={runs.error} />;
  if (!runs.value) return <Loading />;
  const others = runs.value.jobs.filter((j) => j.id !== a.id);
  if (others.length === 0) return <p>No other run of {a.notebook} to compare with.</p>;
  return (
    <ul class="runs">
      {others.map((j) => (
        <li key={j.id}>
          <Status status={j.status} /> <a href={href('/compare', { a: a.id, b: j.id })}>Compare with {j.id}</a> <When iso={j.created_at} />
        </li>
      ))}
    </ul>
  );
}

export function ComparePage({ a, b }: { a: string | null; b: string | null }) {
  const data = useLoad(async () => {
    if (!a) return null;
    const ja = await getJob(a);
    const jb = b ? await getJob(b) : null;
    const [na, nb] = await Promise.all([outputNotebook(ja.id).catch(() => null), jb ? outputNotebook(jb.id).catch(() => null) : null]);
    return { ja, jb, na, nb };
  }, [a, b]);
  if (!a) return <main><h1>Compare</h1><p>Open a job and choose "Compare…" to pick the run to compare it with.</p></main>;
  if (data.error) return <main><h1>Compare</h1><ErrorBox error={data.error} /></main>;
  if (!data.value) return <main><h1>Compare</h1><Loading /></main>;
  const { ja, jb, na, nb } = data.value;
  return (
    <main>
      <h1>Compare runs of {ja.notebook}</h1>
      {!jb ? <Pick a={ja} /> : (
        <>
          <table class="compare heads">
            <thead><tr><th scope="col"></th><th scope="col">Run A</th><th scope="col">Run B</th></tr></thead>
            <tbody>
              <tr><th scope="row">Job</th><td><a href={href(`/job/${ja.id}`)}>{ja.id}</a></td><td><a href={href(`/job/${jb.id}`)}>{jb.id}</a></td></tr>
              <tr><th scope="row">Status</th><td><Status status={ja.status} /></td><td><Status status={jb.status} /></td></tr>
              <tr><th scope="row">Submitted</th><td><When iso={ja.created_at} /></td><td><When iso={jb.created_at} /></td></tr>
              <tr><th scope="row">Duration</th><td>{ja.duration_s ?? '—'} s</td><td>{jb.duration_s ?? '—'} s</td></tr>
            </tbody>
          </table>
          {ja.notebook !== jb.notebook && <p class="muted">These are runs of different notebooks.</p>}
          <DiffTable caption="Parameters" a={ja.parameters} b={jb.parameters} />
          <DiffTable caption="Results" a={ja.result ?? {}} b={jb.result ?? {}} />
          <Cells a={na} b={nb} />
        </>
      )}
    </main>
  );
}
