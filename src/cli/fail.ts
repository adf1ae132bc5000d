/** How the CLI reports an error that ends a command: exit 2 for hubmill's own (bad usage or input), 1 with the stack otherwise. */
import { HubmillError } from '../errors.js';

export function fail(err: unknown): number {
  if (err instanceof HubmillError) {
    process.stderr.write(`hubmill: error: ${err.message}\n`);
    return 2;
  }
  process.stderr.write(`hubmill: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
