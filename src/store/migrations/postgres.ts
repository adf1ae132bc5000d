/**
 * PostgreSQL schema migrations: versioned and append-only. Never edit an entry
 * that has shipped; append `{ version, name, sql }` with the next version.
 * Applied in order at start by `applyPgMigrations` (migrations/apply-postgres.ts),
 * all in one transaction under an advisory lock, each recorded in
 * `schema_migrations`. Every table lives in the store's schema (search_path).
 *
 * The same tables as SQLite (migrations/sqlite.ts), with PostgreSQL types:
 * epoch milliseconds are BIGINT, flags BOOLEAN, ids TEXT COLLATE "C" (so SQL
 * orders them as JavaScript does). Parameters, progress, errors and results
 * stay lossless-json TEXT, not jsonb: jsonb turns -0.0 into 0.0, re-orders the
 * keys (papermill injects parameters in the order given) and rewrites numbers
 * such as 1e400; NaN and ±Inf are not JSON at all (test/store/pg-job-store.test.ts).
 */
export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'jobs and schedules',
    sql: `
      CREATE TABLE jobs (
        id               TEXT COLLATE "C" PRIMARY KEY,
        status           TEXT NOT NULL CHECK (status IN ('queued','running','succeeded','failed','cancelled','timed_out')),
        username         TEXT NOT NULL,
        notebook         TEXT NOT NULL,
        parameters       TEXT NOT NULL,
        kernel           TEXT,
        timeout_s        DOUBLE PRECISION,
        cell_timeout_s   DOUBLE PRECISION,
        idempotency_key  TEXT,
        submitted_by     TEXT NOT NULL,
        source           TEXT NOT NULL DEFAULT 'api',
        created_at_ms    BIGINT NOT NULL,
        started_at_ms    BIGINT,
        finished_at_ms   BIGINT,
        updated_at_ms    BIGINT NOT NULL,
        output_path      TEXT,
        progress         TEXT NOT NULL DEFAULT '{"cells_total":0,"cells_done":0}',
        error            TEXT,
        result           TEXT,
        cancel_requested BOOLEAN NOT NULL DEFAULT false,
        worker_id        TEXT,
        attempts         INTEGER NOT NULL DEFAULT 0,
        target           TEXT NOT NULL DEFAULT 'local' CHECK (target IN ('local','user-server')),
        schedule_id      TEXT COLLATE "C",
        scheduled_for_ms BIGINT,
        attempt          INTEGER NOT NULL DEFAULT 1,
        schedule_settled BOOLEAN NOT NULL DEFAULT false
      );
      CREATE UNIQUE INDEX jobs_idempotency ON jobs (username, idempotency_key) WHERE idempotency_key IS NOT NULL;
      CREATE INDEX jobs_queue ON jobs (created_at_ms, id) WHERE status = 'queued';
      CREATE INDEX jobs_status ON jobs (status);
      CREATE INDEX jobs_running ON jobs (updated_at_ms) WHERE status = 'running';
      CREATE INDEX jobs_created ON jobs (created_at_ms, id);
      CREATE INDEX jobs_user_created ON jobs (username, created_at_ms, id);
      CREATE INDEX jobs_user_active ON jobs (username) WHERE status IN ('queued','running');
      CREATE INDEX jobs_finished ON jobs (finished_at_ms, id) WHERE finished_at_ms IS NOT NULL;
      CREATE INDEX jobs_schedule ON jobs (schedule_id, created_at_ms, id) WHERE schedule_id IS NOT NULL;
      CREATE INDEX jobs_schedule_unsettled ON jobs (finished_at_ms, id) WHERE schedule_id IS NOT NULL AND NOT schedule_settled;
      CREATE INDEX jobs_schedule_active ON jobs (schedule_id) WHERE schedule_id IS NOT NULL AND status IN ('queued','running');
      CREATE UNIQUE INDEX jobs_schedule_attempt ON jobs (schedule_id, scheduled_for_ms, attempt) WHERE scheduled_for_ms IS NOT NULL;

      CREATE TABLE schedules (
        id                TEXT COLLATE "C" PRIMARY KEY,
        owner             TEXT NOT NULL,
        created_by        TEXT NOT NULL,
        name              TEXT NOT NULL,
        notebook          TEXT NOT NULL,
        parameters        TEXT NOT NULL,
        kernel            TEXT,
        cron              TEXT NOT NULL,
        timezone          TEXT NOT NULL,
        timeout_s         DOUBLE PRECISION,
        cell_timeout_s    DOUBLE PRECISION,
        overlap           TEXT NOT NULL CHECK (overlap IN ('skip','queue','allow')),
        max_concurrent    INTEGER NOT NULL,
        max_retries       INTEGER NOT NULL,
        retry_backoff_s   DOUBLE PRECISION NOT NULL,
        catchup           TEXT NOT NULL CHECK (catchup IN ('latest','all','none')),
        max_catchup       INTEGER NOT NULL,
        start_at_ms       BIGINT,
        end_at_ms         BIGINT,
        paused            BOOLEAN NOT NULL DEFAULT false,
        notify            TEXT,
        webhook_secret    TEXT,
        next_run_at_ms    BIGINT,
        last_fire_ms      BIGINT,
        last_job_id       TEXT,
        fires             INTEGER NOT NULL DEFAULT 0,
        missed_skipped    INTEGER NOT NULL DEFAULT 0,
        overlap_skipped   INTEGER NOT NULL DEFAULT 0,
        retries           INTEGER NOT NULL DEFAULT 0,
        created_at_ms     BIGINT NOT NULL,
        updated_at_ms     BIGINT NOT NULL
      );
      CREATE INDEX schedules_due ON schedules (next_run_at_ms) WHERE NOT paused AND next_run_at_ms IS NOT NULL;
      CREATE INDEX schedules_owner ON schedules (owner, created_at_ms, id);
      CREATE INDEX schedules_created ON schedules (created_at_ms, id);
      -- One row per fire time: the primary key makes each fire happen once, whatever the number of nodes.
      CREATE TABLE schedule_fires (
        schedule_id       TEXT COLLATE "C" NOT NULL,
        scheduled_for_ms  BIGINT NOT NULL,
        outcome           TEXT NOT NULL CHECK (outcome IN ('enqueued','skipped_overlap')),
        job_id            TEXT,
        fired_at_ms       BIGINT NOT NULL,
        PRIMARY KEY (schedule_id, scheduled_for_ms)
      );
      CREATE TABLE schedule_pending (
        schedule_id       TEXT COLLATE "C" NOT NULL,
        scheduled_for_ms  BIGINT NOT NULL,
        attempt           INTEGER NOT NULL,
        due_at_ms         BIGINT NOT NULL,
        wait_for_idle     BOOLEAN NOT NULL DEFAULT false,
        PRIMARY KEY (schedule_id, scheduled_for_ms, attempt)
      );
      CREATE INDEX schedule_pending_due ON schedule_pending (due_at_ms);
    `,
  },
  {
    version: 2,
    name: 'jobs.server_name (named user servers)',
    sql: `ALTER TABLE jobs ADD COLUMN server_name TEXT;`,
  },
  {
    version: 3,
    name: 'job events across nodes (the PostgreSQL event bus)',
    // IF NOT EXISTS: schemas where an event bus used on its own made these tables before (migrateEventBus, now gone).
    sql: `
      CREATE TABLE IF NOT EXISTS job_event_seq (
        job_id text PRIMARY KEY,
        last bigint NOT NULL,
        ended boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE IF NOT EXISTS job_events (
        job_id text NOT NULL,
        seq bigint NOT NULL,
        event text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (job_id, seq)
      );
      CREATE INDEX IF NOT EXISTS job_event_seq_updated_at ON job_event_seq (updated_at);
    `,
  },
  {
    version: 5,
    name: 'schedules.misfire_grace_s',
    sql: `ALTER TABLE schedules ADD COLUMN misfire_grace_s DOUBLE PRECISION;`,
  },
  {
    // A long history (issue 16: a million jobs): every filter of the job list walks an index in its
    // newest-first order instead of scanning all jobs for a notebook or a status. jobs_status is the
    // prefix of jobs_status_created (countByStatus reads that one now).
    version: 6,
    name: 'jobs: list indexes for a long history',
    sql: `
      CREATE INDEX jobs_notebook_created ON jobs (notebook, created_at_ms, id);
      CREATE INDEX jobs_user_notebook_created ON jobs (username, notebook, created_at_ms, id);
      CREATE INDEX jobs_status_created ON jobs (status, created_at_ms, id);
      CREATE INDEX jobs_user_status_created ON jobs (username, status, created_at_ms, id);
      DROP INDEX jobs_status;
    `,
  },
  {
    version: 7,
    name: 'jobs.kernel_language (the kernel resolved at submission)',
    sql: `ALTER TABLE jobs ADD COLUMN kernel_language TEXT;`,
  },
  {
    version: 8,
    name: 'schedules.job_template (the checked job a fire starts)',
    sql: `ALTER TABLE schedules ADD COLUMN job_template TEXT;`,
  },
  {
    // Pipelines (issue 17): pipelines, their runs, each run's task states, and the jobs' link to them.
    version: 20,
    name: 'pipelines, pipeline runs and their task states; jobs of pipelines',
    sql: `
      CREATE TABLE pipelines (
        id                  TEXT COLLATE "C" PRIMARY KEY,
        owner               TEXT NOT NULL,
        created_by          TEXT NOT NULL,
        name                TEXT NOT NULL,
        spec                TEXT NOT NULL,
        plan                TEXT NOT NULL,
        max_concurrent_runs INTEGER NOT NULL DEFAULT 1,
        notify              TEXT,
        created_at_ms       BIGINT NOT NULL,
        updated_at_ms       BIGINT NOT NULL
      );
      CREATE INDEX pipelines_created ON pipelines (created_at_ms, id);
      CREATE INDEX pipelines_owner ON pipelines (owner, created_at_ms, id);
      CREATE TABLE pipeline_runs (
        id                  TEXT COLLATE "C" PRIMARY KEY,
        pipeline_id         TEXT COLLATE "C" NOT NULL,
        owner               TEXT NOT NULL,
        status              TEXT NOT NULL CHECK (status IN ('queued','running','succeeded','failed','cancelled')),
        parameters          TEXT NOT NULL,
        plan                TEXT NOT NULL,
        job_target          TEXT NOT NULL DEFAULT 'local',
        schedule_id         TEXT COLLATE "C",
        scheduled_for_ms    BIGINT,
        submitted_by        TEXT NOT NULL,
        created_at_ms       BIGINT NOT NULL,
        started_at_ms       BIGINT,
        finished_at_ms      BIGINT,
        cancel_requested    BOOLEAN NOT NULL DEFAULT false,
        repairs             TEXT NOT NULL DEFAULT '[]',
        advanced_at_ms      BIGINT NOT NULL DEFAULT 0,
        notified            BOOLEAN NOT NULL DEFAULT false,
        updated_at_ms       BIGINT NOT NULL
      );
      CREATE INDEX pipeline_runs_pipeline ON pipeline_runs (pipeline_id, created_at_ms, id);
      CREATE INDEX pipeline_runs_status ON pipeline_runs (status, pipeline_id, created_at_ms, id);
      CREATE INDEX pipeline_runs_unnotified ON pipeline_runs (finished_at_ms, id) WHERE NOT notified AND finished_at_ms IS NOT NULL;
      CREATE UNIQUE INDEX pipeline_runs_fire ON pipeline_runs (schedule_id, scheduled_for_ms) WHERE schedule_id IS NOT NULL AND scheduled_for_ms IS NOT NULL;
      CREATE TABLE pipeline_tasks (
        run_id              TEXT COLLATE "C" NOT NULL,
        task_key            TEXT COLLATE "C" NOT NULL,
        position            INTEGER NOT NULL,
        status              TEXT NOT NULL CHECK (status IN ('pending','running','succeeded','failed','cancelled','timed_out','upstream_failed','skipped')),
        items               TEXT,
        items_total         INTEGER,
        items_done          INTEGER NOT NULL DEFAULT 0,
        error               TEXT,
        result              TEXT,
        attempt_base        TEXT,
        started_at_ms       BIGINT,
        finished_at_ms      BIGINT,
        PRIMARY KEY (run_id, task_key)
      );
      ALTER TABLE jobs ADD COLUMN pipeline_id TEXT COLLATE "C";
      ALTER TABLE jobs ADD COLUMN pipeline_run_id TEXT COLLATE "C";
      ALTER TABLE jobs ADD COLUMN task_key TEXT COLLATE "C";
      ALTER TABLE jobs ADD COLUMN item_index INTEGER;
      ALTER TABLE jobs ADD COLUMN item TEXT;
      ALTER TABLE jobs ADD COLUMN not_before_ms BIGINT;
      CREATE INDEX jobs_pipeline_run ON jobs (pipeline_run_id, created_at_ms, id) WHERE pipeline_run_id IS NOT NULL;
      CREATE INDEX jobs_pipeline_finished ON jobs (pipeline_run_id, finished_at_ms) WHERE pipeline_run_id IS NOT NULL;
      -- No task item has two jobs of one attempt, nor two jobs queued or running: nodes advancing at once cannot double-start.
      CREATE UNIQUE INDEX jobs_task_attempt ON jobs (pipeline_run_id, task_key, COALESCE(item_index, -1), attempt) WHERE pipeline_run_id IS NOT NULL;
      CREATE UNIQUE INDEX jobs_task_active ON jobs (pipeline_run_id, task_key, COALESCE(item_index, -1)) WHERE pipeline_run_id IS NOT NULL AND status IN ('queued','running');
      CREATE INDEX jobs_not_before ON jobs (not_before_ms) WHERE not_before_ms IS NOT NULL AND status = 'queued';
    `,
  },
  {
    // A schedule may fire a pipeline instead of a notebook (issue 17): its fires create runs (one per fire time).
    version: 21,
    name: 'schedules.pipeline_id',
    sql: `ALTER TABLE schedules ADD COLUMN pipeline_id TEXT COLLATE "C";`,
  },
  {
    // Secrets (issue 18): values sealed with AES-256-GCM (secrets/cipher.ts); the audit record never holds a value.
    version: 30,
    name: 'secrets and audit_log',
    sql: `
      CREATE TABLE secrets (
        scope          TEXT COLLATE "C" NOT NULL,
        name           TEXT COLLATE "C" NOT NULL,
        sealed         TEXT NOT NULL,
        key_id         TEXT NOT NULL,
        set_by         TEXT NOT NULL,
        created_at_ms  BIGINT NOT NULL,
        updated_at_ms  BIGINT NOT NULL,
        PRIMARY KEY (scope, name)
      );
      CREATE TABLE audit_log (
        id       TEXT COLLATE "C" PRIMARY KEY,
        at_ms    BIGINT NOT NULL,
        actor    TEXT NOT NULL,
        action   TEXT NOT NULL,
        target   TEXT COLLATE "C" NOT NULL,
        origin   TEXT,
        detail   TEXT
      );
      CREATE INDEX audit_log_at ON audit_log (at_ms, id);
      CREATE INDEX audit_log_actor ON audit_log (actor, at_ms, id);
    `,
  },
  {
    version: 31,
    name: 'jobs.secrets and schedules.secrets',
    sql: `
      ALTER TABLE jobs ADD COLUMN secrets TEXT;
      ALTER TABLE schedules ADD COLUMN secrets TEXT;
    `,
  },
  {
    // Sharing with hub groups (issue 18): grants on schedules, pipelines and jobs, and share links of finished runs.
    version: 40,
    name: 'grants and share_links',
    sql: `
      CREATE TABLE grants (
        object_kind    TEXT COLLATE "C" NOT NULL CHECK (object_kind IN ('schedule','pipeline','job')),
        object_id      TEXT COLLATE "C" NOT NULL,
        principal      TEXT COLLATE "C" NOT NULL,
        level          TEXT NOT NULL CHECK (level IN ('view','run','manage')),
        granted_by     TEXT NOT NULL,
        granted_at_ms  BIGINT NOT NULL,
        PRIMARY KEY (object_kind, object_id, principal)
      );
      CREATE INDEX grants_principal ON grants (principal, object_kind, object_id);
      CREATE TABLE share_links (
        id             TEXT COLLATE "C" PRIMARY KEY,
        job_id         TEXT COLLATE "C" NOT NULL,
        created_by     TEXT NOT NULL,
        created_at_ms  BIGINT NOT NULL,
        expires_at_ms  BIGINT NOT NULL,
        revoked_at_ms  BIGINT
      );
      CREATE INDEX share_links_job ON share_links (job_id, created_at_ms);
    `,
  },
  {
    // Notifications that are not lost (issue 18): webhooks and e-mail of run ends, written with the end, delivered under a lease.
    version: 50,
    name: 'outbox',
    sql: `
      CREATE TABLE outbox (
        id                TEXT COLLATE "C" PRIMARY KEY,
        subject_kind      TEXT NOT NULL CHECK (subject_kind IN ('schedule','pipeline')),
        subject_id        TEXT COLLATE "C" NOT NULL,
        ref_id            TEXT COLLATE "C" NOT NULL,
        event             TEXT NOT NULL,
        channel           TEXT NOT NULL CHECK (channel IN ('webhook','email')),
        target            TEXT NOT NULL,
        status            TEXT NOT NULL CHECK (status IN ('pending','delivered','failed')),
        attempts          INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms   BIGINT,
        lease_owner       TEXT,
        lease_until_ms    BIGINT,
        last_error        TEXT,
        created_at_ms     BIGINT NOT NULL,
        updated_at_ms     BIGINT NOT NULL,
        delivered_at_ms   BIGINT
      );
      CREATE INDEX outbox_due ON outbox (next_attempt_ms, id) WHERE status = 'pending';
      CREATE INDEX outbox_subject ON outbox (subject_kind, subject_id, created_at_ms, id);
    `,
  },
  {
    // Browser sessions (issue 18): the same table as SQLite migration 100; shared by every API node.
    version: 60,
    name: 'browser_sessions',
    sql: `
      CREATE TABLE browser_sessions (
        id_hash        TEXT COLLATE "C" PRIMARY KEY,
        username       TEXT NOT NULL,
        kind           TEXT NOT NULL CHECK (kind IN ('token','user','service')),
        via            TEXT NOT NULL CHECK (via IN ('token-link','oauth')),
        credential     TEXT NOT NULL,
        created_at_ms  BIGINT NOT NULL,
        expires_at_ms  BIGINT NOT NULL
      );
      CREATE INDEX browser_sessions_user ON browser_sessions (username);
      CREATE INDEX browser_sessions_expiry ON browser_sessions (expires_at_ms);
    `,
  },
];
