/** The user's home as a tree of notebooks, with a filter box, kernel and last run status; output folders start collapsed. */
import { useMemo, useState } from 'preact/hooks';
import { listJobs, listNotebooks, type Job, type NotebookInfo } from '../api';
import { ErrorBox, href, Loading, Status, useApp, useLoad } from '../common';

interface Folder {
  name: string;
  path: string;
  folders: Map<string, Folder>;
  notebooks: NotebookInfo[];
}

const OUTPUT_FOLDER = /^(hubmill-outputs?|outputs?|.*_outputs?)$/i;

function tree(notebooks: NotebookInfo[]): Folder {
  const root: Folder = { name: '', path: '', folders: new Map(), notebooks: [] };
  for (const nb of notebooks) {
    const parts = nb.path.split('/');
    let f = root;
    for (const p of parts.slice(0, -1)) {
      let next = f.folders.get(p);
      if (!next) {
        next = { name: p, path: f.path ? `${f.path}/${p}` : p, folders: new Map(), notebooks: [] };
        f.folders.set(p, next);
      }
      f = next;
    }
    f.notebooks.push(nb);
  }
  return root;
}

function FolderView({ folder, last, filtering }: { folder: Folder; last: Map<string, Job>; filtering: boolean }) {
  const folders = [...folder.folders.values()].sort((a, b) => a.name.localeCompare(b.name));
  const nbs = [...folder.notebooks].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <ul class="tree" role="group">
      {folders.map((f) => (
        <li key={f.path}>
          <details open={filtering || !OUTPUT_FOLDER.test(f.name)}>
            <summary>
              <span class="folder-icon" aria-hidden="true">▸</span> {f.name}/
            </summary>
            <FolderView folder={f} last={last} filtering={filtering} />
          </details>
        </li>
      ))}
      {nbs.map((nb) => {
        const job = last.get(nb.path);
        return (
          <li key={nb.path} class="nb-row">
            <a href={href('/notebook', { path: nb.path })}>{nb.name}</a>
            <span class="muted small">{nb.kernel ?? (nb.error ? 'cannot be read' : '')}</span>
            {nb.parameters.length > 0 && <span class="muted small">{nb.parameters.length} {nb.parameters.length === 1 ? 'parameter' : 'parameters'}</span>}
            {job ? (
              <a class="small" href={href(`/job/${job.id}`)} aria-label={`Last run: ${job.status}`}>
                <Status status={job.status} />
              </a>
            ) : (
              <span class="muted small">never run</span>
            )}
          </li>
        );
      })}
    </ul>
  );
}

export function NotebooksPage() {
  const { user } = useApp();
  const [filter, setFilter] = useState('');
  const nbs = useLoad(() => listNotebooks(user!), [user]);
  const jobs = useLoad(() => listJobs({ username: user, limit: 500 }), [user]);
  const last = useMemo(() => {
    const m = new Map<string, Job>();
    for (const j of jobs.value?.jobs ?? []) if (!m.has(j.notebook)) m.set(j.notebook, j);
    return m;
  }, [jobs.value]);
  const shown = useMemo(() => {
    const all = nbs.value?.notebooks ?? [];
    const f = filter.trim().toLowerCase();
    return tree(f ? all.filter((n) => n.path.toLowerCase().includes(f)) : all);
  }, [nbs.value, filter]);
  return (
    <main>
      <h1>Notebooks</h1>
      <p class="muted">In the home of {user}.</p>
      <input type="search" class="filter" placeholder="Filter by name or folder" aria-label="Filter notebooks" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
      {nbs.error ? <ErrorBox error={nbs.error} /> : !nbs.value ? <Loading /> : nbs.value.notebooks.length === 0 ? <p>No notebooks in this home.</p> : <FolderView folder={shown} last={last} filtering={filter.trim() !== ''} />}
      {nbs.value?.truncated && <p class="muted small">Only the first 2000 notebooks are listed.</p>}
    </main>
  );
}
