/**
 * The Schedules pages: the list (next run, last result, pause/resume), one
 * schedule (its settings, "Run now", pause/resume, edit, delete, its
 * history of runs and its notifications, deliveries.tsx). Create and edit are in schedule-form.tsx.
 */
import { useEffect, useState } from 'preact/hooks';
import { deleteSchedule, getSchedule, listJobs, isTerminal, listSchedules, runScheduleNow, scheduleRuns, setPaused, type Schedule } from '../api';
import { ErrorBox, href, Loading, Status, When, seconds, useApp, useLoad } from '../common';
import { inZone } from '../cron-presets';
import { Deliveries } from '../deliveries';
import { ShareButton, SharedFilter } from '../share';

/** The schedule's latest job (cron fire, retry or "run now"); a fire skipped for overlap has none. */
function LastResult({ s }: { s: Schedule }) {
  const { me } = useApp();
  // Not by owner for others: a schedule shared with the caller lists through its grants.
  const last = useLoad(() => listJobs({ username: me.admin ? s.owner : null, schedule_id: s.id, limit: 1 }), [s.id], [s.updated_at]);
  const job = last.value?.jobs[0];
  if (last.error) return <span class="muted">?</span>;
  if (!last.value) return <span class="muted">…</span>;
  if (!job) return <span class="muted">{s.last_run ? 'skipped' : 'never ran'}</span>;
  return <a href={href(`/job/${job.id}`)} aria-label={`last run ${job.status}`}><Status status={job.status} /></a>;
}

function PauseButton({ s, onChange }: { s: Schedule; onChange(s: Schedule): void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const toggle = async () => {
    setBusy(true);
    setError(null);
    try {
      onChange(await setPaused(s.id, !s.paused));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" disabled={busy} aria-label={`${s.paused ? 'Resume' : 'Pause'} ${s.name}`} onClick={toggle}>{s.paused ? 'Resume' : 'Pause'}</button>
      {error != null && <ErrorBox error={error} />}
    </>
  );
}

const NextRun = ({ s }: { s: Schedule }) =>
  s.paused ? <span class="status status-cancelled">paused</span> : s.next_run_at ? <time dateTime={s.next_run_at} title={s.next_run_at}>{inZone(s.next_run_at, s.timezone)}</time> : <span class="muted">no more runs</span>;

export function SchedulesPage() {
  const { me, user } = useApp();
  const [shared, setShared] = useState(false);
  const list = useLoad(() => listSchedules(me.admin && !shared ? user : null, shared), [user, shared]);
  const [rows, setRows] = useState<Schedule[] | null>(null);
  useEffect(() => setRows(list.value?.schedules ?? null), [list.value]);
  const replace = (n: Schedule) => setRows((r) => r && r.map((x) => (x.id === n.id ? n : x)));
  return (
    <main>
      <h1>Schedules</h1>
      <p class="filters"><a class="button primary" href={href('/schedules/new', { user })}>New schedule</a> <SharedFilter shared={shared} onChange={setShared} /></p>
      {list.error ? <ErrorBox error={list.error} /> : !rows ? <Loading /> : rows.length === 0 ? <p>{shared ? 'Nothing is shared with you.' : 'No schedules yet. Open a notebook and press "Schedule…", or create one here.'}</p> : (
        <table class="jobs schedules">
          <thead><tr><th scope="col">Name</th><th scope="col">Notebook</th><th scope="col">When</th><th scope="col">Next run</th><th scope="col">Last result</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {rows.map((s) => (
              <tr key={s.id} data-schedule-id={s.id}>
                <td><a href={href(`/schedules/${s.id}`)}>{s.name}</a>{s.owner !== me.name && <span class="muted small"> · {s.owner}</span>}</td>
                <td>{s.pipeline_id ? <a href={href(`/pipelines/${s.pipeline_id}`)}>pipeline {s.pipeline_id}</a> : s.notebook}</td>
                <td><code>{s.cron}</code> <span class="muted small">{s.timezone}</span></td>
                <td><NextRun s={s} /></td>
                <td><LastResult s={s} /></td>
                <td><PauseButton s={s} onChange={replace} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}

export function SchedulePage({ id }: { id: string }) {
  const loaded = useLoad(() => getSchedule(id), [id]);
  const [s, setS] = useState<Schedule | null>(null);
  useEffect(() => setS(loaded.value ?? null), [loaded.value]);
  const runs = useLoad(() => scheduleRuns(id), [id]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const live = (runs.value?.jobs ?? []).some((j) => !isTerminal(j.status));
  useEffect(() => {
    if (!live) return;
    const t = setInterval(() => (runs.reload(), loaded.reload()), 2000);
    return () => clearInterval(t);
  }, [live, runs.value]);

  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const runNow = () => act(async () => (await runScheduleNow(id), runs.reload(), loaded.reload()));
  const remove = () => act(async () => {
    if (!confirm(`Delete schedule ${s!.name}? Its jobs stay.`)) return;
    await deleteSchedule(id);
    location.hash = href('/schedules');
  });

  if (loaded.error) return <main><ErrorBox error={loaded.error} /></main>;
  if (!s) return <main><Loading /></main>;
  return (
    <main>
      <nav class="crumbs" aria-label="Breadcrumb"><a href={href('/schedules')}>Schedules</a> / {s.name}</nav>
      <h1>{s.name}</h1>
      <div class="actions">
        <button type="button" class="primary" disabled={busy} onClick={runNow}>Run now</button>
        <PauseButton s={s} onChange={setS} />
        <a class="button" href={href(`/schedules/${s.id}/edit`)}>Edit</a>
        <ShareButton kind="schedules" id={s.id} label={s.name} />
        <a class="button" href={href('/jobs', { schedule: s.id, all: null })}>Jobs</a>
        <button type="button" disabled={busy} onClick={remove}>Delete</button>
      </div>
      {error != null && <ErrorBox error={error} />}
      <dl class="facts">
        {s.pipeline_id ? (
          <><dt>Pipeline</dt><dd><a href={href(`/pipelines/${s.pipeline_id}`)}>{s.pipeline_id}</a> ({s.owner})</dd></>
        ) : (
          <><dt>Notebook</dt><dd><a href={href('/notebook', { path: s.notebook })}>{s.notebook}</a> ({s.owner})</dd></>
        )}
        <dt>Cron</dt><dd><code>{s.cron}</code> in {s.timezone}</dd>
        <dt>Next run</dt><dd><NextRun s={s} /></dd>
        <dt>Last result</dt><dd><LastResult key={`${runs.value?.jobs[0]?.id}-${runs.value?.jobs[0]?.status}`} s={s} /></dd>
        <dt>Parameters</dt><dd>{Object.keys(s.parameters).length ? <code>{JSON.stringify(s.parameters)}</code> : <span class="muted">the notebook's defaults</span>}</dd>
        <dt>Overlap</dt><dd>{s.overlap}{s.overlap === 'allow' ? ` (up to ${s.max_concurrent})` : ''}</dd>
        <dt>Catch-up</dt><dd>{s.catchup}{s.catchup === 'none' && s.misfire_grace_s !== null ? ` (still runs up to ${s.misfire_grace_s} s late)` : ''}</dd>
        <dt>Retries</dt><dd>{s.max_retries} (backoff {s.retry_backoff_s} s)</dd>
        <dt>Notify</dt><dd>{s.notify ? `${[s.notify.webhook_url, ...(s.notify.email ?? [])].filter(Boolean).join(', ')} on ${(s.notify.on ?? []).join(', ')}` : <span class="muted">none</span>}</dd>
        <dt>Counts</dt><dd>{s.fires} fired, {s.missed_skipped} missed, {s.overlap_skipped} skipped for overlap, {s.retries} retries</dd>
      </dl>
      <section>
        <h2>History</h2>
        {runs.error ? <ErrorBox error={runs.error} /> : !runs.value ? <Loading /> : runs.value.jobs.length === 0 ? <p class="muted">No runs yet.</p> : (
          <table class="jobs history">
            <thead><tr><th scope="col">Status</th><th scope="col">Scheduled for</th><th scope="col">Attempt</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Job</th></tr></thead>
            <tbody>
              {runs.value.jobs.map((j) => (
                <tr key={j.id} data-job-id={j.id}>
                  <td><Status status={j.status} /></td>
                  <td>{j.scheduled_for ? inZone(j.scheduled_for, s.timezone) : <span class="muted">run now</span>}</td>
                  <td>{j.attempt}</td>
                  <td><When iso={j.started_at ?? j.created_at} /></td>
                  <td>{seconds(j.duration_s)}</td>
                  <td><a href={href(`/job/${j.id}`)}>{j.id}</a></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {runs.value?.next_cursor && <p class="small"><a href={href('/jobs', { schedule: s.id })}>All runs of this schedule</a></p>}
      </section>
      {s.notify && <Deliveries kind="schedules" id={s.id} />}
    </main>
  );
}
