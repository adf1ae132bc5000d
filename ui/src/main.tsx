/** The hubmill web UI: session check, header with navigation and the admin's user switch, hash routes. */
import 'katex/dist/katex.min.css';
import './styles.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, conf, setXsrf, url, type Me } from './api';
import { App, ErrorBox, href, Loading, useRoute } from './common';
import { ComparePage } from './pages/compare';
import { JobPage } from './pages/job';
import { JobsPage } from './pages/jobs';
import { NotebookPage } from './pages/notebook';
import { NotebooksPage } from './pages/notebooks';
import { PipelineFormPage } from './pages/pipeline-form';
import { RunPage } from './pages/pipeline-run';
import { PipelinePage, PipelinesPage } from './pages/pipelines';
import { ScheduleFormPage } from './pages/schedule-form';
import { SchedulePage, SchedulesPage } from './pages/schedules';
import { SignIn } from './pages/signin';

const USER_KEY = 'hubmill-ui-user';

function Pages({ me, user }: { me: Me; user: string | null }) {
  const route = useRoute();
  const p = route.params;
  useEffect(() => window.scrollTo(0, 0), [route.path]);
  const job = /^\/job\/(.+)$/.exec(route.path);
  if (job) return <JobPage id={decodeURIComponent(job[1]!)} />;
  if (route.path === '/jobs') return <JobsPage params={p} />;
  if (route.path === '/compare') return <ComparePage a={p.get('a')} b={p.get('b')} />;
  if (route.path === '/schedules') return <SchedulesPage />;
  if (route.path === '/schedules/new') return <ScheduleFormPage id={null} notebook={p.get('notebook')} />;
  const schedule = /^\/schedules\/([^/]+)(\/edit)?$/.exec(route.path);
  if (schedule) {
    const sid = decodeURIComponent(schedule[1]!);
    return schedule[2] ? <ScheduleFormPage key={sid} id={sid} notebook={null} /> : <SchedulePage key={sid} id={sid} />;
  }
  if (route.path === '/pipelines') return <PipelinesPage />;
  if (route.path === '/pipelines/new') return <PipelineFormPage key={`new-${p.get('notebook')}`} id={null} notebook={p.get('notebook')} params={p.get('params')} />;
  const pipelineRun = /^\/pipelines\/([^/]+)\/runs\/([^/]+)$/.exec(route.path);
  if (pipelineRun) {
    const [pid, rid] = [decodeURIComponent(pipelineRun[1]!), decodeURIComponent(pipelineRun[2]!)];
    return <RunPage key={`${pid}/${rid}`} pipelineId={pid} runId={rid} task={p.get('task')} />;
  }
  const pipeline = /^\/pipelines\/([^/]+)(\/edit)?$/.exec(route.path);
  if (pipeline) {
    const pid = decodeURIComponent(pipeline[1]!);
    return pipeline[2] ? <PipelineFormPage key={pid} id={pid} notebook={null} params={null} /> : <PipelinePage key={pid} id={pid} />;
  }
  if (!user) {
    return (
      <main>
        <h1>Choose a user</h1>
        <p>Signed in as {me.name}, which has no home of its own. Pick the user whose notebooks to open with the user switch above.</p>
      </main>
    );
  }
  if (route.path === '/notebook' && p.get('path')) return <NotebookPage key={p.get('path')!} path={p.get('path')!} from={p.get('from')} />;
  return <NotebooksPage />;
}

function Header({ me, user, setUser }: { me: Me; user: string | null; setUser(u: string | null): void }) {
  const route = useRoute();
  const link = (path: string, label: string) => (
    <a href={href(path)} aria-current={route.path === path || (path === '/notebooks' && route.path === '/notebook') || (path !== '/notebooks' && route.path.startsWith(`${path}/`)) ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <header class="top">
      <a class="brand" href={href('/notebooks')}>hubmill</a>
      <nav aria-label="Main">
        {link('/notebooks', 'Notebooks')}
        {link('/jobs', 'Jobs')}
        {link('/schedules', 'Schedules')}
        {link('/pipelines', 'Pipelines')}
        {link('/compare', 'Compare')}
      </nav>
      <div class="who">
        {me.admin && me.users.length > 0 ? (
          <label>
            <span class="muted small">User </span>
            <select aria-label="User" value={user ?? ''} onChange={(e) => setUser((e.target as HTMLSelectElement).value || null)}>
              {!user && <option value="">choose…</option>}
              {me.users.map((u) => <option key={u} value={u}>{u}</option>)}
            </select>
          </label>
        ) : (
          <span class="small">{user ?? me.name}</span>
        )}
        <span class="muted small" title="Signed in as">{me.name}{me.admin ? ' (admin)' : ''}</span>
        {/* A POST with the session's XSRF token: a link from another site cannot sign the user out. */}
        <form method="post" action={url('ui/signout')} class="signout">
          <input type="hidden" name="_xsrf" value={me.xsrf_token ?? ''} />
          <button type="submit" class="link small">Sign out</button>
        </form>
      </div>
    </header>
  );
}

function Root() {
  const [me, setMe] = useState<Me | null>(null);
  const [state, setState] = useState<'loading' | 'signin' | 'ready' | Error>('loading');
  const [user, setUserState] = useState<string | null>(null);
  useEffect(() => {
    api<Me>('ui/api/me').then(
      (m) => {
        setXsrf(m.xsrf_token);
        setMe(m);
        const saved = sessionStorage.getItem(USER_KEY);
        setUserState(m.admin && saved && m.users.includes(saved) ? saved : m.home_user);
        setState('ready');
      },
      (e) => {
        if (e instanceof ApiError && e.status === 401) {
          // With a hub, a browser without a session goes through the hub's login.
          if (conf.hub) location.assign(`${conf.hub.login}?next=${encodeURIComponent(url('ui/') + location.hash)}`);
          else setState('signin');
        } else setState(e as Error);
      },
    );
  }, []);
  const setUser = (u: string | null) => {
    if (u) sessionStorage.setItem(USER_KEY, u);
    setUserState(u);
  };
  if (state === 'loading') return <Loading />;
  if (state === 'signin') return <SignIn />;
  if (state instanceof Error || !me) return <main><ErrorBox error={state} /></main>;
  return (
    <App.Provider value={{ me, user, setUser }}>
      <Header me={me} user={user} setUser={setUser} />
      <Pages key={user ?? ''} me={me} user={user} />
    </App.Provider>
  );
}

render(<Root />, document.getElementById('app')!);
