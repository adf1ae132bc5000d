/** Shared bits: the app context, the hash router, status words, times, loading and errors. */
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { JobStatus, Me } from './api';

export interface AppState {
  me: Me;
  /** Whose home and jobs are shown (null: an admin who has not picked anyone yet). */
  user: string | null;
  setUser(u: string | null): void;
}
export const App = createContext<AppState>(null as unknown as AppState);
export const useApp = () => useContext(App);

export interface Route {
  hash: string;
  path: string;
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#/, '') || '/notebooks';
  const i = h.indexOf('?');
  return { hash, path: i < 0 ? h : h.slice(0, i), params: new URLSearchParams(i < 0 ? '' : h.slice(i + 1)) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute((r) => (location.hash === r.hash ? r : parseHash(location.hash)));
    window.addEventListener('hashchange', on);
    // The hash may have changed between the first render and this effect.
    on();
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export const href = (path: string, params: Record<string, string | null | undefined> = {}) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) u.set(k, v);
  const s = u.toString();
  return `#${path}${s ? `?${s}` : ''}`;
};

export function Status({ status }: { status: JobStatus }) {
  return <span class={`status status-${status}`}>{status}</span>;
}

export function When({ iso }: { iso: string | null }) {
  if (!iso) return <span class="muted">—</span>;
  const d = new Date(iso);
  return <time dateTime={iso} title={d.toISOString()}>{d.toLocaleString()}</time>;
}

export const seconds = (s: number | null | undefined) => (s === null || s === undefined ? '—' : s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

export function ErrorBox({ error }: { error: unknown }) {
  return (
    <div class="error-box" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </div>
  );
}

export function Loading() {
  return <p class="muted" aria-live="polite">Loading…</p>;
}

const sameDeps = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

/**
 * Runs an async load when `deps` or `refresh` change, or on `reload()`.
 * `deps` say *what* is shown (a user, an id, a filter): once they change, the value loaded for the
 * old ones is no longer answered (undefined until the new one arrives), so a page never shows one
 * user's list under another's heading. `refresh` and `reload()` load the same thing again: the
 * last value stays on screen meanwhile, with no "Loading" flash.
 */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[], refresh: unknown[] = []): { value: T | undefined; error: unknown; reload(): void } {
  const [state, setState] = useState<{ deps: unknown[]; value: T | undefined; error: unknown }>({ deps, value: undefined, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    const current = deps;
    fn().then(
      (v) => live && setState({ deps: current, value: v, error: null }),
      (e) => live && setState((s) => ({ deps: current, value: sameDeps(s.deps, current) ? s.value : undefined, error: e })),
    );
    return () => {
      live = false;
    };
  }, [...deps, ...refresh, tick]);
  const mine = sameDeps(state.deps, deps);
  return { value: mine ? state.value : undefined, error: mine ? state.error : null, reload: () => setTick((t) => t + 1) };
}

export function shortValue(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
