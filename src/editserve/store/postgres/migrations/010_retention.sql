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
