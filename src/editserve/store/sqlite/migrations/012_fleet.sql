-- editserve schema v12 (SQLite): a shared fleet (issue 23): scoped keys with a fair-share
-- weight and quotas, fair claim order, usage, and an audit log of key changes. The
-- PostgreSQL migration of the same number says what each column means.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'read,submit';
ALTER TABLE api_keys ADD COLUMN weight REAL NOT NULL DEFAULT 1;
ALTER TABLE api_keys ADD COLUMN max_running INTEGER;
ALTER TABLE api_keys ADD COLUMN gpu_seconds_per_day REAL;
UPDATE api_keys SET scopes = 'admin,read,submit'
WHERE id = (SELECT value FROM cluster WHERE name = 'first_key');

ALTER TABLE generations ADD COLUMN vtag REAL NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN fair_cost REAL NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN gpu_seconds REAL;
ALTER TABLE generations ADD COLUMN output_megapixels REAL;

DROP INDEX generations_claim;
CREATE INDEX generations_claim ON generations (model, priority DESC, vtag, seq)
    WHERE status = 'queued';
DROP INDEX generations_queue;
CREATE INDEX generations_queue ON generations (priority DESC, vtag, seq) WHERE status = 'queued';
-- A key's newest waiting or running generation at a priority: its last finish tag.
CREATE INDEX generations_owner_fair ON generations (owner, priority, seq)
    WHERE status IN ('queued', 'processing');

-- One writer at a time on SQLite: no shards (shard is always 0).
CREATE TABLE usage_hours (
    owner              TEXT NOT NULL,
    model              TEXT NOT NULL,
    hour               INTEGER NOT NULL,
    shard              INTEGER NOT NULL,
    generations        INTEGER NOT NULL DEFAULT 0,
    succeeded          INTEGER NOT NULL DEFAULT 0,
    gpu_seconds        REAL NOT NULL DEFAULT 0,
    output_megapixels  REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, hour, model, shard)
);

CREATE TRIGGER generations_usage AFTER UPDATE OF status ON generations
WHEN OLD.status = 'processing' AND NEW.status IN ('succeeded', 'failed', 'cancelled')
  AND NEW.gpu_seconds IS NOT NULL
BEGIN
    INSERT INTO usage_hours (owner, model, hour, shard, generations, succeeded, gpu_seconds,
                             output_megapixels)
    VALUES (NEW.owner, NEW.model,
            CAST(COALESCE(NEW.completed_at, unixepoch()) / 3600 AS INTEGER) * 3600, 0, 1,
            CASE WHEN NEW.status = 'succeeded' THEN 1 ELSE 0 END,
            NEW.gpu_seconds, COALESCE(NEW.output_megapixels, 0))
    ON CONFLICT (owner, hour, model, shard) DO UPDATE
    SET generations = generations + 1,
        succeeded = succeeded + excluded.succeeded,
        gpu_seconds = gpu_seconds + excluded.gpu_seconds,
        output_megapixels = output_megapixels + excluded.output_megapixels;
END;

CREATE TABLE key_audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      REAL NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX key_audit_key ON key_audit (key_id, seq);
