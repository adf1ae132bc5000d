/**
 * What differs between the SQL of SQLite and of PostgreSQL, for the statements
 * the store core (core/job-sql.ts) writes once for both: the placeholder style
 * (`?` vs `$n`), list arguments, booleans, integer counts and row locking.
 * Everything else (the transaction runner, NOTIFY) stays in each backend.
 */

export interface SqlDialect {
  readonly name: 'sqlite' | 'postgres';
  /** The placeholder of the n-th argument (1-based). */
  placeholder(n: number): string;
  /** `column IN (…values)`, the list bound as arguments; one value is an equality (an index walks it in order). */
  oneOf(column: string, values: readonly string[], args: SqlArgs): string;
  /** A column its planner must not choose an index for (SQLite's unary `+`); PostgreSQL: the column. */
  noIndex(column: string): string;
  /** The keyset condition `(a, b) < (x, y)` of a page that runs newest first. */
  before(a: string, b: string, x: unknown, y: unknown, args: SqlArgs): string;
  /** `a` differs from `b`, NULLs compared as values. */
  distinct(a: string, b: string): string;
  /** A boolean as a literal of this database. */
  bool(v: boolean): string;
  /** A boolean as an argument (better-sqlite3 binds no booleans). */
  boolArg(v: boolean): unknown;
  /** A row count as a JavaScript number (PostgreSQL's COUNT is a bigint). */
  readonly count: string;
  /** After `FROM table`: the index SQLite's planner must use (PostgreSQL: none, its planner picks). */
  indexedBy(index: string): string;
  /** Appended to a SELECT that picks rows to change: lock them, skipping those another transaction holds (SQLite: the write lock does it). */
  readonly skipLocked: string;
  /** Appended to a SELECT of rows a decision rests on: lock them, waiting for another transaction that holds them (SQLite: the write lock does it). */
  readonly forUpdate: string;
}

/** The arguments of one statement; `add` returns the value's placeholder, in the order the SQL text uses them. */
export class SqlArgs {
  readonly values: unknown[] = [];
  constructor(private readonly d: SqlDialect) {}
  add(v: unknown): string {
    this.values.push(v);
    return this.d.placeholder(this.values.length);
  }
}

/** A statement and its arguments. */
export interface Sql {
  text: string;
  args: unknown[];
}

export const SQLITE: SqlDialect = {
  name: 'sqlite',
  placeholder: () => '?',
  oneOf: (column, values, args) => `${column} IN (${values.map((v) => args.add(v)).join(', ')})`,
  noIndex: (column) => `+${column}`,
  // The expanded form: SQLite's planner walks (created_at_ms, id) indexes with it.
  before: (a, b, x, y, args) => `(${a} < ${args.add(x)} OR (${a} = ${args.add(x)} AND ${b} < ${args.add(y)}))`,
  distinct: (a, b) => `${a} IS NOT ${b}`,
  bool: (v) => (v ? '1' : '0'),
  boolArg: (v) => (v ? 1 : 0),
  count: 'COUNT(*)',
  indexedBy: (index) => ` INDEXED BY ${index}`,
  skipLocked: '',
  forUpdate: '',
};

export const POSTGRES: SqlDialect = {
  name: 'postgres',
  placeholder: (n) => `$${n}`,
  // One status as an equality: an index scan in (status, created_at_ms, id) order, which = ANY cannot give before PostgreSQL 17.
  oneOf: (column, values, args) => (values.length === 1 ? `${column} = ${args.add(values[0])}` : `${column} = ANY(${args.add([...values])}::text[])`),
  noIndex: (column) => column,
  before: (a, b, x, y, args) => `(${a}, ${b}) < (${args.add(x)}, ${args.add(y)})`,
  distinct: (a, b) => `${a} IS DISTINCT FROM ${b}`,
  bool: (v) => (v ? 'true' : 'false'),
  boolArg: (v) => v,
  count: 'COUNT(*)::int',
  indexedBy: () => '',
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  forUpdate: ' FOR UPDATE',
};
