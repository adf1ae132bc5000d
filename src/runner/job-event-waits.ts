/**
 * Live job events as the runner and the HTTP layer use them: publishing through
 * the event bus (in-process, or shared by nodes), and the waits for a job's end
 * (`waitFor`). A wait ends on the job's terminal event, and re-reads the store
 * every `waitPollMs` as well, so a job that ended elsewhere (another process on
 * the same SQLite file, or an event the bus lost) never leaves a request hanging.
 */
import type { Logger } from 'pino';
import { isTerminal, type Job, type JobStore } from '../store/job-store.js';
import { InProcessEventBus, type EventBus, type JobEventListener } from './in-process-event-bus.js';
import type { JobEvent, JobEventCursor } from './runner-api.js';

export class JobEvents {
  readonly bus: EventBus;
  private readonly waitPollMs: number;

  constructor(logger: Logger, opts: { bus?: EventBus; waitPollMs?: number } = {}) {
    this.bus =
      opts.bus ??
      new InProcessEventBus({
        onListenerError: (jobId, err) => logger.warn({ jobId, err: (err as Error).message }, 'job event listener failed'),
      });
    this.waitPollMs = Math.max(10, opts.waitPollMs ?? 500);
  }

  emit(ev: JobEvent): void {
    this.bus.publish(ev);
  }

  emitState(job: Job): void {
    this.emit({ type: 'state', job_id: job.id, status: job.status, job });
  }

  /** See EventBus.subscribe: events with their ids; with `after`, kept events first. */
  subscribe(jobId: string, listener: JobEventListener, opts?: { after?: number }): () => void {
    return this.bus.subscribe(jobId, listener, opts);
  }

  cursor(jobId: string): Promise<JobEventCursor | null> {
    return this.bus.cursor(jobId);
  }

  /** Resolves with the job once terminal, or with its current state after timeoutMs (or on abort); null for an unknown job. */
  async waitFor(store: JobStore, id: string, timeoutMs: number, signal?: AbortSignal): Promise<Job | null> {
    let resolveWait!: () => void;
    const woke = new Promise<void>((r) => (resolveWait = r));
    const unsubscribe = this.subscribe(id, (ev) => {
      if (ev.type === 'state' && isTerminal(ev.status)) resolveWait();
    });
    const deadline = Date.now() + Math.max(0, timeoutMs);
    const timer = setTimeout(resolveWait, Math.max(0, timeoutMs));
    const onAbort = () => resolveWait();
    signal?.addEventListener('abort', onAbort, { once: true });
    let done = false;
    let poll: NodeJS.Timeout | undefined;
    // The fallback: the store's word, re-read until the job ends or the wait is over.
    const recheck = () => {
      poll = setTimeout(() => {
        void store.get(id).then(
          (j) => {
            if (!j || isTerminal(j.status)) resolveWait();
            else if (!done && Date.now() < deadline) recheck();
          },
          () => {
            if (!done && Date.now() < deadline) recheck();
          },
        );
      }, this.waitPollMs);
    };
    try {
      const first = await store.get(id);
      if (!first) return null;
      if (isTerminal(first.status) || signal?.aborted) return first;
      recheck();
      await woke;
      return await store.get(id);
    } finally {
      done = true;
      clearTimeout(timer);
      clearTimeout(poll);
      signal?.removeEventListener('abort', onAbort);
      unsubscribe();
    }
  }
}
