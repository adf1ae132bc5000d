/**
 * One pipeline run: its graph with live status colours and `n/N` on for_each
 * tasks (the run's SSE events, batched; polling when the stream cannot be
 * opened), Cancel and Repair (the whole run, one task, or one item), each
 * task's jobs, and for a sweep its results table and chart.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { isTerminal } from '../api';
import { ErrorBox, href, Loading, shortValue, useLoad, When } from '../common';
import {
  applyEvent,
  cancelRun,
  getPipeline,
  getRun,
  latestJobs,
  progressOf,
  REPAIRABLE,
  repairRun,
  runEnded,
  runEventsUrl,
  type Run,
  type RunEvent,
  type RunTask,
} from '../pipeline-api';
import { PipelineGraph } from '../pipeline-graph';
import { StatusWord } from '../pipeline-parts';
import { SweepResults } from '../sweep-results';

/** A live stream silent this long (no event, no end) is backed by a read of the run. */
const QUIET_MS = 10_000;

const settled = (r: Run) => runEnded(r.status) && r.tasks.every((t) => t.jobs.every((j) => isTerminal(j.status)));

/** The run, kept current: its event stream while it runs (events applied in batches), else polling. */
function useLiveRun(pipelineId: string, runId: string, epoch: number): { run: Run | null; error: unknown; mode: string; set(r: Run): void } {
  const [run, setRun] = useState<Run | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [mode, setMode] = useState('live');
  useEffect(() => {
    let live = true;
    let es: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let queue: RunEvent[] = [];
    const flush = () => {
      timer = undefined;
      const evs = queue;
      queue = [];
      setRun((r) => evs.reduce<Run | null>((cur, ev) => (ev.type === 'run' ? ev.run : cur ? applyEvent(cur, ev) : cur), r));
    };
    const poll = async () => {
      setMode('polling');
      try {
        const r = await getRun(pipelineId, runId);
        if (!live) return;
        setRun(r);
        setError(null);
        if (!settled(r)) timer = setTimeout(poll, 1500);
        else setMode('ended');
      } catch (e) {
        if (!live) return;
        setError(e);
        timer = setTimeout(poll, 4000);
      }
    };
    // A stream that stays silent (a buffering proxy) while the run goes on: the run is read now and then anyway.
    let heard = Date.now();
    const watchdog = setInterval(() => {
      if (es && Date.now() - heard > QUIET_MS) {
        heard = Date.now();
        getRun(pipelineId, runId).then((r) => live && setRun(r), () => undefined);
      }
    }, QUIET_MS / 2);
    if (typeof EventSource === 'undefined') void poll();
    else {
      es = new EventSource(runEventsUrl(pipelineId, runId));
      const on = (e: Event) => {
        heard = Date.now();
        const ev = JSON.parse((e as MessageEvent<string>).data) as RunEvent;
        queue.push(ev);
        if (ev.type === 'run' && settled(ev.run)) {
          es?.close();
          es = null;
          setMode('ended');
        }
        // Many items can end at once: one render per batch, not per event.
        timer ??= setTimeout(flush, 40);
      };
      for (const t of ['run', 'task', 'item']) es.addEventListener(t, on);
      es.onerror = () => {
        // CLOSED: refused, or the run had ended (204); CONNECTING: the browser reconnects with Last-Event-ID.
        if (es?.readyState !== EventSource.CLOSED) return;
        es = null;
        if (live && !timer) void poll();
      };
    }
    return () => {
      live = false;
      clearInterval(watchdog);
      es?.close();
      if (timer) clearTimeout(timer);
    };
  }, [pipelineId, runId, epoch]);
  return { run, error, mode, set: setRun };
}

export function RunPage({ pipelineId, runId, task: initialTask }: { pipelineId: string; runId: string; task: string | null }) {
  const pipeline = useLoad(() => getPipeline(pipelineId), [pipelineId]);
  const [epoch, setEpoch] = useState(0);
  const { run, error, mode, set } = useLiveRun(pipelineId, runId, epoch);
  const [selected, setSelected] = useState<string | null>(initialTask);
  const [busy, setBusy] = useState(false);
  const [actError, setActError] = useState<unknown>(null);

  const shape = run ? run.tasks.map((t) => t.key).join(',') : '';
  const sweeps = useMemo(() => (run ? run.tasks.filter((t) => t.for_each).map((t) => t.key) : []), [shape]);
  const [sweepTask, setSweepTask] = useState<string | null>(null);
  const shownSweep = sweepTask && sweeps.includes(sweepTask) ? sweepTask : (sweeps.find((k) => k === selected) ?? sweeps[0] ?? null);

  const act = async (fn: () => Promise<Run>, reopen: boolean) => {
    setBusy(true);
    setActError(null);
    try {
      set(await fn());
      if (reopen) setEpoch((e) => e + 1);
    } catch (e) {
      setActError(e);
    } finally {
      setBusy(false);
    }
  };
  const cancel = () => act(() => cancelRun(pipelineId, runId), false);
  const repair = (body: { tasks?: string[]; items?: Record<string, number[]> }) => act(() => repairRun(pipelineId, runId, body), true);

  if (!run) return <main>{error ? <ErrorBox error={error} /> : <Loading />}</main>;
  const ended = runEnded(run.status);
  const repairable = ended && run.tasks.some((t) => REPAIRABLE.includes(t.status));
  const graph = run.tasks.map((t) => ({ key: t.key, deps: t.depends_on, status: t.status, sub: progressOf(t) ?? t.notebook }));
  const sel = run.tasks.find((t) => t.key === selected) ?? null;
  const sweepState = run.tasks.find((t) => t.key === shownSweep);
  const name = pipeline.value?.name ?? pipelineId;
  return (
    <main class="wide">
      <nav class="crumbs" aria-label="Breadcrumb"><a href={href('/pipelines')}>Pipelines</a> / <a href={href(`/pipelines/${pipelineId}`)}>{name}</a> / run {run.id}</nav>
      <h1>Run of {name}</h1>
      <p class="run-status">
        <StatusWord status={run.status} /> <span class="muted small">started <When iso={run.started_at ?? run.created_at} />{run.finished_at && <>, ended <When iso={run.finished_at} /></>}
        {run.repairs.length > 0 && ` · repaired ${run.repairs.length}×`}{mode !== 'ended' && ` · ${mode === 'live' ? 'live' : 'refreshing'}`}</span>
      </p>
      <div class="actions">
        {!ended && <button type="button" disabled={busy || run.cancel_requested} onClick={cancel}>{run.cancel_requested ? 'Cancelling…' : 'Cancel'}</button>}
        {ended && <button type="button" disabled={busy || !repairable} onClick={() => repair({})} title="Re-run the failed, timed-out, cancelled and upstream-failed tasks (only the failed items of for_each tasks), and what is downstream">Repair</button>}
        <a class="button" href={href(`/pipelines/${pipelineId}`)}>Pipeline</a>
        <a class="button" href={href(`/pipelines/${pipelineId}/edit`)}>Edit pipeline</a>
      </div>
      {actError != null && <ErrorBox error={actError} />}
      {Object.keys(run.parameters).length > 0 && <p class="small">Parameters: <code>{shortValue(run.parameters)}</code></p>}
      <PipelineGraph tasks={graph} label={`Graph of run ${run.id}`} selected={selected} onSelect={setSelected} />
      {sel && <TaskPanel t={sel} ended={ended} busy={busy} onRepair={repair} onClose={() => setSelected(null)} />}
      {shownSweep && sweepState && (
        <section>
          <h2>Results of {shownSweep}</h2>
          {sweeps.length > 1 && (
            <label class="small">Task{' '}
              <select value={shownSweep} onChange={(e) => setSweepTask((e.target as HTMLSelectElement).value)}>
                {sweeps.map((k) => <option key={k} value={k}>{k}</option>)}
              </select>
            </label>
          )}
          <SweepResults
            pipelineId={pipelineId}
            runId={runId}
            task={shownSweep}
            version={`${run.status}-${run.repairs.length}-${sweepState.status}-${Math.floor((sweepState.items_done ?? 0) / Math.max(1, Math.ceil((sweepState.items_total ?? 1) / 10)))}`}
            actions={(r) => ended && r.item_index !== null && ['failed', 'timed_out', 'cancelled'].includes(r.status) ? <> <button type="button" class="small" disabled={busy} onClick={() => repair({ items: { [shownSweep]: [r.item_index!] } })} aria-label={`Repair item ${r.item_index}`}>Repair</button></> : null}
          />
        </section>
      )}
      <section>
        <h2>Tasks</h2>
        <TaskTable run={run} onSelect={setSelected} />
      </section>
    </main>
  );
}

/** Tasks listed at first (the graph shows them all). */
const TABLE_TASKS = 100;

function TaskTable({ run, onSelect }: { run: Run; onSelect(k: string): void }) {
  const [all, setAll] = useState(false);
  const tasks = all ? run.tasks : run.tasks.slice(0, TABLE_TASKS);
  return (
    <>
    <table class="jobs tasks">
      <thead><tr><th scope="col">Task</th><th scope="col">Status</th><th scope="col">Items</th><th scope="col">Jobs</th><th scope="col">Notebook</th></tr></thead>
      <tbody>
        {tasks.map((t) => {
          const latest = [...latestJobs(t).values()];
          return (
            <tr key={t.key} data-task={t.key}>
              <td><button type="button" class="link" onClick={() => onSelect(t.key)}>{t.key}</button></td>
              <td><StatusWord status={t.status} />{t.error && <span class="field-error small" title={t.error}> {t.error}</span>}</td>
              <td>{progressOf(t) ?? ''}</td>
              <td>
                {t.for_each ? (
                  <span class="small">{latest.length} job{latest.length === 1 ? '' : 's'}</span>
                ) : (
                  latest.map((j) => <a key={j.id} href={href(`/job/${j.id}`)} class={`status status-${j.status}`}>{j.status}{j.attempt > 1 ? ` #${j.attempt}` : ''}</a>)
                )}
              </td>
              <td class="small">{t.notebook}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
    {!all && run.tasks.length > TABLE_TASKS && <button type="button" class="more" onClick={() => setAll(true)}>Show all {run.tasks.length} tasks</button>}
    </>
  );
}

/** Items listed at most in a task's panel (a sweep's table shows them all). */
const PANEL_JOBS = 200;

function TaskPanel({ t, ended, busy, onRepair, onClose }: { t: RunTask; ended: boolean; busy: boolean; onRepair(b: { tasks?: string[]; items?: Record<string, number[]> }): void; onClose(): void }) {
  const [all, setAll] = useState(false);
  const jobs = all ? t.jobs : t.jobs.slice(0, PANEL_JOBS);
  return (
    <section class="task-panel" aria-label={`Task ${t.key}`}>
      <h2>
        Task {t.key} <StatusWord status={t.status} /> <button type="button" class="small" onClick={onClose} aria-label="Close the task">×</button>
      </h2>
      <dl class="facts">
        <dt>Notebook</dt><dd>{t.notebook}</dd>
        <dt>After</dt><dd>{t.depends_on.length ? t.depends_on.join(', ') : <span class="muted">nothing</span>} ({t.run_if})</dd>
        {t.for_each && <><dt>Items</dt><dd>{progressOf(t) ?? 'not yet known'}</dd></>}
        {t.error && <><dt>Error</dt><dd class="field-error">{t.error}</dd></>}
        <dt>Result</dt><dd>{t.result ? <code>{shortValue(t.result)}</code> : <span class="muted">none yet</span>}</dd>
      </dl>
      {ended && <div class="actions"><button type="button" disabled={busy} onClick={() => onRepair({ tasks: [t.key] })}>Repair {t.key}</button></div>}
      {t.jobs.length === 0 ? <p class="muted">No jobs.</p> : (
        <table class="jobs">
          <thead><tr><th scope="col">Item</th><th scope="col">Attempt</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Ended</th><th scope="col">Job</th></tr></thead>
          <tbody>
            {jobs.map((j) => (
              <tr key={j.id} data-job-id={j.id}>
                <td>{j.item_index ?? '—'}</td>
                <td>{j.attempt}</td>
                <td><span class={`status status-${j.status}`}>{j.status}</span></td>
                <td><When iso={j.started_at} /></td>
                <td><When iso={j.finished_at} /></td>
                <td><a href={href(`/job/${j.id}`)}>{j.id}</a></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!all && t.jobs.length > PANEL_JOBS && <button type="button" class="more" onClick={() => setAll(true)}>Show all {t.jobs.length} jobs</button>}
    </section>
  );
}
