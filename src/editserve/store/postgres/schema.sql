-- editserve schema (PostgreSQL), fresh install: what migrations/postgres/*.sql build
-- together. An empty database is created from this file (one script, one transaction,
-- under the migration advisory lock) and every migration version is recorded as applied;
-- an existing one applies the migrations it lacks. tests/contract checks both roads lead
-- to the same schema: change a migration's result here too. Index WHEREs hold status
-- literals (an index cannot take parameters).
--
-- Same tables and columns as schema/sqlite.sql, so rows map to the same
-- Python records. Times are unix seconds (DOUBLE PRECISION). JSON columns stay TEXT: the
-- store writes and reads them exactly as on SQLite, and JSONB would reorder object keys.

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,          -- public id, e.g. key_3f9a0c1b
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,             -- first characters of the secret, for display
    key_hash    TEXT NOT NULL UNIQUE,      -- sha256 of the secret
    created_at  DOUBLE PRECISION NOT NULL,
    revoked_at  DOUBLE PRECISION,
    webhook_url     TEXT,                  -- the key's default webhook
    webhook_secret  TEXT                   -- whsec_… (Standard Webhooks)
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
    owner_seq         BIGINT,                              -- 1, 2, 3... per owner (a trigger sets it)
    webhook           TEXT,                                -- where this generation's events go
    webhook_events    TEXT,                                -- JSON list: start, completed
    CONSTRAINT generations_status_known
        CHECK (status IN ('queued', 'processing', 'succeeded', 'failed', 'cancelled'))
);
-- The claim: the oldest queued job of the highest priority, per model.
CREATE INDEX generations_claim ON generations (model, priority DESC, seq)
    WHERE status = 'queued';
-- The whole queue in claim order: queue positions and claims over several models.
CREATE INDEX generations_queue ON generations (priority DESC, seq) WHERE status = 'queued';
-- Expired leases (reaped or reclaimed by the claim) and a worker's jobs.
CREATE INDEX generations_leased ON generations (lease_expires_at)
    WHERE status = 'processing';
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

-- History pages and counts without a scan (see migrations/postgres/004_listing_queue.sql):
-- owner_seq numbering, and per-key counters of ended generations.
CREATE FUNCTION editserve_number_generation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- one numbering per key at a time ("edit" = 1701079412); released at commit
    PERFORM pg_advisory_xact_lock(1701079412, hashtext(NEW.owner));
    SELECT COALESCE(MAX(owner_seq), 0) + 1 INTO NEW.owner_seq
    FROM generations WHERE owner = NEW.owner;
    RETURN NEW;
END;
$$;
CREATE TRIGGER generations_number BEFORE INSERT ON generations
    FOR EACH ROW WHEN (NEW.owner_seq IS NULL) EXECUTE FUNCTION editserve_number_generation();

CREATE TABLE generation_counts (
    owner   TEXT NOT NULL,
    model   TEXT NOT NULL,
    status  TEXT NOT NULL,                 -- succeeded|failed|cancelled
    shard   INTEGER NOT NULL,              -- 0-15 by generation id: no one hot row
    n       BIGINT NOT NULL,
    PRIMARY KEY (owner, model, status, shard)
);
CREATE FUNCTION editserve_count_generation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(111481940344834);  -- EVENTS_LOCK, see above
    IF TG_OP <> 'INSERT' THEN
        IF OLD.status IN ('succeeded', 'failed', 'cancelled') THEN
            UPDATE generation_counts SET n = n - 1
            WHERE owner = OLD.owner AND model = OLD.model AND status = OLD.status
              AND shard = abs(hashtext(OLD.id) % 16);
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.status IN ('succeeded', 'failed', 'cancelled') THEN
            INSERT INTO generation_counts (owner, model, status, shard, n)
            VALUES (NEW.owner, NEW.model, NEW.status, abs(hashtext(NEW.id) % 16), 1)
            ON CONFLICT (owner, model, status, shard)
            DO UPDATE SET n = generation_counts.n + 1;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER generations_count_new AFTER INSERT ON generations
    FOR EACH ROW WHEN (NEW.status IN ('succeeded', 'failed', 'cancelled'))
    EXECUTE FUNCTION editserve_count_generation();
CREATE TRIGGER generations_count_change AFTER UPDATE OF status ON generations
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       AND (NEW.status IN ('succeeded', 'failed', 'cancelled')
                            OR OLD.status IN ('succeeded', 'failed', 'cancelled')))
    EXECUTE FUNCTION editserve_count_generation();
CREATE TRIGGER generations_count_gone AFTER DELETE ON generations
    FOR EACH ROW WHEN (OLD.status IN ('succeeded', 'failed', 'cancelled'))
    EXECUTE FUNCTION editserve_count_generation();

CREATE TABLE events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the SSE id
    owner          TEXT NOT NULL,
    generation_id  TEXT NOT NULL,
    type           TEXT NOT NULL,
    data           TEXT NOT NULL,                       -- JSON
    created_at     DOUBLE PRECISION NOT NULL
);
CREATE INDEX events_owner ON events (owner, id);

-- Wake-up hints for event readers on any node ('<event id>:<owner>' on channel
-- editserve_events) are sent by the store after a write commits (queries: notify_events),
-- not by a trigger: a NOTIFY in the writing transaction would serialise every commit.

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
    heartbeat_at  DOUBLE PRECISION NOT NULL,
    stage         TEXT,                   -- start-up stage: starting|downloading|loading|...
    stage_detail  TEXT,                   -- JSON: the stage's figures (bytes, component k of n, reason)
    models        TEXT,                   -- JSON list: the models it serves (migration 006)
    swaps         INTEGER NOT NULL DEFAULT 0, -- model swaps so far (migration 006)
    restarts      INTEGER NOT NULL DEFAULT 0  -- replaced after an unexpected exit (migration 008)
);

-- Webhooks (migration 005): the durable outbox, filled by a trigger on events.
CREATE TABLE webhook_deliveries (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,                   -- msg_…: the webhook-id header
    owner             TEXT NOT NULL,
    generation_id     TEXT NOT NULL,
    event_type        TEXT NOT NULL,                          -- generation.started | .completed
    url               TEXT NOT NULL,
    status            TEXT NOT NULL,                          -- pending | delivered | failed
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   DOUBLE PRECISION NOT NULL,
    lease_expires_at  DOUBLE PRECISION,
    last_error        TEXT,
    last_status_code  INTEGER,
    created_at        DOUBLE PRECISION NOT NULL,
    delivered_at      DOUBLE PRECISION
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_generation ON webhook_deliveries (generation_id, seq);

-- The outbox is filled by the events themselves: a delivery is written in the transaction
-- (the statement) that writes its event, when the generation asked for that kind of event.
-- msg_<event id> is the delivery's webhook-id: stable across retries, unique per event.
CREATE FUNCTION editserve_webhook_outbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (id, owner, generation_id, event_type, url, status,
                                    attempts, next_attempt_at, created_at)
    SELECT 'msg_' || NEW.id, NEW.owner, NEW.generation_id,
           CASE NEW.type WHEN 'media_generation_started' THEN 'generation.started'
                         ELSE 'generation.completed' END,
           g.webhook, 'pending', 0, NEW.created_at, NEW.created_at
    FROM generations AS g
    WHERE g.id = NEW.generation_id AND g.webhook IS NOT NULL
      AND position(CASE NEW.type WHEN 'media_generation_started' THEN '"start"'
                                 ELSE '"completed"' END
                   IN COALESCE(g.webhook_events, '')) > 0;
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_webhooks AFTER INSERT ON events
    FOR EACH ROW
    WHEN (NEW.type IN ('media_generation_started', 'media_generation_completed',
                       'media_generation_cancelled'))
    EXECUTE FUNCTION editserve_webhook_outbox();

-- Stage latency histograms (migration 008): one row per model, stage (a key of a
-- generation's timings: queue_wait, input_decode, denoise, ..., total) and bucket (its
-- upper bound, the Prometheus `le`); each succeeded generation adds 1 to one bucket per
-- stage. /metrics makes the buckets cumulative.
CREATE TABLE stage_latency (
    model         TEXT NOT NULL,
    stage         TEXT NOT NULL,
    le            TEXT NOT NULL,
    observations  BIGINT NOT NULL DEFAULT 0,
    seconds       DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (model, stage, le)
);

-- The cluster record (migration 009): facts every node shares, written once (the first node
-- or `editserve migrate` wins): cluster_id, signing_secret, first_key, setting.<name>.
CREATE TABLE cluster (
    name         TEXT PRIMARY KEY,
    value        TEXT NOT NULL,
    recorded_at  DOUBLE PRECISION NOT NULL,
    recorded_by  TEXT NOT NULL              -- the node: host:data_dir
);

-- editserve schema v10 (PostgreSQL): retention (`editserve prune`, EDITSERVE_RETENTION_DAYS).
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

CREATE FUNCTION editserve_input_keys(inputs TEXT) RETURNS SETOF TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT DISTINCT item ->> 'key'
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(inputs::jsonb) = 'array'
                                   THEN inputs::jsonb ELSE '[]'::jsonb END) AS item
    WHERE jsonb_typeof(item) = 'object' AND item ->> 'key' IS NOT NULL
$$;
INSERT INTO input_refs (key, generation_id)
SELECT keys.key, g.id FROM generations AS g, editserve_input_keys(g.inputs) AS keys(key)
ON CONFLICT DO NOTHING;

CREATE FUNCTION editserve_input_refs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO input_refs (key, generation_id)
        SELECT keys.key, NEW.id FROM editserve_input_keys(NEW.inputs) AS keys(key)
        ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM input_refs WHERE generation_id = OLD.id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER generations_input_refs AFTER INSERT ON generations
    FOR EACH ROW EXECUTE FUNCTION editserve_input_refs();
CREATE TRIGGER generations_input_refs_gone AFTER DELETE ON generations
    FOR EACH ROW EXECUTE FUNCTION editserve_input_refs();

CREATE INDEX uploads_key ON uploads (key);
CREATE INDEX uploads_created ON uploads (created_at);

CREATE TABLE maintenance_leases (
    name              TEXT PRIMARY KEY,                 -- 'prune'
    holder            TEXT,                             -- host:pid:nonce of the runner
    expires_at        DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_finished_at  DOUBLE PRECISION                  -- the end of the last complete run
);

CREATE TABLE prune_blobs (
    key   TEXT PRIMARY KEY,
    kind  TEXT NOT NULL                                 -- outputs | inputs
);

CREATE TABLE pruned_totals (
    kind  TEXT PRIMARY KEY,                   -- generations|outputs|inputs|uploads|events|...
    n     BIGINT NOT NULL DEFAULT 0
);
