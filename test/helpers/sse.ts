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

/**
 * Opens GET /api/v1/jobs/<id>/events on `base` and resolves with the data of the first event for which
 * `pred(event, data)` holds, then closes the stream; rejects on a non-200 answer, when the stream ends
 * first, or after `timeoutMs`. A bounded wait on the job's own events (a cell started, an output).
 */
export function sseEvent(
  base: string,
  token: string,
  jobId: string,
  pred: (event: string, data: any) => boolean, // eslint-disable-line @typescript-eslint/no-explicit-any
  timeoutMs: number,
): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const url = new URL(`${base}/api/v1/jobs/${encodeURIComponent(jobId)}/events`);
  return new Promise((resolve, reject) => {
    let done = false;
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, headers: { authorization: `token ${token}` } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`SSE ${url}: ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      res.on(
        'data',
        sseSplitter((b) => {
          if (done || b.comment || !b.event || b.data === undefined) return;
          const data = JSON.parse(b.data);
          if (!pred(b.event, data)) return;
          done = true;
          resolve(data);
          req.destroy();
        }),
      );
      res.on('end', () => done || reject(new Error(`SSE ${url} ended before the awaited event`)));
      res.on('error', (e) => done || reject(e));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`SSE ${url}: no awaited event within ${timeoutMs} ms`)));
    req.on('error', (e) => done || reject(e));
    req.end();
  });
}
