/**
 * Short-lived memory of lookups the runner makes for every job with the same
 * answer almost always: the identity a user's kernels run as (a `getent` process
 * per job when the user is not in /etc/passwd: about 20 ms of CPU each) and the
 * kernelspec of a name (a scan of every Jupyter data folder). An answer is kept
 * `ttlMs`, so a change on the machine (a new account, an edited kernelspec) is
 * seen within that time; failures are not kept. Concurrent lookups of one key
 * share one call. At most `maxKeys` answers are kept (the oldest go first).
 */
export interface TtlCacheOptions {
  ttlMs: number;
  maxKeys?: number;
  /** For tests: the clock. */
  now?: () => number;
}

export function ttlCached<T>(lookup: (key: string) => Promise<T>, opts: TtlCacheOptions): (key: string) => Promise<T> {
  const now = opts.now ?? Date.now;
  const maxKeys = Math.max(1, opts.maxKeys ?? 1000);
  const kept = new Map<string, { at: number; value: Promise<T> }>();
  return (key) => {
    const hit = kept.get(key);
    if (hit && now() - hit.at < opts.ttlMs) return hit.value;
    kept.delete(key);
    const value = lookup(key);
    kept.set(key, { at: now(), value });
    value.catch(() => {
      if (kept.get(key)?.value === value) kept.delete(key);
    });
    while (kept.size > maxKeys) kept.delete(kept.keys().next().value as string);
    return value;
  };
}
