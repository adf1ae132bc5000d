/**
 * The Jupyter wire format over ZeroMQ: framing and HMAC signatures.
 * [identities..., "<IDS|MSG>", signature, header, parent_header, metadata, content, ...buffers]
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { parseJsonExact } from '../notebook/exact-json.js';
import { decodeLargeStream, LARGE_STREAM_BYTES } from './large-stream.js';
import type { Channel, Message, MessageHeader, MessageType } from './messages.js';

const DELIMITER = Buffer.from('<IDS|MSG>');

/** Messages whose content lands in the output notebook: their numbers are kept as the kernel wrote them (`1.0`, 2**63). */
const EXACT_CONTENT = new Set<string>(['display_data', 'execute_result', 'update_display_data']);

/** Whether a message's content is parsed keeping every number as written (notebook/exact-json). */
export function keepsExactNumbers(msgType: string | undefined): boolean {
  return msgType !== undefined && EXACT_CONTENT.has(msgType);
}
export const PROTOCOL_VERSION = '5.3';

/** A message's content: display data with exact numbers, a large stream's text as a LongText (kernel/large-stream.ts). */
function decodeContent(msgType: string | undefined, frame: Buffer): Message['content'] {
  if (msgType === 'stream' && frame.length >= LARGE_STREAM_BYTES) {
    const big = decodeLargeStream(frame);
    if (big) return big as unknown as Message['content'];
  }
  const content = frame.toString('utf8');
  return (keepsExactNumbers(msgType) ? parseJsonExact(content) : JSON.parse(content)) as Message['content'];
}

export class WireCodec {
  readonly session = randomUUID();
  private readonly key: Buffer;
  constructor(
    key: string,
    private readonly username = 'hubmill',
  ) {
    this.key = Buffer.from(key, 'utf8');
  }

  private sign(frames: Buffer[]): string {
    if (this.key.length === 0) return '';
    const h = createHmac('sha256', this.key);
    for (const f of frames) h.update(f);
    return h.digest('hex');
  }

  header(msgType: MessageType): MessageHeader {
    return {
      msg_id: randomUUID(),
      session: this.session,
      username: this.username,
      date: new Date().toISOString(),
      msg_type: msgType,
      version: PROTOCOL_VERSION,
    };
  }

  /** Frames for a Dealer socket (no identities). */
  encode(header: MessageHeader, content: unknown, parentHeader: MessageHeader | Record<string, never> = {}, metadata: Message['metadata'] = {}): Buffer[] {
    const parts = [
      Buffer.from(JSON.stringify(header)),
      Buffer.from(JSON.stringify(parentHeader)),
      Buffer.from(JSON.stringify(metadata)),
      Buffer.from(JSON.stringify(content)),
    ];
    return [DELIMITER, Buffer.from(this.sign(parts)), ...parts];
  }

  /** Parses and verifies one message; returns null for a bad signature or malformed frames (silently dropped, as kernels do). */
  decode(frames: Buffer[], channel: Channel): Message | null {
    let i = 0;
    while (i < frames.length && !frames[i]!.equals(DELIMITER)) i++;
    if (i >= frames.length || frames.length < i + 6) return null;
    const signature = frames[i + 1]!;
    const parts = frames.slice(i + 2, i + 6);
    if (this.key.length > 0) {
      const expected = Buffer.from(this.sign(parts));
      if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return null;
    }
    try {
      const header = JSON.parse(parts[0]!.toString('utf8')) as MessageHeader;
      return {
        header,
        parent_header: JSON.parse(parts[1]!.toString('utf8')),
        metadata: JSON.parse(parts[2]!.toString('utf8')),
        content: decodeContent(header?.msg_type, parts[3]!),
        channel,
        buffers: frames.slice(i + 6),
      };
    } catch {
      return null;
    }
  }
}
