-- editserve schema v14 (SQLite): batches (issue 22); see the PostgreSQL migration of the
-- same number for what each part means.
CREATE TABLE batches (
    id                TEXT NOT NULL PRIMARY KEY,
    owner             TEXT NOT NULL,
    status            TEXT NOT NULL,
    total             INTEGER NOT NULL,
    processing        INTEGER NOT NULL DEFAULT 0,
    succeeded         INTEGER NOT NULL DEFAULT 0,
    failed            INTEGER NOT NULL DEFAULT 0,
    cancelled         INTEGER NOT NULL DEFAULT 0,
    priority          INTEGER NOT NULL,
    webhook           TEXT,
    metadata          TEXT,
    request_hash      TEXT,
    idempotency_key   TEXT,
    created_at        REAL NOT NULL,
    finished_at       REAL,
    cancel_requested  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX batches_owner ON batches (owner, created_at);
CREATE UNIQUE INDEX batches_idempotency ON batches (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE generations ADD COLUMN batch_ref TEXT;
ALTER TABLE generations ADD COLUMN batch_item INTEGER;
ALTER TABLE generations ADD COLUMN custom_id TEXT;
CREATE INDEX generations_batch_items ON generations (batch_ref, batch_item)
    WHERE batch_ref IS NOT NULL;

CREATE TRIGGER generations_batch_count AFTER UPDATE OF status ON generations
WHEN NEW.batch_ref IS NOT NULL AND OLD.status IS NOT NEW.status
BEGIN
    UPDATE batches
    SET processing = processing + (NEW.status = 'processing') - (OLD.status = 'processing'),
        succeeded = succeeded + (NEW.status = 'succeeded'),
        failed = failed + (NEW.status = 'failed'),
        cancelled = cancelled + (NEW.status = 'cancelled')
    WHERE id = NEW.batch_ref;
    INSERT INTO events (owner, generation_id, type, data, created_at)
    SELECT owner, id, 'batch.completed',
           json_object('batch_id', id,
                       'status', CASE WHEN cancel_requested THEN 'cancelled' ELSE 'completed' END,
                       'total', total, 'succeeded', succeeded, 'failed', failed,
                       'cancelled', cancelled),
           ((julianday('now') - 2440587.5) * 86400.0)
    FROM batches
    WHERE id = NEW.batch_ref AND status = 'running' AND succeeded + failed + cancelled >= total;
    UPDATE batches
    SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'completed' END,
        finished_at = ((julianday('now') - 2440587.5) * 86400.0)
    WHERE id = NEW.batch_ref AND status = 'running' AND succeeded + failed + cancelled >= total;
END;

CREATE TRIGGER events_batch_webhooks AFTER INSERT ON events
WHEN NEW.type = 'batch.completed'
BEGIN
    INSERT INTO webhook_deliveries (id, owner, generation_id, event_type, url, status,
                                    attempts, next_attempt_at, created_at)
    SELECT 'msg_' || NEW.id, NEW.owner, NEW.generation_id, 'batch.completed', b.webhook,
           'pending', 0, NEW.created_at, NEW.created_at
    FROM batches AS b
    WHERE b.id = NEW.generation_id AND b.webhook IS NOT NULL;
END;
