/**
 * A job's live events and the event bus that carries them: the types shared by
 * the runner (which publishes and subscribes, runner/in-process-event-bus.ts keeps the
 * in-process bus) and the PostgreSQL bus (store/pg/pg-event-bus.ts). They live in
 * the store layer, below the runner, so the PostgreSQL bus never imports
 * upward (test/architecture/imports.test.ts).
 */
import type { Job } from './job-store.js';
import type { Output } from '../notebook/notebook-types.js';

/** Live events of one job, streamed over SSE as `event: <type>` with JSON data. */
export type JobEvent =
  | { type: 'state'; job_id: string; status: Job['status']; job: Job }
  | { type: 'cell_started'; job_id: string; cell_index: number; cells_total: number }
  | { type: 'cell_finished'; job_id: string; cell_index: number; status: 'completed' | 'failed' | 'skipped'; duration_ms: number; cells_done: number; cells_total: number }
  /** `appended`: a stream chunk that continues the cell's previous stream output (only the new text is sent). */
  | { type: 'output'; job_id: string; cell_index: number; output: Output; appended: boolean };

/** Where one job's event log stands on the event bus: ids of the oldest kept and the newest event, and whether it ended. */
export interface JobEventCursor {
  first: number;
  last: number;
  ended: boolean;
}

export type JobEventListener = (event: JobEvent, id: number) => void;

/**
 * The event bus: where a job's live events go, and where SSE streams and waits
 * read them. A job's events are numbered 1, 2, 3, … per job by the bus, and the
 * numbers are the same for every reader, so a client that reconnects with
 * `Last-Event-ID` resumes on any node that shares the bus.
 */
export interface EventBus {
  /**
   * Numbers the event and hands it to every subscriber of its job (on every node
   * sharing the bus). Never throws: a failure is logged by the bus. Events of one
   * job published by one process keep their order.
   */
  publish(event: JobEvent): void;
  /**
   * Calls `listener` for each event of the job published after this call, in id
   * order. With `after`, first (possibly asynchronously) for each kept event whose
   * id is greater. Returns the unsubscribe function.
   */
  subscribe(jobId: string, listener: JobEventListener, opts?: { after?: number }): () => void;
  /** Where the job's kept events stand, or null when the bus has none of it. */
  cursor(jobId: string): Promise<JobEventCursor | null>;
  /** Resolves once every event published so far by this process has been numbered and stored. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
