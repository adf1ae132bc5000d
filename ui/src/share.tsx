/**
 * Sharing in the UI (issue 18): the Share dialog of a schedule, pipeline or job
 * (grants to hub groups or users at view, run or manage; the caller's hub groups
 * offered first), and the share-link dialog of a finished job (create with an
 * expiry, copy, revoke). Both are <dialog> elements opened from a button.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ErrorBox, Loading, When, useApp } from './common';
import { createShareLink, getPermissions, LEVELS, listShareLinks, putPermissions, revokeShareLink, type Grant, type Kind, type Level, type Permissions, type ShareLink } from './share-api';

const who = (g: { user?: string; group?: string }) => ('group' in g && g.group !== undefined ? `group ${g.group}` : `user ${g.user}`);

function useDialog(): [preact.RefObject<HTMLDialogElement>, boolean, () => void, () => void] {
  const ref = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  return [ref, open, () => (setOpen(true), requestAnimationFrame(() => ref.current?.showModal())), () => (ref.current?.close(), setOpen(false))];
}

function ShareForm({ kind, id, onClose }: { kind: Kind; id: string; onClose(): void }) {
  const { me } = useApp();
  const [perm, setPerm] = useState<Permissions | null>(null);
  const [rows, setRows] = useState<Grant[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [type, setType] = useState<'group' | 'user'>('group');
  const [name, setName] = useState('');
  const [level, setLevel] = useState<Level>('view');
  useEffect(() => {
    getPermissions(kind, id).then((p) => (setPerm(p), setRows(p.permissions)), setError);
  }, [kind, id]);
  if (error && !perm) return <ErrorBox error={error} />;
  if (!perm) return <Loading />;
  const canManage = perm.your_level === 'manage';
  const add = (e: Event) => {
    e.preventDefault();
    const n = name.trim();
    if (!n) return;
    const g: Grant = type === 'group' ? { group: n, level } : { user: n, level };
    setRows((r) => [...r.filter((x) => who(x) !== who(g)), g]);
    setName('');
    setSaved(false);
  };
  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      const p = await putPermissions(kind, id, rows);
      setPerm(p);
      setRows(p.permissions);
      setSaved(true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const groups = me.groups ?? [];
  return (
    <div class="share">
      <p>Owner: <strong>{perm.owner}</strong> (manage). Runs always execute as the owner, in the owner's home. You have <strong>{perm.your_level}</strong>.</p>
      <table class="grants">
        <thead><tr><th scope="col">Who</th><th scope="col">Level</th><th scope="col"><span class="sr-only">Remove</span></th></tr></thead>
        <tbody>
          {rows.length === 0 && <tr><td colSpan={3} class="muted">Not shared.</td></tr>}
          {rows.map((g, i) => (
            <tr key={who(g)} data-grant={who(g)}>
              <td>{who(g)}</td>
              <td>
                <select aria-label={`Level of ${who(g)}`} disabled={!canManage} value={g.level} onChange={(e) => (setRows(rows.map((x, j) => (j === i ? { ...x, level: (e.target as HTMLSelectElement).value as Level } : x))), setSaved(false))}>
                  {LEVELS.map((l) => <option key={l} value={l}>{l}</option>)}
                </select>
              </td>
              <td>{canManage && <button type="button" class="small" aria-label={`Remove ${who(g)}`} onClick={() => (setRows(rows.filter((_, j) => j !== i)), setSaved(false))}>Remove</button>}</td>
            </tr>
          ))}
          {perm.inherited.map((g) => (
            <tr key={`${g.from}-${who(g)}`} class="muted"><td>{who(g)}</td><td>{g.level}</td><td>from the {g.from}</td></tr>
          ))}
        </tbody>
      </table>
      {canManage && (
        <form class="add-grant" onSubmit={add}>
          <select aria-label="Share with a" value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value as 'group' | 'user')}>
            <option value="group">group</option>
            <option value="user">user</option>
          </select>
          <input aria-label={type === 'group' ? 'Group name' : 'User name'} list={type === 'group' ? 'hub-groups' : undefined} value={name} placeholder={type === 'group' ? 'hub group' : 'hub user'} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <datalist id="hub-groups">{groups.map((g) => <option key={g} value={g} />)}</datalist>
          <select aria-label="Level" value={level} onChange={(e) => setLevel((e.target as HTMLSelectElement).value as Level)}>
            {LEVELS.map((l) => <option key={l} value={l}>{l}</option>)}
          </select>
          <button type="submit">Add</button>
        </form>
      )}
      {groups.length > 0 && canManage && (
        <p class="small muted">Your hub groups: {groups.map((g) => <button type="button" class="small" key={g} onClick={() => (setType('group'), setName(g))}>{g}</button>)}</p>
      )}
      <p class="small muted">view: see it, its runs, outputs and results · run: also run, cancel, repair · manage: also edit, pause, delete, share</p>
      {error != null && <ErrorBox error={error} />}
      <div class="actions">
        {canManage && <button type="button" class="primary" disabled={busy} onClick={save}>Save</button>}
        <button type="button" onClick={onClose}>Close</button>
        {saved && <span role="status">Saved.</span>}
      </div>
    </div>
  );
}

/** The "Share" button and its dialog. */
export function ShareButton({ kind, id, label }: { kind: Kind; id: string; label: string }) {
  const [ref, open, show, close] = useDialog();
  return (
    <>
      <button type="button" onClick={show}>Share</button>
      <dialog ref={ref} aria-label={`Share ${label}`} onClose={close}>
        <h2>Share {label}</h2>
        {open && <ShareForm kind={kind} id={id} onClose={close} />}
      </dialog>
    </>
  );
}

const EXPIRY: Array<[string, number]> = [['1 day', 86_400], ['7 days', 7 * 86_400], ['30 days', 30 * 86_400]];

function LinksForm({ jobId, onClose }: { jobId: string; onClose(): void }) {
  const [links, setLinks] = useState<ShareLink[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [expires, setExpires] = useState(7 * 86_400);
  const [fresh, setFresh] = useState<ShareLink | null>(null);
  const load = () => listShareLinks(jobId).then((l) => setLinks(l.links), setError);
  useEffect(() => void load(), [jobId]);
  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      await load();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div class="share-links">
      <p class="small">Anyone with the link sees this run's output page, and nothing else, until it expires or you revoke it.</p>
      <div class="actions">
        <label for="sl-expiry">Expires after</label>
        <select id="sl-expiry" value={expires} onChange={(e) => setExpires(Number((e.target as HTMLSelectElement).value))}>
          {EXPIRY.map(([l, s]) => <option key={s} value={s}>{l}</option>)}
        </select>
        <button type="button" class="primary" onClick={() => act(async () => setFresh(await createShareLink(jobId, expires)))}>Create link</button>
      </div>
      {fresh && (
        <p>
          <label for="sl-url">New link</label> <input id="sl-url" class="link-url" readOnly value={fresh.url} onFocus={(e) => (e.target as HTMLInputElement).select()} />{' '}
          <button type="button" onClick={() => void navigator.clipboard?.writeText(fresh.url)}>Copy</button>
        </p>
      )}
      {error != null && <ErrorBox error={error} />}
      {!links ? <Loading /> : links.length === 0 ? <p class="muted">No links yet.</p> : (
        <table class="links">
          <thead><tr><th scope="col">Link</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col"><span class="sr-only">Revoke</span></th></tr></thead>
          <tbody>
            {links.map((l) => {
              const state = l.revoked_at ? 'revoked' : Date.parse(l.expires_at) <= Date.now() ? 'expired' : 'active';
              return (
                <tr key={l.id} data-link-id={l.id}>
                  <td><code class="small">{l.id}</code></td>
                  <td><When iso={l.expires_at} /></td>
                  <td>{state}</td>
                  <td>{state === 'active' && <button type="button" class="small" aria-label={`Revoke ${l.id}`} onClick={() => act(() => revokeShareLink(jobId, l.id))}>Revoke</button>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <div class="actions"><button type="button" onClick={onClose}>Close</button></div>
    </div>
  );
}

/** The "Share link" button of a finished job and its dialog. */
export function ShareLinkButton({ jobId }: { jobId: string }) {
  const [ref, open, show, close] = useDialog();
  return (
    <>
      <button type="button" onClick={show}>Share link</button>
      <dialog ref={ref} aria-label="Share links" onClose={close}>
        <h2>Share links</h2>
        {open && <LinksForm jobId={jobId} onClose={close} />}
      </dialog>
    </>
  );
}

/** The "Shared with me" filter of the lists. */
export function SharedFilter({ shared, onChange }: { shared: boolean; onChange(v: boolean): void }) {
  return (
    <label class="inline">
      <input type="checkbox" checked={shared} onChange={(e) => onChange((e.target as HTMLInputElement).checked)} /> Shared with me
    </label>
  );
}
