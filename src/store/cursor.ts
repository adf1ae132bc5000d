/** The paging cursor of `JobStore.list`, shared by the stores that page by creation time. */
import { UsageError } from '../errors.js';

/** Opaque paging cursor: base64url of `[created_at_ms, id]` of the last job on the page. */
export function encodeCursor(createdAtMs: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAtMs, id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { createdAtMs: number; id: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') {
      return { createdAtMs: v[0] as number, id: v[1] };
    }
  } catch {
    // fall through
  }
  throw new UsageError('invalid cursor');
}
