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
