/**
 * Live job events in this process: subscribers per job id, and the waits for a
 * job's end (`waitFor`). Jobs someone here waits for are listed (`watched`) so
 * the queue's poll can announce the end of jobs that ran in another process.
 */
import type { Logger } from 'pino';
import { isTerminal, type Job, type JobStore } from '../store/job-store.js';
import { JobEventLog, type JobEventListener } from './job-event-log.js';
import type { JobEvent, JobEventCursor } from './runner-api.js';

export class JobEvents {
  private readonly log: JobEventLog;
  /** Jobs someone waits for, with the number of waiters. */
  private readonly waited = new Map<string, number>();

  constructor(logger: Logger) {
    this.log = new JobEventLog({
      onListenerError: (jobId, err) => logger.warn({ jobId, err: (err as Error).message }, 'job event listener failed'),
    });
  }

  emit(ev: JobEvent): void {
    this.log.publish(ev);
  }

  emitState(job: Job): void {
    this.emit({ type: 'state', job_id: job.id, status: job.status, job });
  }

  /** See JobEventLog.subscribe: events with their ids; with `after`, kept events first. */
  subscribe(jobId: string, listener: JobEventListener, opts?: { after?: number }): () => void {
    return this.log.subscribe(jobId, listener, opts);
  }

  cursor(jobId: string): JobEventCursor | null {
    return this.log.cursor(jobId);
  }

  watched(): string[] {
    return [...this.waited.keys()];
  }

  /** Resolves with the job once terminal, or with its current state after timeoutMs (or on abort); null for an unknown job. */
  async waitFor(store: JobStore, id: string, timeoutMs: number, signal?: AbortSignal): Promise<Job | null> {
    let resolveWait!: () => void;
    const woke = new Promise<void>((r) => (resolveWait = r));
    const unsubscribe = this.subscribe(id, (ev) => {
      if (ev.type === 'state' && isTerminal(ev.status)) resolveWait();
    });
    this.waited.set(id, (this.waited.get(id) ?? 0) + 1);
    const timer = setTimeout(resolveWait, Math.max(0, timeoutMs));
    const onAbort = () => resolveWait();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const first = await store.get(id);
      if (!first) return null;
      if (isTerminal(first.status) || signal?.aborted) return first;
      await woke;
      return await store.get(id);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      unsubscribe();
      const n = (this.waited.get(id) ?? 1) - 1;
      if (n <= 0) this.waited.delete(id);
      else this.waited.set(id, n);
    }
  }
}
