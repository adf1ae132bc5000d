/**
 * The server-sent-events plumbing shared by the job and pipeline-run event
 * routes: takes the reply over, writes the stream's headers and `retry:`,
 * sends a comment line every heartbeatMs so proxies keep the stream open,
 * and ends it once (on finish() or when the client goes away).
 */
import type { FastifyReply } from 'fastify';
import { toJsonText } from '../notebook/write.js';

export interface EventStream {
  /** True once the stream has ended: write() is then a no-op. */
  readonly closed: boolean;
  write(type: string, data: unknown, id: string | number): void;
  /** Ends the stream; safe to call twice. */
  finish(): void;
}

/** Hijacks the reply and starts the stream; onFinish runs once, when it ends. */
export function openEventStream(reply: FastifyReply, heartbeatMs: number, onFinish: () => void): EventStream {
  const raw = reply.raw;
  let closed = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    onFinish();
    raw.end();
  };
  const heartbeat = setInterval(() => {
    if (!closed) raw.write(': keep-alive\n\n');
  }, heartbeatMs);
  heartbeat.unref();
  raw.on('close', finish);

  reply.hijack();
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write('retry: 3000\n\n');
  return {
    get closed() {
      return closed;
    },
    write(type, data, id) {
      if (!closed) raw.write(`id: ${id}\nevent: ${type}\ndata: ${toJsonText(data)}\n\n`);
    },
    finish,
  };
}
