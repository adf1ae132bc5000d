/** Shown when the browser has no session: a token field (no hub) or the hub login (with a hub). */
import { conf, url } from '../api';

export function SignIn() {
  const onSubmit = (e: Event) => {
    e.preventDefault();
    const token = (new FormData(e.target as HTMLFormElement).get('token') as string).trim();
    if (token) location.assign(url(`ui/signin?token=${encodeURIComponent(token)}`));
  };
  return (
    <main class="signin">
      <h1>hubmill</h1>
      {conf.hub && (
        <p>
          <a class="button primary" href={`${conf.hub.login}?next=${encodeURIComponent(url('ui/'))}`}>
            Sign in with JupyterHub
          </a>
        </p>
      )}
      <form onSubmit={onSubmit}>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autoComplete="off" required />
        <button type="submit" class="primary">Sign in</button>
        <p class="muted small">The token is printed by <code>hubmill serve</code> (the link opens this page signed in).</p>
      </form>
    </main>
  );
}
