/**
 * One page of a table, newest first (`created_at_ms DESC, id DESC`), after an
 * opaque cursor (store/cursor.ts): the listing of jobs, of schedules and of a
 * schedule's jobs. `where` holds conditions on `args` ($1, $2, …).
 */
import type pg from 'pg';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { query } from './connect.js';

export async function newestFirstPage<R extends pg.QueryResultRow & { created_at_ms: number; id: string }>(
  pool: pg.Pool,
  table: 'jobs' | 'schedules',
  where: string[],
  args: unknown[],
  cursor: string | undefined,
  limit: number,
): Promise<{ rows: R[]; next_cursor: string | null }> {
  const arg = (v: unknown) => `$${args.push(v)}`;
  const conds = [...where];
  if (cursor) {
    const c = decodeCursor(cursor);
    conds.push(`(created_at_ms, id) < (${arg(c.createdAtMs)}, ${arg(c.id)})`);
  }
  const n = Math.max(1, Math.min(1000, Math.floor(limit) || 1));
  const sql = `SELECT * FROM ${table} ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''} ORDER BY created_at_ms DESC, id DESC LIMIT ${arg(n + 1)}`;
  const rows = (await query<R>(pool, sql, args)).rows;
  const page = rows.slice(0, n);
  const last = page[page.length - 1];
  return { rows: page, next_cursor: rows.length > n && last ? encodeCursor(last.created_at_ms, last.id) : null };
}
