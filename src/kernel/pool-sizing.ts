/**
 * How many idle kernels a warm pool keeps (pool.ts), from what it measures on
 * this machine rather than from constants:
 *
 *   target = clamp(ceil(rate × refill) + 1, min, max)
 *
 * - `rate`: jobs taking a kernel per second, an exponentially decayed count of
 *   the arrivals (each adds 1/τ, the sum decays by e^(−Δt/τ), τ = 3 s): at a
 *   steady 5/s it reads 4.83–5.17/s once settled (98% after 12 s, past the
 *   3.3/s that needs a third kernel with a 300 ms refill after 3.3 s); after a
 *   stop it halves in 2.1 s.
 * - `refill`: the time a replacement takes from its start to joining the pool
 *   (fork, IPKernelApp's initialization, readiness, warm-up), an exponentially
 *   weighted mean of the last starts (weight 0.3 for the newest), so it grows
 *   when the machine is loaded.
 * - `rate × refill` is how many jobs arrive while one refill runs (Little's
 *   law); one more covers the job that arrives while the count is at its mean.
 *
 * `min` is the configured pool size (HUBMILL_POOL), `max` the ceiling
 * (HUBMILL_POOL_MAX); a size of 0 turns the pool off. The pool refills at once
 * whenever idle + starting is below the target.
 */

export const RATE_TAU_MS = 3000;
export const REFILL_WEIGHT = 0.3;

export interface PoolBounds {
  min: number;
  max: number;
}

export class PoolSizer {
  /** Decayed arrival count per second, as of `at`. */
  private rateAt = 0;
  private at: number | null = null;
  private refillMs: number | null = null;

  constructor(
    readonly bounds: PoolBounds,
    private readonly now: () => number = () => performance.now(),
    private readonly tauMs = RATE_TAU_MS,
  ) {}

  /** A job took (or asked for) a kernel. */
  arrival(): void {
    const t = this.now();
    this.rateAt = this.rate(t) + 1000 / this.tauMs;
    this.at = t;
  }

  /** A refill took this long (start to ready in the pool). */
  refilled(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.refillMs = this.refillMs === null ? ms : REFILL_WEIGHT * ms + (1 - REFILL_WEIGHT) * this.refillMs;
  }

  /** Arrivals per second now. */
  rate(t = this.now()): number {
    if (this.at === null) return 0;
    return this.rateAt * Math.exp(-(t - this.at) / this.tauMs);
  }

  /** The measured refill time (ms), or null before the first one. */
  refillTimeMs(): number | null {
    return this.refillMs;
  }

  /** Idle kernels to keep now. */
  target(t = this.now()): number {
    const { min, max } = this.bounds;
    if (min <= 0) return 0;
    const want = Math.ceil((this.rate(t) * (this.refillMs ?? 0)) / 1000) + 1;
    return Math.max(min, Math.min(Math.max(min, max), want));
  }
}
