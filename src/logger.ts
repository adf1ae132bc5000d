/**
 * The service's logger: pino, as JSON lines for log collectors, or as readable
 * coloured lines (pino-pretty) when a person watches the terminal.
 */
import { format } from 'node:util';
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { redactLogLine } from './secrets/active-values.js';

/** 'auto' becomes 'pretty' on a terminal and 'json' anywhere else (a pipe, a file, journald, Docker). */
export function chooseLogFormat(setting: Config['logFormat'], stdoutIsTTY: boolean): 'json' | 'pretty' {
  if (setting === 'auto') return stdoutIsTTY ? 'pretty' : 'json';
  return setting;
}

/** `destination` is for tests; the service logs to stdout. */
export async function createLogger(
  config: Pick<Config, 'logLevel' | 'logFormat'>,
  stdoutIsTTY = process.stdout.isTTY === true,
  destination?: NodeJS.WritableStream,
): Promise<Logger> {
  const options = {
    level: config.logLevel,
    base: { service: 'hubmill' },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'token', 'apiToken', 'config.apiToken', 'secretKey', 'config.secretKey'], censor: '[redacted]' },
    // The values of the secrets of jobs this process runs, in any field of any line (secrets/active-values.ts).
    hooks: { streamWrite: redactLogLine },
  };
  if (chooseLogFormat(config.logFormat, stdoutIsTTY) === 'json') return destination ? pino(options, destination) : pino(options);
  // Loaded only for a terminal; synchronous, so a line is on screen before the next one is logged.
  const { default: pretty } = await import('pino-pretty');
  return pino(options, pretty({ colorize: stdoutIsTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', sync: true, ...(destination ? { destination } : {}) }));
}

/**
 * Libraries that call `console.debug` (e.g. @jupyterlab/services: "Starting
 * WebSocket: …" for every user-server kernel) would put plain lines among the
 * JSON log lines on stdout: the service sends them to its log at debug level.
 */
export function routeConsoleDebug(logger: Logger): void {
  console.debug = (...args: unknown[]) => logger.debug(format(...args));
}
