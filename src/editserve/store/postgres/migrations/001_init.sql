-- editserve schema v1 (PostgreSQL). The job store is the queue.
--
-- Same tables and columns as migrations/sqlite/001_init.sql, so rows map to the same
-- Python records. Times are unix seconds (DOUBLE PRECISION). JSON columns stay TEXT: the
-- store writes and reads them exactly as on SQLite, and JSONB would reorder object keys.
-- The whole file runs as one script in one transaction, under an advisory lock.

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,          -- public id, e.g. key_3f9a0c1b
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,             -- first characters of the secret, for display
    key_hash    TEXT NOT NULL UNIQUE,      -- sha256 of the secret
    created_at  DOUBLE PRECISION NOT NULL,
    revoked_at  DOUBLE PRECISION
);

CREATE TABLE generations (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- FIFO order
    id                TEXT NOT NULL UNIQUE,                -- uuid4, the generation_id
    owner             TEXT NOT NULL,                       -- api_keys.id
    model             TEXT NOT NULL,
    status            TEXT NOT NULL,                       -- queued|processing|succeeded|failed|cancelled
    params            TEXT NOT NULL,                       -- validated request parameters (JSON)
    inputs            TEXT NOT NULL,                       -- stored inputs (JSON list)
    batch_id          TEXT NOT NULL,                       -- one enqueue request
    batch_index       INTEGER NOT NULL,
    priority          INTEGER NOT NULL DEFAULT 0,
    seed              BIGINT NOT NULL,                     -- 0 <= seed < 2^32
    width             INTEGER NOT NULL,
    height            INTEGER NOT NULL,
    area              INTEGER NOT NULL,
    target_namespace  TEXT,
    idempotency_key   TEXT,
    request_hash      TEXT,
    enqueued_at       DOUBLE PRECISION NOT NULL,
    started_at        DOUBLE PRECISION,
    completed_at      DOUBLE PRECISION,
    result_key        TEXT,
    error_message     TEXT,
    progress_step     INTEGER,
    progress_total    INTEGER,
    stage             TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    worker_id         TEXT,
    lease_expires_at  DOUBLE PRECISION,
    cancel_requested  BOOLEAN NOT NULL DEFAULT FALSE,
    timings           TEXT,                                -- JSON
    receipt           TEXT,                                -- JSON
    CONSTRAINT generations_status_known
        CHECK (status IN ('queued', 'processing', 'succeeded', 'failed', 'cancelled'))
);
-- The claim: the oldest queued job of the highest priority, per model.
CREATE INDEX generations_claim ON generations (model, priority DESC, seq)
    WHERE status = 'queued';
-- Expired leases (reaped or reclaimed by the claim) and a worker's jobs.
CREATE INDEX generations_leased ON generations (lease_expires_at)
    WHERE status = 'processing';
CREATE INDEX generations_worker ON generations (worker_id) WHERE status = 'processing';
-- Siblings of one enqueue request (batch claims).
CREATE INDEX generations_batch ON generations (batch_id, seq) WHERE status = 'queued';
-- Per-owner reads: lists, history, active counts, idempotency.
CREATE INDEX generations_owner ON generations (owner, seq);
CREATE INDEX generations_owner_status ON generations (owner, status);
CREATE INDEX generations_idempotency ON generations (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- ETAs: the last succeeded runs of a model.
CREATE INDEX generations_model_done ON generations (model, seq) WHERE status = 'succeeded';

CREATE TABLE events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the SSE id
    owner          TEXT NOT NULL,
    generation_id  TEXT NOT NULL,
    type           TEXT NOT NULL,
    data           TEXT NOT NULL,                       -- JSON
    created_at     DOUBLE PRECISION NOT NULL
);
CREATE INDEX events_owner ON events (owner, id);

-- A wake-up hint for SSE readers on any node: '<event id>:<owner>' on channel
-- editserve_events, delivered when the inserting transaction commits. Readers still poll
-- the events table; a lost notification only delays them by one poll interval.
CREATE FUNCTION editserve_notify_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('editserve_events', NEW.id::text || ':' || NEW.owner);
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION editserve_notify_event();

CREATE TABLE uploads (
    id            TEXT PRIMARY KEY,
    owner         TEXT NOT NULL,
    key           TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    format        TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    size          BIGINT NOT NULL,
    created_at    DOUBLE PRECISION NOT NULL
);

CREATE TABLE workers (
    id            TEXT PRIMARY KEY,
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    device        TEXT NOT NULL,
    state         TEXT NOT NULL,          -- starting|loading|ready|busy|failed|stopped
    model         TEXT,
    weights       TEXT,                   -- JSON: what is loaded
    error         TEXT,
    started_at    DOUBLE PRECISION NOT NULL,
    heartbeat_at  DOUBLE PRECISION NOT NULL
);
