/**
 * What the engine needs from a running kernel, whatever carries the messages:
 * `KernelClient` (a local kernel process over ZeroMQ) or `ServerKernel` (a
 * kernel in a Jupyter server, e.g. the user's own single-user server, over the
 * server's REST + websocket API).
 *
 * The contract the engine relies on:
 * - `execute` resolves with the execute_reply content once the reply and the
 *   idle status arrived, calling `onIopub` for every iopub message of the
 *   request in order (status and execute_input included), shaped as `Message`;
 *   it rejects with `DeadKernelError` promptly when the kernel dies (never
 *   hangs), `TimeoutError` after `timeoutMs`, `AbortedError` on `signal`.
 * - `interrupt` asks the running cell to stop and returns without waiting for it.
 * - `kill` ends the kernel at once; pending executes then reject as dead.
 * - `shutdown` ends it gracefully, bounded; safe to call twice. `letFinish` (a hint, for
 *   a caller about to exit: the CLI) may return once the kernel answered shutdown_request,
 *   leaving its process to finish exiting on its own, bounded (KernelClient).
 */
import type { ExecuteReplyContent, ExecuteRequestContent, KernelInfoReplyContent, Message } from './messages.js';

export interface ExecuteOptions {
  /** Called for every iopub message that belongs to this request, in order (status/execute_input included). */
  onIopub?: (msg: Message) => void;
  timeoutMs?: number;
  signal?: AbortSignal;
  stopOnError?: boolean;
  silent?: boolean;
  storeHistory?: boolean;
}

/** The execute_request every kernel gets from hubmill: stdin always refused, history kept unless silent. */
export function executeRequestContent(code: string, opts: ExecuteOptions = {}): ExecuteRequestContent {
  return {
    code,
    silent: opts.silent ?? false,
    store_history: opts.storeHistory ?? !(opts.silent ?? false),
    user_expressions: {},
    allow_stdin: false,
    stop_on_error: opts.stopOnError ?? true,
  };
}

export interface ExecutionKernel {
  readonly id: string;
  /** The local process id, when the kernel is a local process. */
  readonly pid?: number | undefined;
  /** The kernelspec it was started from (the engine reads `name`). */
  readonly spec: { readonly name: string; readonly language: string };
  /** Its working directory as a local absolute path, when known (the engine moves it when this differs from the notebook's folder). */
  readonly cwd: string | undefined;
  /** The kernel_info_reply content, once ready. */
  readonly info: KernelInfoReplyContent | null;
  readonly language: string;
  readonly alive: boolean;
  execute(code: string, opts?: ExecuteOptions): Promise<ExecuteReplyContent>;
  interrupt(): Promise<void>;
  kill(): Promise<void>;
  shutdown(opts?: { graceMs?: number; letFinish?: boolean }): Promise<void>;
  /** Extra detail for error reports (e.g. the kernel's last stderr lines), prefixed with ':\n', or ''. */
  stderrSummary(): string;
}
