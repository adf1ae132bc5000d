/**
 * For the browser tests: a real `hubmill serve` from dist/ (port 0, so the
 * server binds its own port; the printed `?token=` link is parsed), and a
 * headless Debian Chromium. Both are stopped on every path by their `stop`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT } from '../helpers/jupyterhub.js';

export interface Served {
  base: string;
  /** The link `hubmill serve` printed (with ?token= when the token was generated). */
  link: string;
  token: string;
  child: ChildProcess;
  stderr(): string;
  /** What the server logged (pino writes to stdout). */
  log(): string;
  stop(): Promise<void>;
}

export function assertBuilt(): void {
  for (const f of ['dist/cli/index.js', 'dist/ui/index.html', 'dist/ui/build.json']) {
    if (!existsSync(join(REPO_ROOT, f))) throw new Error(`${f} is missing: run \`npm run build\` (npm test builds it)`);
  }
}

export async function serve(env: Record<string, string>, opts: { port?: number; timeoutMs?: number } = {}): Promise<Served> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  assertBuilt();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'cli', 'index.js'), 'serve', '--host', '127.0.0.1', '--port', String(opts.port ?? 0)], {
    cwd: REPO_ROOT,
    env: { ...process.env, HUBMILL_LOG_LEVEL: 'warn', JUPYTERHUB_API_URL: '', JUPYTERHUB_API_TOKEN: '', HUBMILL_API_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let log = '';
  child.stderr!.setEncoding('utf8');
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    log += d;
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  try {
    const link = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`hubmill serve printed no URL within ${timeoutMs} ms: ${err}`)), timeoutMs);
      child.stderr!.on('data', (d: string) => {
        err += d;
        const m = /(http:\/\/127\.0\.0\.1:\d+\/\S*)\s/.exec(err); // the whole line, not a chunk of it
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`hubmill serve exited with ${code}: ${err}`));
      });
    });
    const u = new URL(link);
    return { base: u.origin, link, token: u.searchParams.get('token') ?? env.HUBMILL_API_TOKEN ?? '', child, stderr: () => err, log: () => log, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 30_000,
  });
}

/** A 4×4 red PNG (for an image output without matplotlib). */
export const PNG_B64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGP4z8AARwzEcQCukw/x0F8jngAAAABJRU5ErkJggg==';
