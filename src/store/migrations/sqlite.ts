/**
 * SQLite schema migrations: numbered and append-only. Never edit an entry that
 * has shipped; add a new one. Applied in order by SqliteJobStore, each recorded
 * in `schema_migrations`.
 */
export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'jobs',
    sql: `
      CREATE TABLE jobs (
        id               TEXT PRIMARY KEY,
        status           TEXT NOT NULL CHECK (status IN ('queued','running','succeeded','failed','cancelled','timed_out')),
        username         TEXT NOT NULL,
        notebook         TEXT NOT NULL,
        parameters       TEXT NOT NULL,           -- JSON (non-finite floats tagged, see sqlite-job-store.ts)
        kernel           TEXT,
        timeout_s        REAL,
        cell_timeout_s   REAL,
        idempotency_key  TEXT,
        submitted_by     TEXT NOT NULL,
        source           TEXT NOT NULL DEFAULT 'api',
        created_at_ms    INTEGER NOT NULL,
        started_at_ms    INTEGER,
        finished_at_ms   INTEGER,
        updated_at_ms    INTEGER NOT NULL,        -- also the heartbeat of a running job
        output_path      TEXT,
        progress         TEXT NOT NULL DEFAULT '{"cells_total":0,"cells_done":0}',  -- JSON
        error            TEXT,                    -- JSON RunError
        result           TEXT,                    -- JSON object
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        worker_id        TEXT,
        attempts         INTEGER NOT NULL DEFAULT 0
      );
      CREATE UNIQUE INDEX jobs_idempotency ON jobs (username, idempotency_key) WHERE idempotency_key IS NOT NULL;
      CREATE INDEX jobs_queue ON jobs (status, created_at_ms, id);
      CREATE INDEX jobs_created ON jobs (created_at_ms, id);
      CREATE INDEX jobs_user_created ON jobs (username, created_at_ms, id);
      CREATE INDEX jobs_finished ON jobs (finished_at_ms) WHERE finished_at_ms IS NOT NULL;
    `,
  },
  {
    id: 2,
    name: 'jobs.target',
    sql: `ALTER TABLE jobs ADD COLUMN target TEXT NOT NULL DEFAULT 'local' CHECK (target IN ('local','user-server'));`,
  },
];
