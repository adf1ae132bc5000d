/**
 * The requests a kernel connection waits on, one layer for both transports
 * (KernelClient: a local kernel over ZeroMQ; ServerKernel: a kernel in a Jupyter
 * server over its websocket). Each wait is keyed by its request's msg_id, bounded
 * by its own timeout and AbortSignal, and rejected at once when the kernel dies or
 * the connection closes; after that, new waits reject at once too. One error
 * vocabulary (errors.ts): TimeoutError, AbortedError, DeadKernelError.
 * A reply for a wait that is gone (answered, timed out, aborted) is ignored.
 */
import { AbortedError, DeadKernelError, TimeoutError } from '../errors.js';

export interface WaitOptions {
  /** Names the request in errors: "execute_request timed out after 5000 ms", "kernel start aborted". */
  what: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface PendingHooks {
  /** A wait was registered (e.g. start watching the kernel's health). */
  onBusy?: () => void;
  /** The last pending wait settled. */
  onIdle?: () => void;
}

interface Wait<D> {
  data: D;
  resolve: (value: never) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** `D`: what the transport keeps with each wait (e.g. the reply so far, the iopub listener). */
export class PendingRequests<D = undefined> {
  private readonly waits = new Map<string, Wait<D>>();
  private deathError: DeadKernelError | null = null;
  private closedError: DeadKernelError | null = null;

  constructor(private readonly hooks: PendingHooks = {}) {}

  /** The kernel's death, once it died. */
  get dead(): DeadKernelError | null {
    return this.deathError;
  }

  /** True once the connection was closed (by its owner). */
  get closed(): boolean {
    return this.closedError !== null;
  }

  /** Why no request can be sent: the kernel's death, else the connection's close; null while usable. */
  get failure(): DeadKernelError | null {
    return this.deathError ?? this.closedError;
  }

  get size(): number {
    return this.waits.size;
  }

  /** What was kept with the wait for `key`; undefined when none is pending (a late or foreign reply). */
  get(key: string): D | undefined {
    return this.waits.get(key)?.data;
  }

  /**
   * Waits for `key` to be settled. Rejects at once when the kernel is dead or the
   * connection closed, when `signal` is already aborted, or when `key` is already pending.
   */
  wait<T>(key: string, data: D, o: WaitOptions): Promise<T> {
    return this.add<T>(key, data, o).promise;
  }

  /**
   * Waits on `p`, a reply promise kept elsewhere (e.g. a @jupyterlab/services future),
   * under `key`: settles with it, unless the timeout, the signal or the kernel's death
   * comes first. When `p` fails after the kernel died, the death is the error.
   */
  track<T>(key: string, data: D, p: Promise<T>, o: WaitOptions): Promise<T> {
    const { promise, wait } = this.add<T>(key, data, o);
    // Only this wait: a wait refused at once leaves `key` to whoever holds it.
    const mine = () => wait !== null && this.waits.get(key) === wait;
    p.then(
      (v) => {
        if (mine()) this.settle(key, v);
      },
      (e: unknown) => {
        if (mine()) this.reject(key, this.deathError ?? (e instanceof Error ? e : new Error(String(e))));
      },
    );
    return promise;
  }

  private add<T>(key: string, data: D, o: WaitOptions): { promise: Promise<T>; wait: Wait<D> | null } {
    const failure = this.failure;
    if (failure) return { promise: Promise.reject(failure), wait: null };
    if (o.signal?.aborted) return { promise: Promise.reject(new AbortedError(`${o.what} aborted`)), wait: null };
    if (this.waits.has(key)) return { promise: Promise.reject(new Error(`a request with msg_id ${key} is already pending`)), wait: null };
    let wait: Wait<D> | null = null;
    const promise = new Promise<T>((resolve, reject) => {
      const w: Wait<D> = { data, resolve: resolve as (value: never) => void, reject, timer: undefined, signal: o.signal, onAbort: undefined };
      if (o.signal) {
        w.onAbort = () => this.reject(key, new AbortedError(`${o.what} aborted`));
        o.signal.addEventListener('abort', w.onAbort, { once: true });
      }
      if (o.timeoutMs !== undefined && Number.isFinite(o.timeoutMs)) {
        const ms = o.timeoutMs;
        w.timer = setTimeout(() => this.reject(key, new TimeoutError(`${o.what} timed out after ${ms} ms`)), ms);
      }
      this.waits.set(key, w);
      wait = w;
    });
    this.hooks.onBusy?.();
    return { promise, wait };
  }

  /** Resolves the wait for `key`; false when none is pending (the reply is ignored). */
  settle(key: string, value: unknown): boolean {
    const w = this.remove(key);
    if (!w) return false;
    (w.resolve as (v: unknown) => void)(value);
    return true;
  }

  /** Rejects the wait for `key`; false when none is pending. */
  reject(key: string, err: Error): boolean {
    const w = this.remove(key);
    if (!w) return false;
    w.reject(err);
    return true;
  }

  /** The kernel died: every pending wait and every later one rejects with `err` (the first death counts). */
  kernelDied(err: DeadKernelError): void {
    this.deathError ??= err;
    this.rejectAll(this.deathError);
  }

  /** The connection closed: pending and later waits reject with the kernel's death if it died, else with `err`. */
  close(err: DeadKernelError): void {
    this.closedError ??= err;
    this.rejectAll(this.failure!);
  }

  private rejectAll(err: Error): void {
    for (const key of [...this.waits.keys()]) this.reject(key, err);
  }

  private remove(key: string): Wait<D> | undefined {
    const w = this.waits.get(key);
    if (!w) return undefined;
    this.waits.delete(key);
    clearTimeout(w.timer);
    if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
    if (this.waits.size === 0) this.hooks.onIdle?.();
    return w;
  }
}
