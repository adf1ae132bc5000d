/**
 * Waits for a `hubmill serve` child (started with `--port 0`) to print its banner
 * on stderr and answers its base URL (`http://127.0.0.1:PORT`). Rejects when the
 * process exits first or after `timeoutMs`. Shared by the end-to-end tests and the bench.
 */
import type { ChildProcess } from 'node:child_process';

export function waitForServeUrl(child: ChildProcess, timeoutMs = 60_000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start within ${timeoutMs / 1000} s: ${err.slice(-500)}`)), timeoutMs);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      err += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${err.slice(-500)}`));
    });
  });
}
