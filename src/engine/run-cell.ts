/**
 * One cell on one kernel, with the run's stop conditions: a per-cell timeout, a
 * whole-run timeout or a cancel interrupts the kernel, waits a little for the cell to
 * stop, and kills the kernel if it does not.
 */
import { AbortedError, DeadKernelError, TimeoutError } from '../errors.js';
import type { ExecutionKernel } from '../kernel/execution-kernel.js';
import type { ExecuteReplyContent, Message } from '../kernel/messages.js';

/** How long an interrupted cell may take to stop before the kernel is killed. */
const INTERRUPT_GRACE_MS = 3000;

/** Why the wait for a cell ended, other than a reply. */
export type StopReason = 'cell_timeout' | 'run_timeout' | 'cancelled';

/** The run's stop request: fired once, by a cancel or the whole-run timer. */
export class StopSignal {
  reason: StopReason | null = null;
  private listeners: Array<() => void> = [];
  fire(reason: StopReason): void {
    if (this.reason) return;
    this.reason = reason;
    for (const l of this.listeners.splice(0)) l();
  }
  wait(): Promise<void> {
    if (this.reason) return Promise.resolve();
    return new Promise((r) => this.listeners.push(r));
  }
}

export interface CellOutcome {
  kind: 'reply' | 'dead' | 'stopped';
  reply?: ExecuteReplyContent;
  reason?: StopReason;
}

export async function runCell(
  kernel: ExecutionKernel,
  code: string,
  o: { onIopub: (m: Message) => void; stopOnError: boolean; cellTimeoutMs?: number; stop: StopSignal },
): Promise<CellOutcome> {
  const exec = kernel.execute(code, { onIopub: o.onIopub, stopOnError: o.stopOnError }).then(
    (reply): CellOutcome => ({ kind: 'reply', reply }),
    (err: Error): CellOutcome => {
      if (err instanceof DeadKernelError) return { kind: 'dead' };
      if (err instanceof AbortedError || err instanceof TimeoutError) return { kind: 'dead' };
      throw err;
    },
  );
  let cellTimer: NodeJS.Timeout | undefined;
  let cellTimedOut = false;
  const cellTimeout = new Promise<void>((r) => {
    if (o.cellTimeoutMs !== undefined && o.cellTimeoutMs > 0) {
      cellTimer = setTimeout(() => {
        cellTimedOut = true;
        r();
      }, o.cellTimeoutMs);
    }
  });
  const first = await Promise.race([exec, cellTimeout.then(() => null), o.stop.wait().then(() => null)]);
  clearTimeout(cellTimer);
  if (first) return first;
  const reason: StopReason = cellTimedOut ? 'cell_timeout' : o.stop.reason!;
  await kernel.interrupt();
  let grace: NodeJS.Timeout | undefined;
  const settled = await Promise.race([exec, new Promise<null>((r) => (grace = setTimeout(() => r(null), INTERRUPT_GRACE_MS)))]);
  clearTimeout(grace);
  if (!settled) {
    // The kernel ignored the interrupt: kill it; the pending execute rejects as dead.
    await kernel.kill();
    await exec;
    return { kind: 'stopped', reason };
  }
  return { kind: 'stopped', reason, reply: settled.reply };
}
