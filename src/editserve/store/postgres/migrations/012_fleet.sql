-- editserve schema v12 (PostgreSQL): a shared fleet (issue 23): scoped keys with a
-- fair-share weight and quotas, fair claim order, usage, and an audit log of key changes.
--
-- api_keys.scopes: a comma-separated set of admin, submit, read. Keys made before v12 get
-- submit,read; the cluster's first key (the one `serve` wrote to <data>/api_key) also admin.
-- api_keys.weight: the key's share of the workers when keys wait together (default 1).
-- api_keys.max_running / gpu_seconds_per_day: the key's quotas (NULL: the server's default).
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'read,submit';
ALTER TABLE api_keys ADD COLUMN weight DOUBLE PRECISION NOT NULL DEFAULT 1;
ALTER TABLE api_keys ADD COLUMN max_running INTEGER;
ALTER TABLE api_keys ADD COLUMN gpu_seconds_per_day DOUBLE PRECISION;
UPDATE api_keys SET scopes = 'admin,read,submit'
WHERE id = (SELECT value FROM cluster WHERE name = 'first_key');

-- Fair sharing (start-time fair queueing, store/fairness.py): each queued generation has a
-- virtual start tag `vtag` given at enqueue, and `fair_cost`, its estimated GPU seconds
-- divided by its key's weight. The claim takes the lowest tag at the highest priority.
-- gpu_seconds: the worker time the generation took (its share of a batched call, plus its
-- own storing); output_megapixels: what it produced. Both set by the worker's finish.
ALTER TABLE generations ADD COLUMN vtag DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN fair_cost DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN gpu_seconds DOUBLE PRECISION;
ALTER TABLE generations ADD COLUMN output_megapixels DOUBLE PRECISION;

DROP INDEX generations_claim;
CREATE INDEX generations_claim ON generations (model, priority DESC, vtag, seq)
    WHERE status = 'queued';
DROP INDEX generations_queue;
CREATE INDEX generations_queue ON generations (priority DESC, vtag, seq)
    WHERE status = 'queued';
-- A key's newest waiting or running generation at a priority: its last finish tag.
CREATE INDEX generations_owner_fair ON generations (owner, priority, seq)
    WHERE status IN ('queued', 'processing');

-- Usage by the hour (GET /api/ai/usage, the GPU-seconds quota, /metrics): one row per key,
-- model, hour (unix seconds of its start) and shard (16, as generation_counts: finishes of
-- one key on many workers do not wait for each other's row). Written by the finish of a
-- worker (gpu_seconds set), kept when retention prunes the generations.
CREATE TABLE usage_hours (
    owner              TEXT NOT NULL,
    model              TEXT NOT NULL,
    hour               BIGINT NOT NULL,
    shard              INTEGER NOT NULL,
    generations        BIGINT NOT NULL DEFAULT 0,
    succeeded          BIGINT NOT NULL DEFAULT 0,
    gpu_seconds        DOUBLE PRECISION NOT NULL DEFAULT 0,
    output_megapixels  DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, hour, model, shard)
);

CREATE FUNCTION editserve_record_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_hours (owner, model, hour, shard, generations, succeeded, gpu_seconds,
                             output_megapixels)
    VALUES (NEW.owner, NEW.model,
            (floor(COALESCE(NEW.completed_at, date_part('epoch', now())) / 3600) * 3600)::bigint,
            abs(hashtext(NEW.id) % 16), 1,
            CASE WHEN NEW.status = 'succeeded' THEN 1 ELSE 0 END,
            NEW.gpu_seconds, COALESCE(NEW.output_megapixels, 0))
    ON CONFLICT (owner, hour, model, shard) DO UPDATE
    SET generations = usage_hours.generations + 1,
        succeeded = usage_hours.succeeded + excluded.succeeded,
        gpu_seconds = usage_hours.gpu_seconds + excluded.gpu_seconds,
        output_megapixels = usage_hours.output_megapixels + excluded.output_megapixels;
    RETURN NULL;
END;
$$;

CREATE TRIGGER generations_usage AFTER UPDATE OF status ON generations
    FOR EACH ROW
    WHEN (OLD.status = 'processing' AND NEW.status IN ('succeeded', 'failed', 'cancelled')
          AND NEW.gpu_seconds IS NOT NULL)
    EXECUTE FUNCTION editserve_record_usage();

-- Every change an admin makes to keys (/api/admin/keys, `editserve keys`): who, when, what.
CREATE TABLE key_audit (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      DOUBLE PRECISION NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX key_audit_key ON key_audit (key_id, seq);
