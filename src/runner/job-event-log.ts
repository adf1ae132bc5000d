/**
 * The live events of the jobs this process runs, numbered per job (1, 2, 3, …)
 * and kept in a bounded buffer, so an SSE client that reconnects with
 * `Last-Event-ID` gets exactly the events it missed. Finished jobs keep their
 * buffer until `keepFinished` newer jobs have finished; a job's buffer keeps
 * its newest `perJob` events (older ones are dropped, and a client that needs
 * them gets the current state instead).
 */
import type { JobEvent, JobEventCursor, JobEventListener } from '../store/job-event-types.js';
import { isTerminal } from '../store/job-store.js';

export type { JobEventListener };

interface JobLog {
  /** Id of the newest event (0: none yet). */
  last: number;
  /** Kept events, oldest first; ids last-events.length+1 … last. */
  events: JobEvent[];
  ended: boolean;
  listeners: Set<JobEventListener>;
}

export interface JobEventLogOptions {
  /** Events kept per job (default 1000). */
  perJob?: number;
  /** Finished jobs whose events are kept (default 100). */
  keepFinished?: number;
  /** Called when a listener throws (the others still get the event). */
  onListenerError?: (jobId: string, err: unknown) => void;
}

export class JobEventLog {
  private readonly logs = new Map<string, JobLog>();
  /** Finished jobs, oldest first, for eviction. */
  private readonly finished: string[] = [];
  private readonly perJob: number;
  private readonly keepFinished: number;
  private readonly onListenerError: (jobId: string, err: unknown) => void;

  constructor(opts: JobEventLogOptions = {}) {
    this.perJob = Math.max(1, opts.perJob ?? 1000);
    this.keepFinished = Math.max(0, opts.keepFinished ?? 100);
    this.onListenerError = opts.onListenerError ?? (() => undefined);
  }

  private log(jobId: string): JobLog {
    let log = this.logs.get(jobId);
    if (!log) {
      log = { last: 0, events: [], ended: false, listeners: new Set() };
      this.logs.set(jobId, log);
    }
    return log;
  }

  /** Numbers the event, keeps it and hands it to the job's listeners. */
  publish(event: JobEvent): number {
    const log = this.log(event.job_id);
    const id = ++log.last;
    log.events.push(event);
    if (log.events.length > this.perJob) log.events.splice(0, log.events.length - this.perJob);
    const ends = event.type === 'state' && isTerminal(event.status);
    if (ends && !log.ended) {
      log.ended = true;
      this.finished.push(event.job_id);
    } else if (event.type === 'state' && !ends && log.ended) {
      // Re-queued after a restart elsewhere: alive again.
      log.ended = false;
      const i = this.finished.indexOf(event.job_id);
      if (i >= 0) this.finished.splice(i, 1);
    }
    for (const l of [...log.listeners]) {
      try {
        l(event, id);
      } catch (err) {
        this.onListenerError(event.job_id, err);
      }
    }
    this.evict();
    return id;
  }

  private evict(): void {
    while (this.finished.length > this.keepFinished) {
      const jobId = this.finished.shift()!;
      const log = this.logs.get(jobId);
      // A job someone still listens to is dropped once they leave.
      if (log && log.listeners.size === 0) this.logs.delete(jobId);
    }
  }

  /** Where the job's log stands, or null when this process has no event of it. */
  cursor(jobId: string): JobEventCursor | null {
    const log = this.logs.get(jobId);
    if (!log || log.last === 0) return null;
    return { first: log.last - log.events.length + 1, last: log.last, ended: log.ended };
  }

  /**
   * Calls `listener` for every new event of the job; with `after`, first (synchronously)
   * for each kept event whose id is greater. Returns the unsubscribe function.
   */
  subscribe(jobId: string, listener: JobEventListener, opts: { after?: number } = {}): () => void {
    const log = this.log(jobId);
    if (opts.after !== undefined) {
      const first = log.last - log.events.length + 1;
      for (let i = Math.max(0, opts.after + 1 - first); i < log.events.length; i++) {
        try {
          listener(log.events[i]!, first + i);
        } catch (err) {
          this.onListenerError(jobId, err);
        }
      }
    }
    log.listeners.add(listener);
    return () => {
      log.listeners.delete(listener);
      if (log.listeners.size === 0 && log.last === 0) this.logs.delete(jobId);
      else if (log.listeners.size === 0 && log.ended && !this.finished.includes(jobId)) this.logs.delete(jobId);
    };
  }
}
