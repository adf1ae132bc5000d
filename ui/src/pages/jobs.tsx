/** The job history: newest first, filters (status, notebook, schedule), cursor pages, rows refreshed while any is live. */
import { useEffect, useState } from 'preact/hooks';
import { isTerminal, listJobs, listSchedules, STATES } from '../api';
import { SharedFilter } from '../share';
import { ErrorBox, href, Loading, Status, When, seconds, useApp, useLoad } from '../common';

export function JobsPage({ params }: { params: URLSearchParams }) {
  const { me, user } = useApp();
  const status = params.get('status') ?? '';
  const notebook = params.get('notebook') ?? '';
  const schedule = params.get('schedule') ?? '';
  const all = me.admin && params.get('all') === '1';
  const shared = params.get('shared') === '1';
  const cursor = params.get('cursor') ?? '';
  const prev = params.getAll('prev');
  const jobs = useLoad(
    // A user (not an admin viewing someone's) names nobody: the server lists their own jobs and those shared with them.
    () => listJobs({ username: all || shared || !me.admin ? null : user, status, notebook, schedule_id: schedule, cursor, limit: 25, shared }),
    [user, status, notebook, schedule, cursor, all, shared],
  );
  const schedules = useLoad(() => listSchedules(all || !me.admin ? null : user), [user, all]);
  const [nbText, setNbText] = useState(notebook);
  useEffect(() => setNbText(notebook), [notebook]);

  const live = (jobs.value?.jobs ?? []).some((j) => !isTerminal(j.status));
  const others = all || shared || (jobs.value?.jobs ?? []).some((j) => j.username !== user);
  useEffect(() => {
    if (!live) return;
    const t = setInterval(jobs.reload, 2000);
    return () => clearInterval(t);
  }, [live, jobs.value]);

  const go = (over: Record<string, string | null>, keepPage = false) => {
    const p: Record<string, string | null> = { status, notebook, schedule, all: all ? '1' : null, shared: shared ? '1' : null, ...(keepPage ? { cursor } : {}), ...over };
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(p)) if (v) u.set(k, v);
    if (keepPage) for (const c of prev) u.append('prev', c);
    location.hash = `#/jobs${u.toString() ? `?${u}` : ''}`;
  };
  const nextPage = () => {
    const u = new URLSearchParams(params);
    u.set('cursor', jobs.value!.next_cursor!);
    u.append('prev', cursor || '-');
    location.hash = `#/jobs?${u}`;
  };
  const prevPage = () => {
    const u = new URLSearchParams(params);
    const stack = [...prev];
    const back = stack.pop()!;
    u.delete('prev');
    for (const c of stack) u.append('prev', c);
    if (back === '-') u.delete('cursor');
    else u.set('cursor', back);
    location.hash = `#/jobs?${u}`;
  };

  return (
    <main>
      <h1>Jobs</h1>
      <form class="filters" onSubmit={(e) => (e.preventDefault(), go({ notebook: nbText, cursor: null }))}>
        <label for="f-status">Status</label>
        <select id="f-status" value={status} onChange={(e) => go({ status: (e.target as HTMLSelectElement).value, cursor: null })}>
          <option value="">any</option>
          {STATES.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
        <label for="f-schedule">Schedule</label>
        <select id="f-schedule" value={schedule} onChange={(e) => go({ schedule: (e.target as HTMLSelectElement).value, cursor: null })}>
          <option value="">any</option>
          {schedule && !schedules.value?.schedules.some((s) => s.id === schedule) && <option value={schedule}>{schedule}</option>}
          {(schedules.value?.schedules ?? []).map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
        </select>
        <label for="f-notebook">Notebook</label>
        <input id="f-notebook" type="search" value={nbText} onInput={(e) => setNbText((e.target as HTMLInputElement).value)} placeholder="path, e.g. report.ipynb" />
        <button type="submit">Filter</button>
        <SharedFilter shared={shared} onChange={(v) => go({ shared: v ? '1' : null, cursor: null })} />
        {me.admin && (
          <label class="inline">
            <input type="checkbox" checked={all} onChange={(e) => go({ all: (e.target as HTMLInputElement).checked ? '1' : null, cursor: null })} /> All users
          </label>
        )}
      </form>
      {jobs.error ? <ErrorBox error={jobs.error} /> : !jobs.value ? <Loading /> : jobs.value.jobs.length === 0 ? <p>No jobs match.</p> : (
        <table class="jobs">
          <thead><tr><th scope="col">Status</th><th scope="col">Notebook</th>{others && <th scope="col">User</th>}<th scope="col">Submitted</th><th scope="col">Duration</th><th scope="col">Cells</th><th scope="col">Job</th></tr></thead>
          <tbody>
            {jobs.value.jobs.map((j) => (
              <tr key={j.id} data-job-id={j.id}>
                <td><Status status={j.status} /></td>
                <td>{j.username === user ? <a href={href('/notebook', { path: j.notebook })}>{j.notebook}</a> : j.notebook}</td>
                {others && <td>{j.username}</td>}
                <td><When iso={j.created_at} /></td>
                <td>{seconds(j.duration_s)}</td>
                <td>{j.progress.cells_done}/{j.progress.cells_total || '?'}</td>
                <td><a href={href(`/job/${j.id}`)}>{j.id}</a></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button type="button" disabled={prev.length === 0} onClick={prevPage}>Newer</button>
        <button type="button" disabled={!jobs.value?.next_cursor} onClick={nextPage}>Older</button>
      </div>
    </main>
  );
}
