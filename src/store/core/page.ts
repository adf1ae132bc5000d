/**
 * One page of a table, newest first (`created_at_ms DESC, id DESC`), after an
 * opaque cursor (store/cursor.ts): the listing of jobs, of schedules, of a
 * schedule's jobs, of pipelines and of a pipeline's runs, on either database.
 */
import { decodeCursor, encodeCursor } from '../cursor.js';
import { SqlArgs, type Sql, type SqlDialect } from './dialect.js';

/** The page size a caller asked for, within 1..1000. */
export function pageLimit(limit: number): number {
  return Math.max(1, Math.min(1000, Math.floor(limit) || 1));
}

/**
 * The query of one page: `where` adds its conditions (and their arguments) to
 * `args`. It reads one row more than the page, to know whether another follows.
 */
export function newestFirstQuery(
  d: SqlDialect,
  table: 'jobs' | 'schedules' | 'pipelines' | 'pipeline_runs',
  where: (args: SqlArgs) => string[],
  cursor: string | undefined,
  limit: number,
): Sql & { limit: number } {
  const args = new SqlArgs(d);
  const conds = where(args);
  if (cursor) {
    const c = decodeCursor(cursor);
    conds.push(d.before('created_at_ms', 'id', c.createdAtMs, c.id, args));
  }
  const n = pageLimit(limit);
  const text = `SELECT * FROM ${table} ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''} ORDER BY created_at_ms DESC, id DESC LIMIT ${args.add(n + 1)}`;
  return { text, args: args.values, limit: n };
}

/** The page from the rows `newestFirstQuery` read, and the cursor of the next one. */
export function pageOf<R extends { created_at_ms: number; id: string }>(rows: R[], limit: number): { rows: R[]; next_cursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { rows: page, next_cursor: rows.length > limit && last ? encodeCursor(Number(last.created_at_ms), last.id) : null };
}
