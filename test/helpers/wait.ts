/**
 * Bounded waits for tests: poll a condition until it holds or a deadline
 * passes (then fail, saying what was awaited). Tests wait on a condition or an
 * event this way, never for a fixed time.
 */

/** Polls `check` until it returns a value other than undefined/false, or fails after `ms`. */
export async function eventually<T>(check: () => T | Promise<T>, ms: number, what: string, stepMs = 20): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as Exclude<T, undefined | false>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
