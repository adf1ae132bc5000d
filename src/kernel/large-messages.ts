/**
 * Garbage after very large kernel messages. ipykernel sends what a cell wrote to
 * stdout in the last 0.2 s as one message: a cell printing 100 MB arrives as a few
 * messages of 5–70 MB each. Handling one leaves its ZeroMQ frame (outside the V8
 * heap) and the slices parsed from it (inside) as garbage at once, but V8 collects them only
 * when its own limits say so, and by then several such copies may be held: a
 * service receiving 100 MB of stdout measured 2.6× the output in RSS growth.
 *
 * So once LARGE_BYTES of large messages were handled (each at least
 * MIN_MESSAGE_BYTES; small ones never count), one full collection is run right
 * after the last of them, before the next message is read; the read loop
 * yields a turn of the event loop (the frames' finalizers run there) and a
 * second collection follows: measured, without it the last frame was still
 * counted in `external` while the next one was decoded, with it `external`
 * fell to a few MB. It costs tens of milliseconds on a heap of a few
 * hundred megabytes, against seconds of kernel time to produce that much output.
 * The collector comes from V8's `--expose-gc`, enabled at run time for a fresh
 * context only (the process's own global `gc` is untouched); where that fails,
 * nothing is done.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const MIN_MESSAGE_BYTES = 4 * 1024 * 1024;
const LARGE_BYTES = 16 * 1024 * 1024;

let collect: (() => void) | null | undefined;
let pendingBytes = 0;

function collector(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    collect = typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    collect = null;
  }
  return collect;
}

/**
 * A kernel message of `bytes` was handled (decoded and dispatched): once LARGE_BYTES of large ones
 * were, collects the garbage and answers a promise that settles on the next macrotask, for the
 * read loop to await before it reads on; else null. The frames' memory belongs to ZeroMQ and is
 * freed by their Buffers' finalizers, which Node runs on a later turn of the event loop, not within
 * the collection: while a kernel keeps sending, the read loop runs on microtasks and that turn would
 * come only when the kernel stops. So the loop yields a turn here, and collects once more.
 */
export function largeMessageDone(bytes: number): Promise<void> | null {
  if (bytes < MIN_MESSAGE_BYTES) return null;
  pendingBytes += bytes;
  if (pendingBytes < LARGE_BYTES) return null;
  pendingBytes = 0;
  const gc = collector();
  if (!gc) return null;
  gc();
  // The first collection finds the frames unreachable and queues their finalizers; once they ran
  // (a later turn), a second one frees what they held (measured: only then does `external` drop).
  return nextTurn()
    .then(() => gc())
    .then(nextTurn);
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * One full collection now, where available: for a reader parsing a large frame slice by slice
 * (large-stream.ts), whose slices' garbage would otherwise pile up to 1.5–2× the message (measured)
 * before V8's own limits call for a collection.
 */
export function collectNow(): void {
  collector()?.();
}

/** The size of a message's frames. */
export function frameBytes(frames: readonly Buffer[]): number {
  let n = 0;
  for (const f of frames) n += f.length;
  return n;
}
