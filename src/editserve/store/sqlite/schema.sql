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
    revoked_at  REAL,
    webhook_url     TEXT,                  -- the key's default webhook
    webhook_secret  TEXT                   -- whsec_… (Standard Webhooks)
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
    owner_seq         INTEGER,                             -- 1, 2, 3... per owner (a trigger sets it)
    webhook           TEXT,                                -- where this generation's events go
    webhook_events    TEXT                                 -- JSON list: start, completed
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
    stage_detail  TEXT,                   -- JSON: the stage's figures (bytes, component k of n, reason)
    models        TEXT,                   -- JSON list: the models it serves (migration 006)
    swaps         INTEGER NOT NULL DEFAULT 0, -- model swaps so far (migration 006)
    restarts      INTEGER NOT NULL DEFAULT 0  -- replaced after an unexpected exit (migration 008)
);

-- Webhooks (migration 005): the durable outbox, filled by a trigger on events.
CREATE TABLE webhook_deliveries (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT NOT NULL UNIQUE,                   -- msg_…: the webhook-id header
    owner             TEXT NOT NULL,
    generation_id     TEXT NOT NULL,
    event_type        TEXT NOT NULL,                          -- generation.started | .completed
    url               TEXT NOT NULL,
    status            TEXT NOT NULL,                          -- pending | delivered | failed
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   REAL NOT NULL,
    lease_expires_at  REAL,
    last_error        TEXT,
    last_status_code  INTEGER,
    created_at        REAL NOT NULL,
    delivered_at      REAL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_generation ON webhook_deliveries (generation_id, seq);

-- The outbox is filled by the events themselves: a delivery is written in the transaction
-- (the statement) that writes its event, when the generation asked for that kind of event.
-- msg_<event id> is the delivery's webhook-id: stable across retries, unique per event.
CREATE TRIGGER events_webhooks AFTER INSERT ON events
WHEN NEW.type IN ('media_generation_started', 'media_generation_completed',
                  'media_generation_cancelled')
BEGIN
    INSERT INTO webhook_deliveries (id, owner, generation_id, event_type, url, status,
                                    attempts, next_attempt_at, created_at)
    SELECT 'msg_' || NEW.id, NEW.owner, NEW.generation_id,
           CASE NEW.type WHEN 'media_generation_started' THEN 'generation.started'
                         ELSE 'generation.completed' END,
           g.webhook, 'pending', 0, NEW.created_at, NEW.created_at
    FROM generations AS g
    WHERE g.id = NEW.generation_id AND g.webhook IS NOT NULL
      AND instr(COALESCE(g.webhook_events, ''),
                CASE NEW.type WHEN 'media_generation_started' THEN '"start"'
                              ELSE '"completed"' END) > 0;
END;

-- Stage latency histograms (migration 008): one row per model, stage (a key of a
-- generation's timings: queue_wait, input_decode, denoise, ..., total) and bucket (its
-- upper bound, the Prometheus `le`); each succeeded generation adds 1 to one bucket per
-- stage. /metrics makes the buckets cumulative.
CREATE TABLE stage_latency (
    model         TEXT NOT NULL,
    stage         TEXT NOT NULL,
    le            TEXT NOT NULL,
    observations  BIGINT NOT NULL DEFAULT 0,
    seconds       REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (model, stage, le)
);

-- The cluster record (migration 009): facts every node shares, written once (the first node
-- or `editserve migrate` wins): cluster_id, signing_secret, first_key, setting.<name>.
CREATE TABLE cluster (
    name         TEXT PRIMARY KEY,
    value        TEXT NOT NULL,
    recorded_at  REAL NOT NULL,
    recorded_by  TEXT NOT NULL              -- the node: host:data_dir
);

-- editserve schema v10 (SQLite): retention (`editserve prune`, EDITSERVE_RETENTION_DAYS).
-- input_refs: which generation uses which stored blob as an input (a trigger fills it from
--   generations.inputs, whoever inserts the row), so "is this blob still used?" is one
--   index lookup instead of a scan of every generation's inputs.
-- maintenance_leases: one node prunes at a time (a lease row with an expiry, renewed per
--   batch), and when the last prune finished (/metrics).
-- prune_blobs: blobs whose rows a prune deleted, written in the transaction of the delete
--   and removed once the blob is gone, so a prune that dies in between leaves a list the
--   next one finishes (never a row pointing at a missing blob).
-- pruned_totals: what prunes deleted so far, by kind (/metrics editserve_pruned_total).

CREATE TABLE input_refs (
    key            TEXT NOT NULL,
    generation_id  TEXT NOT NULL,
    PRIMARY KEY (key, generation_id)
);
CREATE INDEX input_refs_generation ON input_refs (generation_id);
INSERT OR IGNORE INTO input_refs (key, generation_id)
SELECT CASE j.type WHEN 'object' THEN json_extract(j.value, '$.key') END, g.id
FROM generations AS g, json_each(CASE WHEN json_valid(g.inputs) THEN g.inputs ELSE '[]' END) AS j
WHERE j.type = 'object' AND json_extract(j.value, '$.key') IS NOT NULL;

CREATE TRIGGER generations_input_refs AFTER INSERT ON generations
BEGIN
    INSERT OR IGNORE INTO input_refs (key, generation_id)
    SELECT key, NEW.id FROM (
        SELECT CASE type WHEN 'object' THEN json_extract(value, '$.key') END AS key
        FROM json_each(CASE WHEN json_valid(NEW.inputs) THEN NEW.inputs ELSE '[]' END))
    WHERE key IS NOT NULL;
END;

CREATE TRIGGER generations_input_refs_gone AFTER DELETE ON generations
BEGIN
    DELETE FROM input_refs WHERE generation_id = OLD.id;
END;

CREATE INDEX uploads_key ON uploads (key);
CREATE INDEX uploads_created ON uploads (created_at);

CREATE TABLE maintenance_leases (
    name              TEXT PRIMARY KEY,       -- 'prune'
    holder            TEXT,                   -- host:pid:nonce of the node running it
    expires_at        REAL NOT NULL DEFAULT 0,
    last_finished_at  REAL                    -- the end of the last complete run
);

CREATE TABLE prune_blobs (
    key   TEXT PRIMARY KEY,
    kind  TEXT NOT NULL                       -- outputs | inputs
);

CREATE TABLE pruned_totals (
    kind  TEXT PRIMARY KEY,                   -- generations|outputs|inputs|uploads|events|...
    n     BIGINT NOT NULL DEFAULT 0
);
