/**
 * One job: status and timings, live per-cell progress with streaming output
 * (SSE `events`), Cancel / Rerun / Edit & rerun / Download, the error with its
 * coloured traceback, the scraps, and the executed notebook rendered. A job of
 * another user (or an unknown id) shows "Job not found" and nothing else.
 */
import { ShareButton, ShareLinkButton } from '../share';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, cancelJob, conf, getJob, isTerminal, jobParameters, outputNotebook, submitJob, url, type Job, type Notebook, type Output } from '../api';
import { ErrorBox, href, Loading, Status, When, seconds, shortValue } from '../common';
import { NotebookView } from '../render/notebook';
import { OutputView, Truncated } from '../render/outputs';

interface LiveCell {
  index: number;
  state: 'running' | 'completed' | 'failed' | 'skipped';
  durationMs: number | null;
  outputs: Output[];
}

function applyOutput(cells: Map<number, LiveCell>, index: number, output: Output, appended: boolean) {
  const cell = cells.get(index) ?? { index, state: 'running' as const, durationMs: null, outputs: [] };
  const last = cell.outputs[cell.outputs.length - 1];
  if (appended && last && last.output_type === 'stream' && last.name === output.name) {
    const text = (Array.isArray(last.text) ? last.text.join('') : last.text ?? '') + (Array.isArray(output.text) ? output.text.join('') : output.text ?? '');
    cell.outputs = [...cell.outputs.slice(0, -1), { ...last, text }];
  } else cell.outputs = [...cell.outputs, output];
  cells.set(index, { ...cell });
}

function hubLabLink(job: Job): string | null {
  if (!conf.hub || !job.output_path) return null;
  const path = job.output_path.split('/').map(encodeURIComponent).join('/');
  const server = job.server_name ? `${encodeURIComponent(job.server_name)}/` : '';
  return `${conf.hub.host}${conf.hub.base_url}user/${encodeURIComponent(job.username)}/${server}lab/tree/${path}`;
}

export function JobPage({ id }: { id: string }) {
  const [job, setJob] = useState<Job | null>(null);
  const [notFound, setNotFound] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [cells, setCells] = useState<Map<number, LiveCell>>(new Map());
  const [nb, setNb] = useState<Notebook | null>(null);
  const [nbError, setNbError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);

  useEffect(() => {
    setJob(null);
    setNotFound(false);
    setError(null);
    setCells(new Map());
    setNb(null);
    setNbError(null);
    let es: EventSource | null = null;
    let live = true;
    const live_cells = new Map<number, LiveCell>();
    getJob(id).then(
      (j) => {
        if (!live) return;
        setJob(j);
        if (isTerminal(j.status)) return;
        es = new EventSource(url(`api/v1/jobs/${encodeURIComponent(id)}/events`));
        // What ran before this page opened: from the partial output notebook (saved while the job runs).
        if (j.status === 'running' && j.output_path) {
          outputNotebook(id).then(
            (partial) => {
              if (!live) return;
              partial.cells.forEach((c, i) => {
                const st = c.metadata?.papermill?.status;
                if (live_cells.has(i) || (st !== 'completed' && st !== 'failed' && st !== 'running')) return;
                const duration = c.metadata?.papermill?.duration;
                live_cells.set(i, { index: i, state: st, durationMs: typeof duration === 'number' ? duration * 1000 : null, outputs: c.outputs ?? [] });
              });
              setCells(new Map(live_cells));
            },
            () => undefined,
          );
        }
        es.addEventListener('state', (e) => {
          const d = JSON.parse((e as MessageEvent).data) as { job: Job };
          setJob(d.job);
          if (isTerminal(d.job.status)) es?.close();
        });
        es.addEventListener('cell_started', (e) => {
          const d = JSON.parse((e as MessageEvent).data) as { cell_index: number };
          live_cells.set(d.cell_index, { index: d.cell_index, state: 'running', durationMs: null, outputs: live_cells.get(d.cell_index)?.outputs ?? [] });
          setCells(new Map(live_cells));
        });
        es.addEventListener('cell_finished', (e) => {
          const d = JSON.parse((e as MessageEvent).data) as { cell_index: number; status: LiveCell['state']; duration_ms: number };
          const c = live_cells.get(d.cell_index) ?? { index: d.cell_index, state: 'running', durationMs: null, outputs: [] };
          live_cells.set(d.cell_index, { ...c, state: d.status, durationMs: d.duration_ms });
          setCells(new Map(live_cells));
        });
        es.addEventListener('output', (e) => {
          const d = JSON.parse((e as MessageEvent).data) as { cell_index: number; output: Output; appended: boolean };
          applyOutput(live_cells, d.cell_index, d.output, d.appended);
          setCells(new Map(live_cells));
        });
      },
      (e) => {
        if (!live) return;
        if (e instanceof ApiError && e.status === 404) setNotFound(true);
        else setError(e);
      },
    );
    // A backstop for missed events (a proxy buffering the stream, a dropped connection): poll while live.
    const poll = setInterval(() => {
      getJob(id).then(
        (j) => {
          if (!live) return;
          setJob((cur) => (cur && cur.status === j.status && cur.progress.cells_done === j.progress.cells_done ? cur : j));
          if (isTerminal(j.status)) {
            es?.close();
            clearInterval(poll);
          }
        },
        () => undefined,
      );
    }, 5000);
    return () => {
      live = false;
      es?.close();
      clearInterval(poll);
    };
  }, [id]);

  const terminal = job ? isTerminal(job.status) : false;
  useEffect(() => {
    if (!job || !terminal || !job.output_path) return;
    let live = true;
    outputNotebook(job.id).then(
      (n) => live && setNb(n),
      (e) => live && setNbError(e),
    );
    return () => {
      live = false;
    };
  }, [job?.id, terminal]);

  if (notFound) {
    return (
      <main>
        <h1>Job not found</h1>
        <p>There is no job {id} that you can see.</p>
      </main>
    );
  }
  if (error) return <main><ErrorBox error={error} /></main>;
  if (!job) return <main><Loading /></main>;

  const act = async (fn: () => Promise<unknown>) => {
    setActionError(null);
    try {
      await fn();
    } catch (e) {
      setActionError(e);
    }
  };
  const rerun = () =>
    act(async () => {
      const j = await submitJob({
        notebook: job.notebook,
        username: job.username,
        // Fetched again with each number's JSON text kept (2.0 stays a float).
        parameters: await jobParameters(job.id),
        ...(job.kernel ? { kernel: job.kernel } : {}),
        ...(job.timeout_s ? { timeout_s: job.timeout_s } : {}),
        ...(job.cell_timeout_s ? { cell_timeout_s: job.cell_timeout_s } : {}),
        ...(job.target ? { target: job.target } : {}),
        ...(job.server_name ? { server_name: job.server_name } : {}),
      });
      location.hash = href(`/job/${j.id}`);
    });
  const lab = hubLabLink(job);
  const live = [...cells.values()].sort((a, b) => a.index - b.index);
  const params = Object.entries(job.parameters);
  const scraps = Object.entries(job.result ?? {});
  // The notebook's own error output keeps the kernel's colours; the job record's traceback is the fallback.
  const errorOutput = nb?.cells.flatMap((c) => c.outputs ?? []).find((o) => o.output_type === 'error');
  const traceback = errorOutput?.traceback ?? job.error?.traceback ?? [];

  return (
    <main>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href('/jobs')}>Jobs</a> / {job.id}
      </nav>
      <h1>
        <a href={href('/notebook', { path: job.notebook })}>{job.notebook}</a>
      </h1>
      <div class="job-status" aria-live="polite">
        Status: <Status status={job.status} />
        {job.cancel_requested && !terminal && <span class="muted small"> (cancelling)</span>}
        <span class="muted small">
          {' '}
          {job.progress.cells_done}/{job.progress.cells_total || '?'} cells
        </span>
      </div>
      <dl class="facts">
        <dt>User</dt><dd>{job.username}</dd>
        <dt>Submitted</dt><dd><When iso={job.created_at} /> by {job.triggered_by} ({job.source})</dd>
        <dt>Started</dt><dd><When iso={job.started_at} /></dd>
        <dt>Finished</dt><dd><When iso={job.finished_at} /></dd>
        <dt>Duration</dt><dd>{seconds(job.duration_s)}</dd>
        <dt>Kernel</dt><dd>{job.kernel ?? "the notebook's"}{job.target === 'user-server' && <> · in {job.server_name ? `the server “${job.server_name}”` : 'the user\'s server'}</>}</dd>
        <dt>Output</dt><dd>{job.output_path ?? '—'}{lab && <> · <a href={lab} target="_blank" rel="noopener">Open in JupyterLab</a></>}</dd>
      </dl>
      <div class="actions">
        {!terminal && <button type="button" onClick={() => act(() => cancelJob(job.id).then(setJob))}>Cancel</button>}
        <button type="button" onClick={rerun}>Rerun</button>
        <button type="button" onClick={() => (location.hash = href('/notebook', { path: job.notebook, from: job.id }))}>Edit &amp; rerun</button>
        {job.output_path && (
          // The answer is an attachment: the browser downloads it and stays on this page.
          <button type="button" onClick={() => location.assign(url(`api/v1/jobs/${encodeURIComponent(job.id)}/output`))}>Download</button>
        )}
        <button type="button" onClick={() => (location.hash = href('/compare', { a: job.id }))}>Compare…</button>
        <ShareButton kind="jobs" id={job.id} label={`job ${job.id}`} />
        {terminal && job.output_path && <ShareLinkButton jobId={job.id} />}
      </div>
      {actionError != null && <ErrorBox error={actionError} />}
      {params.length > 0 && (
        <section>
          <h2>Parameters</h2>
          <table class="kv"><tbody>{params.map(([k, v]) => <tr key={k}><th scope="row">{k}</th><td><code>{shortValue(v)}</code></td></tr>)}</tbody></table>
        </section>
      )}
      {job.error && (
        <section class="job-error">
          <h2>Error{job.error.cell_index != null ? ` in cell ${job.error.cell_index}` : ''}</h2>
          <p><strong>{job.error.ename}</strong>: {job.error.evalue}</p>
          {traceback.length > 0 && <Truncated text={traceback.join('\n')} className="out-error" />}
        </section>
      )}
      {scraps.length > 0 && (
        <section>
          <h2>Results</h2>
          <table class="kv scraps"><tbody>{scraps.map(([k, v]) => <tr key={k}><th scope="row">{k}</th><td><code>{shortValue(v)}</code></td></tr>)}</tbody></table>
        </section>
      )}
      {!terminal && (
        <section>
          <h2>Progress</h2>
          {live.length === 0 ? <p class="muted">{job.status === 'queued' ? 'Waiting for a kernel…' : 'Starting…'}</p> : (
            <ol class="progress" aria-label="Cell progress">
              {live.map((c) => (
                <li key={c.index} class={`cell-progress cell-${c.state}`}>
                  <span>Cell {c.index}</span> <span class="cell-state">{c.state}</span>
                  {c.durationMs !== null && <span class="muted small"> {(c.durationMs / 1000).toFixed(2)} s</span>}
                  {c.outputs.map((o, i) => <OutputView key={i} output={o} />)}
                </li>
              ))}
            </ol>
          )}
        </section>
      )}
      {terminal && (
        <section>
          <h2>Output notebook</h2>
          {nbError ? <ErrorBox error={nbError} /> : !job.output_path ? <p class="muted">No output notebook.</p> : !nb ? <Loading /> : <NotebookView nb={nb} />}
        </section>
      )}
    </main>
  );
}
