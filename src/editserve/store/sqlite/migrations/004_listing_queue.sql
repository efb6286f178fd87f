-- editserve schema v4 (SQLite): listings that stay flat in the size of the history.
--
-- * owner_seq numbers each key's generations 1, 2, 3... in enqueue order (a trigger
--   assigns it, whoever inserts the row), so history page N is one index range
--   (generations_owner_seq) instead of an OFFSET over every earlier row.
-- * generation_counts keeps, per key, model and ended status, how many generations ended
--   so; triggers maintain it in the transaction of the change. Counts of the active
--   statuses are read from generations_owner_status (a key has few active generations), so
--   claims never touch a counter row.
-- * generations_owner_status gains seq: a key's generations of one status, in queue order.
-- Status literals appear in trigger conditions (a trigger cannot take parameters).

ALTER TABLE generations ADD COLUMN owner_seq INTEGER;
UPDATE generations SET owner_seq = ranked.n
FROM (SELECT seq, ROW_NUMBER() OVER (PARTITION BY owner ORDER BY seq) AS n FROM generations)
    AS ranked
WHERE generations.seq = ranked.seq;
CREATE UNIQUE INDEX generations_owner_seq ON generations (owner, owner_seq);
DROP INDEX generations_owner;
DROP INDEX generations_owner_status;
CREATE INDEX generations_owner_status ON generations (owner, status, seq);

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
INSERT INTO generation_counts (owner, model, status, shard, n)
SELECT owner, model, status, 0, COUNT(*) FROM generations
WHERE status IN ('succeeded', 'failed', 'cancelled')
GROUP BY owner, model, status;

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
