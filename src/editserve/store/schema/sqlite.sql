-- editserve schema (SQLite), fresh install: what migrations/sqlite/*.sql build together.
--
-- The job store is the queue. An empty database is created from this file and every
-- migration version is recorded as applied; an existing one applies the migrations it
-- lacks. tests/contract checks both roads lead to the same schema: change a migration's
-- result here too. Index WHEREs hold status literals (an index cannot take parameters).

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,          -- public id, e.g. key_3f9a0c1b
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,             -- first characters of the secret, for display
    key_hash    TEXT NOT NULL UNIQUE,      -- sha256 of the secret
    created_at  REAL NOT NULL,
    revoked_at  REAL
);

CREATE TABLE generations (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,   -- FIFO order
    id                TEXT NOT NULL UNIQUE,                -- uuid4, the generation_id
    owner             TEXT NOT NULL,                       -- api_keys.id
    model             TEXT NOT NULL,
    status            TEXT NOT NULL,                       -- queued|processing|succeeded|failed|cancelled
    params            TEXT NOT NULL,                       -- validated request parameters (JSON)
    inputs            TEXT NOT NULL,                       -- stored inputs (JSON list)
    batch_id          TEXT NOT NULL,                       -- one enqueue request
    batch_index       INTEGER NOT NULL,
    priority          INTEGER NOT NULL DEFAULT 0,
    seed              INTEGER NOT NULL,
    width             INTEGER NOT NULL,
    height            INTEGER NOT NULL,
    area              INTEGER NOT NULL,                    -- target pixel area (sizes the VAE inputs too)
    target_namespace  TEXT,
    idempotency_key   TEXT,
    request_hash      TEXT,
    enqueued_at       REAL NOT NULL,
    started_at        REAL,
    completed_at      REAL,
    result_key        TEXT,
    error_message     TEXT,
    progress_step     INTEGER,
    progress_total    INTEGER,
    stage             TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    worker_id         TEXT,
    lease_expires_at  REAL,
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    timings           TEXT,                                -- JSON
    receipt           TEXT,                                -- JSON
    owner_seq         INTEGER                              -- 1, 2, 3... per owner (a trigger sets it)
);
-- The claim: the oldest queued job of the highest priority, per model.
CREATE INDEX generations_claim ON generations (model, priority DESC, seq)
    WHERE status = 'queued';
-- The whole queue in claim order: queue positions and claims over several models.
CREATE INDEX generations_queue ON generations (priority DESC, seq) WHERE status = 'queued';
-- Expired leases (reaped or reclaimed by the claim) and a worker's jobs.
CREATE INDEX generations_leased ON generations (lease_expires_at) WHERE status = 'processing';
CREATE INDEX generations_worker ON generations (worker_id) WHERE status = 'processing';
-- Siblings of one enqueue request (batch claims).
CREATE INDEX generations_batch ON generations (batch_id, seq) WHERE status = 'queued';
-- Per-owner reads: history pages by number (owner_seq), one status in queue order
-- (active lists and counts, filtered history), idempotency.
CREATE UNIQUE INDEX generations_owner_seq ON generations (owner, owner_seq);
CREATE INDEX generations_owner_status ON generations (owner, status, seq);
CREATE INDEX generations_idempotency ON generations (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- ETAs: the last succeeded runs of a model.
CREATE INDEX generations_model_done ON generations (model, seq) WHERE status = 'succeeded';

-- History pages and counts without a scan (see migrations/sqlite/004_listing_queue.sql):
-- owner_seq numbering, and per-key counters of ended generations.
CREATE TRIGGER generations_number AFTER INSERT ON generations
WHEN NEW.owner_seq IS NULL
BEGIN
    UPDATE generations
    SET owner_seq = (SELECT COALESCE(MAX(owner_seq), 0) + 1 FROM generations
                     WHERE owner = NEW.owner)
    WHERE seq = NEW.seq;
END;

CREATE TABLE generation_counts (
    owner   TEXT NOT NULL,
    model   TEXT NOT NULL,
    status  TEXT NOT NULL,                 -- succeeded|failed|cancelled
    shard   INTEGER NOT NULL,              -- always 0 here (PostgreSQL: 16 by id)
    n       INTEGER NOT NULL,
    PRIMARY KEY (owner, model, status, shard)
);
CREATE TRIGGER generations_count_new AFTER INSERT ON generations
WHEN NEW.status IN ('succeeded', 'failed', 'cancelled')
BEGIN
    INSERT INTO generation_counts (owner, model, status, shard, n)
    VALUES (NEW.owner, NEW.model, NEW.status, 0, 1)
    ON CONFLICT (owner, model, status, shard) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER generations_count_change AFTER UPDATE OF status ON generations
WHEN NEW.status <> OLD.status
  AND (NEW.status IN ('succeeded', 'failed', 'cancelled')
       OR OLD.status IN ('succeeded', 'failed', 'cancelled'))
BEGIN
    UPDATE generation_counts SET n = n - 1
    WHERE owner = OLD.owner AND model = OLD.model AND status = OLD.status;
    INSERT INTO generation_counts (owner, model, status, shard, n)
    SELECT NEW.owner, NEW.model, NEW.status, 0, 1
    WHERE NEW.status IN ('succeeded', 'failed', 'cancelled')
    ON CONFLICT (owner, model, status, shard) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER generations_count_gone AFTER DELETE ON generations
WHEN OLD.status IN ('succeeded', 'failed', 'cancelled')
BEGIN
    UPDATE generation_counts SET n = n - 1
    WHERE owner = OLD.owner AND model = OLD.model AND status = OLD.status;
END;

CREATE TABLE events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,   -- the SSE id
    owner          TEXT NOT NULL,
    generation_id  TEXT NOT NULL,
    type           TEXT NOT NULL,
    data           TEXT NOT NULL,                       -- JSON
    created_at     REAL NOT NULL
);
CREATE INDEX events_owner ON events (owner, id);

CREATE TABLE uploads (
    id            TEXT PRIMARY KEY,
    owner         TEXT NOT NULL,
    key           TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    format        TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    created_at    REAL NOT NULL
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
    started_at    REAL NOT NULL,
    heartbeat_at  REAL NOT NULL,
    stage         TEXT,                   -- start-up stage: starting|downloading|loading|...
    stage_detail  TEXT                    -- JSON: the stage's figures (bytes, component k of n, reason)
);
