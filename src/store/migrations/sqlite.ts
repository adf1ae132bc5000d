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
  {
    // Numbered 20 (not 3) so migrations other branches append meanwhile keep their own numbers.
    id: 20,
    name: 'schedules',
    sql: `
      CREATE TABLE schedules (
        id                TEXT PRIMARY KEY,
        owner             TEXT NOT NULL,             -- the user whose home and kernels the runs use
        created_by        TEXT NOT NULL,
        name              TEXT NOT NULL,
        notebook          TEXT NOT NULL,
        parameters        TEXT NOT NULL,             -- JSON
        kernel            TEXT,
        cron              TEXT NOT NULL,
        timezone          TEXT NOT NULL,
        timeout_s         REAL,
        cell_timeout_s    REAL,
        overlap           TEXT NOT NULL CHECK (overlap IN ('skip','queue','allow')),
        max_concurrent    INTEGER NOT NULL,
        max_retries       INTEGER NOT NULL,
        retry_backoff_s   REAL NOT NULL,
        catchup           TEXT NOT NULL CHECK (catchup IN ('latest','all','none')),
        max_catchup       INTEGER NOT NULL,
        start_at_ms       INTEGER,
        end_at_ms         INTEGER,
        paused            INTEGER NOT NULL DEFAULT 0,
        notify            TEXT,                      -- JSON {webhook_url, on}
        webhook_secret    TEXT,
        next_run_at_ms    INTEGER,                   -- NULL: fires no more (past end_at)
        last_fire_ms      INTEGER,
        last_job_id       TEXT,
        fires             INTEGER NOT NULL DEFAULT 0,
        missed_skipped    INTEGER NOT NULL DEFAULT 0, -- missed fires catch-up did not run
        overlap_skipped   INTEGER NOT NULL DEFAULT 0,
        retries           INTEGER NOT NULL DEFAULT 0,
        created_at_ms     INTEGER NOT NULL,
        updated_at_ms     INTEGER NOT NULL
      );
      CREATE INDEX schedules_due ON schedules (next_run_at_ms) WHERE paused = 0 AND next_run_at_ms IS NOT NULL;
      CREATE INDEX schedules_owner ON schedules (owner, created_at_ms, id);
      -- One row per fire time: the UNIQUE constraint makes each fire happen once, whatever the number of processes.
      CREATE TABLE schedule_fires (
        schedule_id       TEXT NOT NULL,
        scheduled_for_ms  INTEGER NOT NULL,
        outcome           TEXT NOT NULL CHECK (outcome IN ('enqueued','skipped_overlap')),
        job_id            TEXT,
        fired_at_ms       INTEGER NOT NULL,
        UNIQUE (schedule_id, scheduled_for_ms)
      );
      -- Runs not yet enqueued: retries waiting for their backoff, and fires of an overlap "queue"
      -- schedule waiting for the earlier run to end (wait_for_idle = 1). The scheduler enqueues them.
      CREATE TABLE schedule_pending (
        schedule_id       TEXT NOT NULL,
        scheduled_for_ms  INTEGER NOT NULL,
        attempt           INTEGER NOT NULL,
        due_at_ms         INTEGER NOT NULL,
        wait_for_idle     INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (schedule_id, scheduled_for_ms, attempt)
      );
      CREATE INDEX schedule_pending_due ON schedule_pending (due_at_ms);
      ALTER TABLE jobs ADD COLUMN schedule_id TEXT;
      ALTER TABLE jobs ADD COLUMN scheduled_for_ms INTEGER;
      ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
      -- 0 until the scheduler has handled the end of a schedule's job (retry, notification).
      ALTER TABLE jobs ADD COLUMN schedule_settled INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX jobs_schedule ON jobs (schedule_id, created_at_ms, id) WHERE schedule_id IS NOT NULL;
      CREATE INDEX jobs_schedule_unsettled ON jobs (finished_at_ms, id) WHERE schedule_id IS NOT NULL AND schedule_settled = 0;
      CREATE INDEX jobs_schedule_active ON jobs (schedule_id) WHERE schedule_id IS NOT NULL AND status IN ('queued','running');
      CREATE UNIQUE INDEX jobs_schedule_attempt ON jobs (schedule_id, scheduled_for_ms, attempt) WHERE scheduled_for_ms IS NOT NULL;
    `,
  },
  {
    // Numbered 30 so migrations other branches append meanwhile keep their own numbers.
    id: 30,
    name: 'jobs.server_name',
    sql: `ALTER TABLE jobs ADD COLUMN server_name TEXT;  -- the user's named server (target user-server); NULL = the default server`,
  },
  {
    id: 40,
    name: 'schedules.misfire_grace_s',
    sql: `ALTER TABLE schedules ADD COLUMN misfire_grace_s REAL;  -- catch-up "none": how late a fire may run; NULL = the scheduler's tolerance only`,
  },
  {
    id: 45,
    name: 'jobs.kernel_language',
    sql: `ALTER TABLE jobs ADD COLUMN kernel_language TEXT;  -- the kernel's language resolved at submission; NULL = read when the job runs`,
  },
  {
    id: 46,
    name: 'schedules.job_template',
    sql: `ALTER TABLE schedules ADD COLUMN job_template TEXT;  -- JSON: the job a fire starts, as checked when the schedule was saved; NULL = built from the settings`,
  },
  {
    // A long history (issue 16: a million jobs): every filter of the job list walks an index in its
    // newest-first order instead of scanning all jobs for a notebook or a user's jobs for a status,
    // and retention reads its batches from an index in their order instead of sorting every finished job.
    id: 50,
    name: 'jobs: list indexes for a long history',
    sql: `
      CREATE INDEX jobs_notebook_created ON jobs (notebook, created_at_ms, id);
      CREATE INDEX jobs_user_notebook_created ON jobs (username, notebook, created_at_ms, id);
      CREATE INDEX jobs_user_status_created ON jobs (username, status, created_at_ms, id);
      -- Retention deletes the oldest finished jobs in (finished_at_ms, id) order, a batch at a time.
      DROP INDEX jobs_finished;
      CREATE INDEX jobs_finished_id ON jobs (finished_at_ms, id) WHERE finished_at_ms IS NOT NULL;
    `,
  },
  {
    // Pipelines (issue 17): pipelines, their runs, each run's task states, and the jobs' link to them.
    id: 60,
    name: 'pipelines, pipeline runs and their task states; jobs of pipelines',
    sql: `
      CREATE TABLE pipelines (
        id                  TEXT PRIMARY KEY,
        owner               TEXT NOT NULL,
        created_by          TEXT NOT NULL,
        name                TEXT NOT NULL,
        spec                TEXT NOT NULL,            -- JSON (exact): the spec as the user sent it
        plan                TEXT NOT NULL,            -- JSON (exact): the checked plan
        max_concurrent_runs INTEGER NOT NULL DEFAULT 1,
        notify              TEXT,                     -- JSON {webhook_url, on}
        created_at_ms       INTEGER NOT NULL,
        updated_at_ms       INTEGER NOT NULL
      );
      CREATE INDEX pipelines_created ON pipelines (created_at_ms, id);
      CREATE INDEX pipelines_owner ON pipelines (owner, created_at_ms, id);
      CREATE TABLE pipeline_runs (
        id                  TEXT PRIMARY KEY,
        pipeline_id         TEXT NOT NULL,            -- kept after the pipeline is deleted
        owner               TEXT NOT NULL,
        status              TEXT NOT NULL CHECK (status IN ('queued','running','succeeded','failed','cancelled')),
        parameters          TEXT NOT NULL,            -- JSON (exact): the defaults merged with the run's own
        plan                TEXT NOT NULL,            -- JSON (exact): the plan when the run was created
        job_target          TEXT NOT NULL DEFAULT 'local',
        schedule_id         TEXT,
        scheduled_for_ms    INTEGER,
        submitted_by        TEXT NOT NULL,
        created_at_ms       INTEGER NOT NULL,
        started_at_ms       INTEGER,
        finished_at_ms      INTEGER,
        cancel_requested    INTEGER NOT NULL DEFAULT 0,
        repairs             TEXT NOT NULL DEFAULT '[]',  -- JSON RepairEntry[]
        advanced_at_ms      INTEGER NOT NULL DEFAULT 0,  -- the last advance: a job of the run that ended later lags
        notified            INTEGER NOT NULL DEFAULT 0,  -- 1 once the end of the run was taken for notification
        updated_at_ms       INTEGER NOT NULL
      );
      CREATE INDEX pipeline_runs_pipeline ON pipeline_runs (pipeline_id, created_at_ms, id);
      CREATE INDEX pipeline_runs_status ON pipeline_runs (status, pipeline_id, created_at_ms, id);
      CREATE INDEX pipeline_runs_unnotified ON pipeline_runs (finished_at_ms, id) WHERE notified = 0 AND finished_at_ms IS NOT NULL;
      -- One run per fire time of a schedule, however many nodes fire it.
      CREATE UNIQUE INDEX pipeline_runs_fire ON pipeline_runs (schedule_id, scheduled_for_ms) WHERE schedule_id IS NOT NULL AND scheduled_for_ms IS NOT NULL;
      CREATE TABLE pipeline_tasks (
        run_id              TEXT NOT NULL,
        task_key            TEXT NOT NULL,
        position            INTEGER NOT NULL,         -- the task's place in the plan
        status              TEXT NOT NULL CHECK (status IN ('pending','running','succeeded','failed','cancelled','timed_out','upstream_failed','skipped')),
        items               TEXT,                     -- JSON (exact): for_each's resolved items
        items_total         INTEGER,
        items_done          INTEGER NOT NULL DEFAULT 0,
        error               TEXT,
        result              TEXT,                     -- JSON (exact)
        attempt_base        TEXT,                     -- JSON: per item, the first attempt of a repair's re-run
        started_at_ms       INTEGER,
        finished_at_ms      INTEGER,
        PRIMARY KEY (run_id, task_key)
      );
      ALTER TABLE jobs ADD COLUMN pipeline_id TEXT;
      ALTER TABLE jobs ADD COLUMN pipeline_run_id TEXT;
      ALTER TABLE jobs ADD COLUMN task_key TEXT;
      ALTER TABLE jobs ADD COLUMN item_index INTEGER;
      ALTER TABLE jobs ADD COLUMN item TEXT;           -- JSON (exact): the for_each item
      ALTER TABLE jobs ADD COLUMN not_before_ms INTEGER;  -- a retry's backoff: not claimed before
      CREATE INDEX jobs_pipeline_run ON jobs (pipeline_run_id, created_at_ms, id) WHERE pipeline_run_id IS NOT NULL;
      CREATE INDEX jobs_pipeline_finished ON jobs (pipeline_run_id, finished_at_ms) WHERE pipeline_run_id IS NOT NULL;
      -- No task item has two jobs of one attempt, nor two jobs queued or running: nodes advancing at once cannot double-start.
      CREATE UNIQUE INDEX jobs_task_attempt ON jobs (pipeline_run_id, task_key, COALESCE(item_index, -1), attempt) WHERE pipeline_run_id IS NOT NULL;
      CREATE UNIQUE INDEX jobs_task_active ON jobs (pipeline_run_id, task_key, COALESCE(item_index, -1)) WHERE pipeline_run_id IS NOT NULL AND status IN ('queued','running');
      CREATE INDEX jobs_not_before ON jobs (not_before_ms) WHERE not_before_ms IS NOT NULL AND status = 'queued';
      -- The claim reads not_before_ms from the queue index: still one walk of the index, no row read.
      DROP INDEX jobs_queue;
      CREATE INDEX jobs_queue ON jobs (status, created_at_ms, id, not_before_ms);
    `,
  },
  {
    // A schedule may fire a pipeline instead of a notebook (issue 17): its fires create runs (one per fire time).
    id: 61,
    name: 'schedules.pipeline_id',
    sql: `ALTER TABLE schedules ADD COLUMN pipeline_id TEXT;  -- the pipeline its fires run; NULL = a notebook schedule`,
  },
  {
    // Secrets (issue 18): values sealed with AES-256-GCM (secrets/cipher.ts), never in plain text; the audit record never holds a value.
    id: 70,
    name: 'secrets and audit_log',
    sql: `
      CREATE TABLE secrets (
        scope          TEXT NOT NULL,             -- 'user:<username>' or 'group:<group>'
        name           TEXT NOT NULL,             -- the environment variable's name
        sealed         TEXT NOT NULL,             -- v1.<nonce>.<ciphertext+tag>, base64
        key_id         TEXT NOT NULL,             -- the id of the key that sealed it (secrets/key.ts)
        set_by         TEXT NOT NULL,
        created_at_ms  INTEGER NOT NULL,
        updated_at_ms  INTEGER NOT NULL,
        PRIMARY KEY (scope, name)
      );
      CREATE TABLE audit_log (
        id       TEXT PRIMARY KEY,                -- time-ordered
        at_ms    INTEGER NOT NULL,
        actor    TEXT NOT NULL,
        action   TEXT NOT NULL,                   -- secret.create, secret.update, secret.delete, secret.use, ...
        target   TEXT NOT NULL,
        origin   TEXT,                            -- the client's address, or job:<id>
        detail   TEXT                             -- JSON, never a value
      );
      CREATE INDEX audit_log_at ON audit_log (at_ms, id);
      CREATE INDEX audit_log_actor ON audit_log (actor, at_ms, id);
    `,
  },
  {
    id: 71,
    name: 'jobs.secrets and schedules.secrets',
    sql: `
      ALTER TABLE jobs ADD COLUMN secrets TEXT;       -- JSON [{name, scope}]: the secrets the run gets as environment variables; NULL = none
      ALTER TABLE schedules ADD COLUMN secrets TEXT;  -- JSON [names] as the user gave them
    `,
  },
  {
    // Sharing with hub groups (issue 18): grants on schedules, pipelines and jobs, and share links of finished runs.
    id: 80,
    name: 'grants and share_links',
    sql: `
      CREATE TABLE grants (
        object_kind    TEXT NOT NULL CHECK (object_kind IN ('schedule','pipeline','job')),
        object_id      TEXT NOT NULL,
        principal      TEXT NOT NULL,            -- 'user:<name>' or 'group:<name>'
        level          TEXT NOT NULL CHECK (level IN ('view','run','manage')),
        granted_by     TEXT NOT NULL,
        granted_at_ms  INTEGER NOT NULL,
        PRIMARY KEY (object_kind, object_id, principal)
      );
      CREATE INDEX grants_principal ON grants (principal, object_kind, object_id);
      CREATE TABLE share_links (
        id             TEXT PRIMARY KEY,
        job_id         TEXT NOT NULL,
        created_by     TEXT NOT NULL,
        created_at_ms  INTEGER NOT NULL,
        expires_at_ms  INTEGER NOT NULL,
        revoked_at_ms  INTEGER
      );
      CREATE INDEX share_links_job ON share_links (job_id, created_at_ms);
    `,
  },
  {
    // Notifications that are not lost (issue 18): webhooks and e-mail of run ends, written with the end, delivered under a lease.
    id: 90,
    name: 'outbox',
    sql: `
      CREATE TABLE outbox (
        id                TEXT PRIMARY KEY,          -- X-Hubmill-Delivery
        subject_kind      TEXT NOT NULL CHECK (subject_kind IN ('schedule','pipeline')),
        subject_id        TEXT NOT NULL,             -- the schedule or pipeline
        ref_id            TEXT NOT NULL,             -- the job or pipeline run that ended
        event             TEXT NOT NULL,
        channel           TEXT NOT NULL CHECK (channel IN ('webhook','email')),
        target            TEXT NOT NULL,             -- URL or address
        status            TEXT NOT NULL CHECK (status IN ('pending','delivered','failed')),
        attempts          INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms   INTEGER,
        lease_owner       TEXT,
        lease_until_ms    INTEGER,
        last_error        TEXT,
        created_at_ms     INTEGER NOT NULL,
        updated_at_ms     INTEGER NOT NULL,
        delivered_at_ms   INTEGER
      );
      CREATE INDEX outbox_due ON outbox (next_attempt_ms, id) WHERE status = 'pending';
      CREATE INDEX outbox_subject ON outbox (subject_kind, subject_id, created_at_ms, id);
    `,
  },
  {
    // Browser sessions (issue 18): the cookie holds a random id; the store keeps its SHA-256, who signed in,
    // the credential the server re-checks on each request (encrypted under a key derived from the id) and the expiry.
    id: 100,
    name: 'browser_sessions',
    sql: `
      CREATE TABLE browser_sessions (
        id_hash        TEXT PRIMARY KEY,          -- hex SHA-256 of the cookie's session id (the id itself is never stored)
        username       TEXT NOT NULL,             -- the identity's name at sign-in (admin revoke-all goes by it)
        kind           TEXT NOT NULL CHECK (kind IN ('token','user','service')),
        via            TEXT NOT NULL CHECK (via IN ('token-link','oauth')),
        credential     TEXT NOT NULL,             -- the API or OAuth token, AES-256-GCM (http/session-crypto.ts)
        created_at_ms  INTEGER NOT NULL,
        expires_at_ms  INTEGER NOT NULL
      );
      CREATE INDEX browser_sessions_user ON browser_sessions (username);
      CREATE INDEX browser_sessions_expiry ON browser_sessions (expires_at_ms);
    `,
  },
];
