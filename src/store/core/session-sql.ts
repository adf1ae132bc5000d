/**
 * The browser session store's SQL, written once for both databases (the
 * contract is store/session-store.ts); each backend only runs the statements.
 */
import type { BrowserSession, NewBrowserSession, SessionStore } from '../session-store.js';
import { SqlArgs, type Sql, type SqlDialect } from './dialect.js';
import type { Row } from './steps.js';

const COLUMNS = 'id_hash, username, kind, via, credential, created_at_ms, expires_at_ms';

export abstract class SessionStoreCore implements SessionStore {
  constructor(
    private readonly d: SqlDialect,
    protected readonly now: () => number,
  ) {}

  /** Runs one statement; its rows (RETURNING included). */
  protected abstract rows(q: Sql): Promise<Row[]>;

  private sql(build: (a: SqlArgs) => string): Sql {
    const a = new SqlArgs(this.d);
    const text = build(a);
    return { text, args: a.values };
  }

  async create(s: NewBrowserSession): Promise<BrowserSession> {
    const now = this.now();
    const row: BrowserSession = {
      id_hash: s.id_hash,
      username: s.username,
      kind: s.kind,
      via: s.via,
      credential: s.credential,
      created_at_ms: now,
      expires_at_ms: now + Math.max(0, Math.floor(s.ttl_ms)),
    };
    const values = [row.id_hash, row.username, row.kind, row.via, row.credential, row.created_at_ms, row.expires_at_ms];
    await this.rows(this.sql((a) => `INSERT INTO browser_sessions (${COLUMNS}) VALUES (${values.map((v) => a.add(v)).join(', ')})`));
    return row;
  }

  async get(idHash: string): Promise<BrowserSession | null> {
    const q = this.sql((a) => `SELECT ${COLUMNS} FROM browser_sessions WHERE id_hash = ${a.add(idHash)} AND expires_at_ms > ${a.add(this.now())}`);
    const r = (await this.rows(q))[0];
    return r ? (r as unknown as BrowserSession) : null;
  }

  async revoke(idHash: string): Promise<boolean> {
    return (await this.rows(this.sql((a) => `DELETE FROM browser_sessions WHERE id_hash = ${a.add(idHash)} RETURNING id_hash`))).length > 0;
  }

  async revokeUser(username: string): Promise<number> {
    return (await this.rows(this.sql((a) => `DELETE FROM browser_sessions WHERE username = ${a.add(username)} RETURNING id_hash`))).length;
  }

  async deleteExpired(): Promise<number> {
    return (await this.rows(this.sql((a) => `DELETE FROM browser_sessions WHERE expires_at_ms <= ${a.add(this.now())} RETURNING id_hash`))).length;
  }
}
