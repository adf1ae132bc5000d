/**
 * Splits a text/event-stream into its blocks as chunks arrive: calls `onBlock`
 * with each block's `event`, `data` (raw text), `id` (absent: undefined) and
 * whether it was a comment (`: keep-alive`). Used by the end-to-end SSE tests.
 */
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
