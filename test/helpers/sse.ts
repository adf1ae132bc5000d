/**
 * Splits a text/event-stream into its blocks as chunks arrive: calls `onBlock`
 * with each block's `event`, `data` (raw text), `id` (absent: undefined) and
 * whether it was a comment (`: keep-alive`). Used by the end-to-end SSE tests;
 * `sseEvent` waits for one event of a job's stream.
 */
import { request as httpRequest } from 'node:http';

export interface SseBlock {
  event?: string;
  data?: string;
  id?: string;
  comment: boolean;
}

export function sseSplitter(onBlock: (b: SseBlock) => void): (chunk: string) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      onBlock({
        event: /^event: (.*)$/m.exec(block)?.[1],
        data: /^data: (.*)$/m.exec(block)?.[1],
        id: /^id: (.*)$/m.exec(block)?.[1],
        comment: block.startsWith(':'),
      });
    }
  };
}

export interface SseEvent {
  event: string;
  id: string | undefined;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Opens GET /api/v1/jobs/<id>/events on `base` with `token` and calls `onEvent` with each event
 * (comments left out), with a `stop()` that closes the stream. `onEnd` runs when the server ends
 * the stream; `onError` on a non-200 answer, a broken stream, or after `timeoutMs` (its message is
 * `SSE <url>` followed by `timeoutText`).
 */
export function readJobEvents(
  base: string,
  token: string,
  jobId: string,
  timeoutMs: number,
  timeoutText: string,
  on: { event: (e: SseEvent, stop: () => void) => void; end: () => void; error: (e: Error) => void },
): void {
  const url = new URL(`${base}/api/v1/jobs/${encodeURIComponent(jobId)}/events`);
  const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, headers: { authorization: `token ${token}` } }, (res) => {
    if (res.statusCode !== 200) {
      res.resume();
      on.error(new Error(`SSE ${url}: ${res.statusCode}`));
      return;
    }
    res.setEncoding('utf8');
    res.on(
      'data',
      sseSplitter((b) => {
        if (b.comment || !b.event || b.data === undefined) return;
        on.event({ event: b.event, id: b.id, data: JSON.parse(b.data) }, () => req.destroy());
      }),
    );
    res.on('end', on.end);
    res.on('error', on.error);
  });
  req.setTimeout(timeoutMs, () => req.destroy(new Error(`SSE ${url}${timeoutText}`)));
  req.on('error', on.error);
  req.end();
}

/**
 * Resolves with the data of the first event of the job's stream for which `pred(event, data)`
 * holds, then closes the stream; rejects on a non-200 answer, when the stream ends first, or after
 * `timeoutMs`. A bounded wait on the job's own events (a cell started, an output).
 */
export function sseEvent(
  base: string,
  token: string,
  jobId: string,
  pred: (event: string, data: any) => boolean, // eslint-disable-line @typescript-eslint/no-explicit-any
  timeoutMs: number,
): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    let done = false;
    readJobEvents(base, token, jobId, timeoutMs, `: no awaited event within ${timeoutMs} ms`, {
      event: (e, stop) => {
        if (done || !pred(e.event, e.data)) return;
        done = true;
        resolve(e.data);
        stop();
      },
      end: () => done || reject(new Error(`SSE ${base}/api/v1/jobs/${jobId}/events ended before the awaited event`)),
      error: (e) => done || reject(e),
    });
  });
}
