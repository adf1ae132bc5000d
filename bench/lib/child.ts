/** Runs a bench part as its own process; its last stdout line is its JSON result. */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const log = (s: string) => process.stderr.write(`${s}\n`);

export function runJsonChild(cmd: string, args: string[], timeoutMs: number): Promise<{ json: unknown; error: string | null }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { cwd: root, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
      const lines = stdout.trim().split('\n');
      let json: unknown = null;
      try {
        json = JSON.parse(lines[lines.length - 1] ?? '');
      } catch {
        json = null;
      }
      const tail = stderr.trim().split('\n').filter((l) => !/Debugger warning|frozen modules|Debugging will proceed|^0\.00s - /.test(l)).slice(-3).join(' | ');
      resolve({ json, error: json ? null : `${err ? err.message.split('\n')[0] : 'no JSON result'}${tail ? `: ${tail}` : ''}` });
    });
    child.stderr?.on('data', (c: Buffer) => {
      for (const line of c.toString('utf8').split('\n')) if (/overhead round|ready round|fork server: |throughput |latency at/.test(line)) log(line);
    });
  });
}
