/**
 * Keeps the output file current without rewriting the whole notebook per cell:
 * one write at the start, then at most one every `intervalMs` while something
 * changed, and a final write at the end. Writes never overlap. The write is told
 * whether it is the final one (which must be durable; the others are superseded).
 */
export class DebouncedSaver {
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private lastError: Error | null = null;
  writes = 0;

  constructor(
    private readonly write: (final: boolean) => Promise<void>,
    private readonly intervalMs: number,
  ) {}

  /** Something changed: schedule a save within intervalMs. */
  touch(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush().catch(() => {});
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Writes now (after any write in progress); rejects with the write's error. */
  flush(final = false): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.chain = this.chain.catch(() => {}).then(async () => {
      try {
        this.writes++;
        await this.write(final);
      } catch (err) {
        this.lastError = err as Error;
        throw err;
      }
    });
    return this.chain;
  }

  get error(): Error | null {
    return this.lastError;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
