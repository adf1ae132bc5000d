/** Throttled, ordered progress writes of one running job: at most one per interval, the last one always written. */
import type { JobProgress, JobStore } from '../store/job-store.js';

export class ProgressTracker {
  private chain: Promise<void> = Promise.resolve();
  private lastWriteMs = 0;
  private pending: JobProgress | null = null;
  private timer: NodeJS.Timeout | undefined;
  private outputPath: string | null | undefined;
  private closed = false;

  constructor(
    private readonly store: JobStore,
    private readonly id: string,
    private readonly intervalMs: number,
    private readonly onError: (err: Error) => void,
  ) {}

  setOutputPath(p: string): void {
    this.outputPath = p;
  }

  update(progress: JobProgress, force: boolean): void {
    if (this.closed) return;
    this.pending = progress;
    const now = Date.now();
    if (force || now - this.lastWriteMs >= this.intervalMs) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs - (now - this.lastWriteMs));
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    this.lastWriteMs = Date.now();
    const out = this.outputPath;
    this.outputPath = undefined;
    this.chain = this.chain.then(() => this.store.updateProgress(this.id, p, out)).catch(this.onError);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.pending = null;
    await this.chain;
  }
}
