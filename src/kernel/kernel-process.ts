/**
 * The local process of one kernel: its exit, its stderr tail, and signals to
 * its whole process group. The messaging side is KernelClient's.
 */
import type { LaunchedKernel } from './launcher.js';
import { letProcessGroupFinish, unwatchProcessGroup } from './watchdog.js';

const STDERR_KEEP = 16 * 1024;

export class KernelProcess {
  private stderrTail = '';
  private readonly exited: Promise<void>;

  constructor(
    readonly launched: LaunchedKernel,
    onExit: (how: string) => void,
  ) {
    const child = launched.child;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_KEEP);
    });
    this.exited = new Promise((resolve) => {
      if (!this.running) return resolve();
      child.once('exit', () => resolve());
    });
    child.once('exit', (code, signal) => {
      if (child.pid) unwatchProcessGroup(child.pid);
      onExit(signal ? `signal ${signal}` : `exit code ${code}`);
      void launched.cleanup();
    });
  }

  get pid(): number | undefined {
    return this.launched.child.pid;
  }

  get running(): boolean {
    return this.launched.child.exitCode === null && this.launched.child.signalCode === null;
  }

  /** The last lines the kernel wrote on stderr, prefixed with ':\n', or ''. */
  stderrSummary(): string {
    const tail = this.stderrTail.trim().split('\n').slice(-15).join('\n');
    return tail ? `:\n${tail}` : '';
  }

  /** True when the kernel reported that a port we gave it was taken. */
  lostPort(): boolean {
    return /Address already in use|EADDRINUSE/.test(this.stderrTail);
  }

  /** Waits for the process to exit, up to timeoutMs; true when it did. */
  async waitExit(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return done;
  }

  signalGroup(sig: NodeJS.Signals): void {
    const pid = this.pid;
    if (!pid) return;
    // Mostly called on a group already gone (after the kernel's exit): its ESRCH errors are made
    // without a stack trace, which was most of their cost.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // Already gone.
      }
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  /**
   * Leaves a kernel that is exiting (it answered shutdown_request) to finish on its own: it no
   * longer holds our event loop, the watchdog gives it a bounded grace once we are gone (then
   * kills its group), its connection file goes now and its ports stay reserved for it.
   * False (nothing changed) when that cannot be arranged: the caller waits for the exit.
   */
  letFinish(): boolean {
    const pid = this.pid;
    const handOver = this.launched.handOver;
    if (!pid || !this.running || !handOver || !letProcessGroupFinish(pid)) return false;
    const child = this.launched.child as { unref?: () => void; stderr?: { unref?: () => void } | null };
    child.stderr?.unref?.();
    child.unref?.();
    void handOver(pid).catch(() => {});
    return true;
  }

  /** Removes the connection file and gives the ports back (also done on exit). */
  cleanup(): Promise<void> {
    return this.launched.cleanup().catch(() => {});
  }
}
