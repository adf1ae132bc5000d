export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function min(xs: number[]): number {
  return xs.length ? Math.min(...xs) : NaN;
}

export function max(xs: number[]): number {
  return xs.length ? Math.max(...xs) : NaN;
}

/** Nearest-rank percentile, p in [0, 100]. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export const ms = (x: number, digits = 0): string => (Number.isFinite(x) ? `${x.toFixed(digits)} ms` : 'n/a');
export const mb = (kb: number): string => (Number.isFinite(kb) && kb > 0 ? `${(kb / 1024).toFixed(0)} MB` : 'n/a');
export const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));
