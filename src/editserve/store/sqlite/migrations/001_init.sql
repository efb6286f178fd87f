-- editserve schema v1 (SQLite). The job store is the queue.

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
    receipt           TEXT                                 -- JSON
);
CREATE INDEX generations_claim ON generations (status, priority DESC, seq);
CREATE INDEX generations_owner ON generations (owner, seq);
CREATE INDEX generations_idempotency ON generations (owner, idempotency_key);

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
    heartbeat_at  REAL NOT NULL
);
