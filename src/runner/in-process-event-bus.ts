/**
 * The event bus: where a job's live events go, and where SSE streams and waits
 * read them. A job's events are numbered 1, 2, 3, … per job by the bus, and the
 * numbers are the same for every reader, so a client that reconnects with
 * `Last-Event-ID` resumes on any node that shares the bus.
 *
 * - `InProcessEventBus` (here): the events of the jobs this process runs, kept
 *   in memory (JobEventLog). For one process (`--role all` on SQLite).
 * - `PgEventBus` (store/pg/pg-event-bus.ts): events stored in PostgreSQL and
 *   announced with NOTIFY, for API and worker nodes sharing one database.
 */
import { JobEventLog } from './job-event-log.js';
import type { EventBus, JobEvent, JobEventCursor, JobEventListener } from '../store/job-event-types.js';

export type { EventBus, JobEventListener };

/** The bus of one process: events kept in memory, delivered synchronously. */
export class InProcessEventBus implements EventBus {
  private readonly log: JobEventLog;

  constructor(opts: { onListenerError?: (jobId: string, err: unknown) => void; perJob?: number; keepFinished?: number } = {}) {
    this.log = new JobEventLog(opts);
  }

  publish(event: JobEvent): void {
    this.log.publish(event);
  }

  subscribe(jobId: string, listener: JobEventListener, opts?: { after?: number }): () => void {
    return this.log.subscribe(jobId, listener, opts);
  }

  cursor(jobId: string): Promise<JobEventCursor | null> {
    return Promise.resolve(this.log.cursor(jobId));
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
