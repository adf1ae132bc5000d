/**
 * The queue loop: claims queued jobs from the store while fewer than
 * `concurrency` run here, one AbortController per running job, and a short poll
 * for what other processes did (jobs they enqueued, cancels requested through
 * them, the end of jobs someone here waits for). The store's atomic `claimNext`
 * hands each job to exactly one process. A store that announces queued jobs
 * (`onJobQueued`: PostgreSQL's LISTEN/NOTIFY) wakes the loop at once; the poll
 * stays as the fallback.
 */
import type { Logger } from 'pino';
import { AbortedError } from '../errors.js';
import type { Job, JobStore } from '../store/job-store.js';
import { within } from './options.js';

export interface RunningJob {
  job: Job;
  controller: AbortController;
  done: Promise<void>;
  /** Cancelled because the service is shutting down. */
  shutdown: boolean;
  /** Its end is being recorded: too late to stop it. */
  recording: boolean;
}

export interface QueueOptions {
  store: JobStore;
  workerId: string;
  concurrency: number;
  /** Jobs one user may have running (across every process): the store claims no job of a user at it (quota.ts); null = no bound. */
  maxRunningPerUser?: number | null;
  pollIntervalMs: number;
  /** Bound for cancelled runs to wind down after the grace of stop() (default 15 s). */
  stopKillWaitMs: number;
  log: Logger;
  /** Runs one claimed job; calls `leave()` once it no longer counts as running (before announcing its end). */
  run(entry: RunningJob, leave: () => void): Promise<void>;
}

export class Queue {
  readonly running = new Map<string, RunningJob>();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;
  private filling = false;
  private fillAgain = false;
  private polling = false;
  private stopListening: (() => void) | undefined;

  constructor(private readonly o: QueueOptions) {}

  start(): void {
    this.started = true;
    this.stopping = false;
    this.timer = setInterval(() => void this.poll(), this.o.pollIntervalMs);
    this.timer.unref();
    this.stopListening ??= this.o.store.onJobQueued?.(() => this.kick());
    this.kick();
  }

  /** Stop claiming; let running jobs finish within graceMs, then cancel them (bounded). */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.stopListening?.();
    this.stopListening = undefined;
    const all = () => Promise.all([...this.running.values()].map((r) => r.done));
    if (this.running.size > 0) {
      this.o.log.info({ running: this.running.size, graceMs }, 'stopping: waiting for running jobs');
      await within(all(), graceMs);
    }
    if (this.running.size > 0) {
      this.o.log.warn({ running: this.running.size }, 'stopping: cancelling running jobs');
      for (const r of this.running.values()) {
        r.shutdown = true;
        if (!r.controller.signal.aborted) r.controller.abort(new AbortedError('hubmill is shutting down'));
      }
      await within(all(), this.o.stopKillWaitMs);
    }
    this.started = false;
  }

  /** Stops a job running here; false when it does not run here. */
  abort(id: string, reason: string): boolean {
    const r = this.running.get(id);
    if (!r || r.recording) return false;
    if (!r.controller.signal.aborted) r.controller.abort(new AbortedError(reason));
    return true;
  }

  /** Claims jobs while there is room; safe to call often (coalesced). */
  kick(): void {
    if (!this.started || this.stopping) return;
    if (this.filling) {
      this.fillAgain = true;
      return;
    }
    this.filling = true;
    void this.fill().finally(() => {
      this.filling = false;
    });
  }

  private async fill(): Promise<void> {
    do {
      this.fillAgain = false;
      while (this.running.size < this.o.concurrency && !this.stopping) {
        let job: Job | null;
        try {
          job = await this.o.store.claimNext(this.o.workerId, { maxRunningPerUser: this.o.maxRunningPerUser ?? null });
        } catch (err) {
          this.o.log.error({ err: (err as Error).message }, 'claiming a job failed');
          return;
        }
        if (!job) break;
        this.launch(job);
      }
    } while (this.fillAgain && !this.stopping);
  }

  private launch(job: Job): void {
    const entry: RunningJob = { job, controller: new AbortController(), done: Promise.resolve(), shutdown: false, recording: false };
    // A job reclaimed from this very process (stalled past its lease) and claimed here again: the old run must stop.
    this.running.get(job.id)?.controller.abort(new AbortedError('this job was reclaimed after its lease expired and claimed again'));
    this.running.set(job.id, entry);
    const leave = () => {
      if (this.running.get(job.id) === entry) this.running.delete(job.id);
    };
    entry.done = this.o
      .run(entry, leave)
      .catch((err: unknown) => {
        // run handles its own errors; this is a last line of defence for the loop.
        this.o.log.error({ jobId: job.id, err: (err as Error).message }, 'runner bug while running a job');
      })
      .finally(() => {
        leave();
        this.kick();
      });
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopping) return;
    this.polling = true;
    try {
      this.kick();
      // Cancels requested through another process's store handle.
      for (const r of this.running.values()) {
        if (r.controller.signal.aborted) continue;
        const j = await this.o.store.get(r.job.id);
        if (j?.cancel_requested) r.controller.abort(new AbortedError('cancelled on request'));
      }
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'poll failed');
    } finally {
      this.polling = false;
    }
  }
}
