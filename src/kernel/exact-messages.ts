/**
 * Display messages from a kernel in a Jupyter server (its websocket, read by
 * `@jupyterlab/services`) with their numbers as the kernel wrote them, as
 * wire.ts does for ZeroMQ: `1.0` stays a float, 2**63 keeps every digit.
 *
 * The library deep-copies the display messages it routes by display id
 * (`JSONExt.deepCopy`, which knows no PyFloat or bigint), so the exact content
 * does not go into the library's message: the serializer keeps it aside by
 * msg_id, and `contentOf` swaps it in when the message reaches hubmill.
 */
import type { KernelMessage, ServerConnection } from '@jupyterlab/services';
import { mayChangeNumbers, parseJsonExact } from '../notebook/exact-json.js';
import { keepsExactNumbers } from './wire.js';

type Serializer = ServerConnection.ISettings['serializer'];

/** The binary websocket protocol of Jupyter Server: 8-byte offsets, then channel, header, parent, metadata, content, buffers. */
const V1_PROTOCOL = 'v1.kernel.websocket.jupyter.org';

export class ExactContents {
  private readonly byId = new Map<string, unknown>();

  /** `limit`: how many exact contents are kept (the oldest goes first); a run's outputs are consumed as they arrive. */
  constructor(private readonly limit = 256) {}

  /** `base` (the library's serializer), with exact contents kept aside for display messages. */
  serializer(base: Serializer): Serializer {
    return {
      serialize: (msg, protocol) => base.serialize(msg, protocol),
      deserialize: (data, protocol) => {
        const msg = base.deserialize(data, protocol);
        if (keepsExactNumbers(msg.header?.msg_type)) {
          const exact = exactContent(data as ArrayBuffer | string, protocol);
          if (exact !== undefined) this.keep(msg.header.msg_id, exact);
        }
        return msg;
      },
    };
  }

  /** The message's content, with exact numbers when the serializer kept them for its msg_id. */
  contentOf(msg: KernelMessage.IMessage): unknown {
    return this.byId.get(msg.header.msg_id) ?? msg.content;
  }

  private keep(msgId: string, content: unknown): void {
    this.byId.delete(msgId);
    this.byId.set(msgId, content);
    if (this.byId.size > this.limit) this.byId.delete(this.byId.keys().next().value as string);
  }
}

/** The content parsed exactly, or undefined when JSON.parse could not have changed a number (or the framing is unknown). */
function exactContent(data: ArrayBuffer | string, protocol: string | undefined): unknown {
  if (typeof data === 'string') {
    // The legacy protocol: the whole message as one JSON text.
    if (!mayChangeNumbers(data)) return undefined;
    return (parseJsonExact(data) as { content?: unknown }).content;
  }
  if (protocol !== V1_PROTOCOL || !(data instanceof ArrayBuffer) || data.byteLength < 8) return undefined;
  const view = new DataView(data);
  const count = Number(view.getBigUint64(0, true));
  if (count < 6 || data.byteLength < 8 * (count + 1)) return undefined;
  const start = Number(view.getBigUint64(8 * 5, true));
  const end = Number(view.getBigUint64(8 * 6, true));
  if (!(start <= end && end <= data.byteLength)) return undefined;
  const text = new TextDecoder('utf8').decode(new Uint8Array(data, start, end - start));
  return mayChangeNumbers(text) ? parseJsonExact(text) : undefined;
}
