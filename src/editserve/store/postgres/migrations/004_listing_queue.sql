-- editserve schema v4 (PostgreSQL): listings that stay flat in the size of the history.
--
-- * owner_seq numbers each key's generations 1, 2, 3... in enqueue order (a trigger
--   assigns it under a per-key advisory lock, whoever inserts the row), so history page N
--   is one index range (generations_owner_seq) instead of an OFFSET over earlier rows.
-- * generation_counts keeps, per key, model and ended status, how many generations ended
--   so, in 16 shards (by generation id, so that concurrent finishes of one key rarely
--   wait on one row); triggers maintain it in the transaction of the change. Counts of the active
--   statuses come from generations_owner_status (a key has few active generations), so
--   claims never touch a counter row. The counting trigger first takes the events lock
--   in shared mode (as every event-writing transaction does, see store/postgres.py), so
--   every transaction takes that lock before a counter row: no lock-order deadlock.
-- * generations_owner_status gains seq: a key's generations of one status, in queue order.
-- * The events trigger's NOTIFY goes: sent inside the writing transaction, it made every
--   event-writing commit wait on the notification queue's lock, WAL flush included (a
--   few hundred commits a second at most). The store sends the hints after its commits.
-- Status literals appear in trigger conditions (a trigger cannot take parameters).

DROP TRIGGER events_notify ON events;
DROP FUNCTION editserve_notify_event();

ALTER TABLE generations ADD COLUMN owner_seq BIGINT;
UPDATE generations AS g SET owner_seq = ranked.n
FROM (SELECT seq, ROW_NUMBER() OVER (PARTITION BY owner ORDER BY seq) AS n FROM generations)
    AS ranked
WHERE g.seq = ranked.seq;
CREATE UNIQUE INDEX generations_owner_seq ON generations (owner, owner_seq);
DROP INDEX generations_owner;
DROP INDEX generations_owner_status;
CREATE INDEX generations_owner_status ON generations (owner, status, seq);

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
INSERT INTO generation_counts (owner, model, status, shard, n)
SELECT owner, model, status, abs(hashtext(id) % 16), COUNT(*) FROM generations
WHERE status IN ('succeeded', 'failed', 'cancelled')
GROUP BY 1, 2, 3, 4;

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
