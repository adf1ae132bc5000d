/**
 * Store logic written once for both databases although one runs synchronously
 * (better-sqlite3, inside `db.transaction`) and the other asynchronously (pg):
 * the logic is a generator that yields each statement and receives its rows;
 * each backend drives it inside its own transaction. So the pipeline runs'
 * state machine (core/pipeline-runs.ts) has one copy, and SQLite's transaction
 * never yields to the event loop (nothing else can slip into it).
 */
import type { Sql } from './dialect.js';

export type Row = Record<string, unknown>;

/** A piece of logic that runs statements (yields them, gets back their rows) and returns a T. */
export type Steps<T> = Generator<Sql, T, Row[]>;

/** The rows of one statement (none for a statement that returns nothing). */
export function* rowsOf<R>(q: Sql): Generator<Sql, R[], Row[]> {
  return (yield q) as unknown as R[];
}

/** The first row of one statement, if any. */
export function* firstOf<R>(q: Sql): Generator<Sql, R | undefined, Row[]> {
  return ((yield q) as unknown as R[])[0];
}

/** Runs the steps with a synchronous executor (SQLite); the caller holds the transaction. */
export function runSync<T>(steps: Steps<T>, exec: (q: Sql) => Row[]): T {
  let next = steps.next();
  while (!next.done) next = steps.next(exec(next.value));
  return next.value;
}

/** Runs the steps with an asynchronous executor (PostgreSQL); the caller holds the transaction. */
export async function runAsync<T>(steps: Steps<T>, exec: (q: Sql) => Promise<Row[]>): Promise<T> {
  let next = steps.next();
  while (!next.done) next = steps.next(await exec(next.value));
  return next.value;
}
