/** A tqdm-like progress bar on a terminal: `Executing: 45%|████▌     | 9/20 [00:01<00:02, 4.52cell/s]`. */
export class ProgressBar {
  private total = 0;
  private done = 0;
  private t0 = 0;
  private active = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly out: NodeJS.WriteStream) {}

  start(total: number): void {
    this.total = total;
    this.t0 = Date.now();
    this.active = true;
    this.render();
    // Redraw so elapsed time moves during a long cell.
    this.timer = setInterval(() => this.render(), 500);
    this.timer.unref();
  }

  update(done: number): void {
    this.done = done;
    this.render();
  }

  stop(): void {
    if (!this.active) return;
    this.active = false;
    if (this.timer) clearInterval(this.timer);
    this.render();
    this.out.write('\n');
  }

  private render(): void {
    const width = 20;
    const frac = this.total ? this.done / this.total : 1;
    const full = Math.floor(frac * width);
    const bar = '█'.repeat(full) + (full < width ? ' '.repeat(width - full) : '');
    const elapsed = (Date.now() - this.t0) / 1000;
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : 0;
    const mmss = (s: number) => `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
    this.out.write(
      `\rExecuting: ${String(Math.round(frac * 100)).padStart(3)}%|${bar}| ${this.done}/${this.total} [${mmss(elapsed)}<${mmss(eta)}, ${rate.toFixed(2)}cell/s]`,
    );
  }
}
