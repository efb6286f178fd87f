-- editserve schema v14 (PostgreSQL): batches (issue 22). A batch is one submission of up to
-- 10,000 requests; each item is an ordinary generation (the queue's durability and leases)
-- pointing at its batch (batch_ref), with its place in it (batch_item) and the caller's
-- custom_id. The batch row keeps counts by status, moved by a trigger as its items move,
-- so showing a batch's progress reads one row. When the last item ends, the same trigger
-- marks the batch ended and writes its batch.completed event (webhooks follow from it).
-- (generations.batch_id is older and different: the generations of one enqueue request,
-- run together as one pipeline call.)
CREATE TABLE batches (
    id                text NOT NULL PRIMARY KEY,
    owner             text NOT NULL,
    status            text NOT NULL,  -- running | completed | cancelled
    total             integer NOT NULL,
    processing        integer NOT NULL DEFAULT 0,
    succeeded         integer NOT NULL DEFAULT 0,
    failed            integer NOT NULL DEFAULT 0,
    cancelled         integer NOT NULL DEFAULT 0,
    priority          integer NOT NULL,
    webhook           text,
    metadata          text,
    request_hash      text,
    idempotency_key   text,
    created_at        double precision NOT NULL,
    finished_at       double precision,
    cancel_requested  boolean NOT NULL DEFAULT false
);
CREATE INDEX batches_owner ON batches (owner, created_at);
CREATE UNIQUE INDEX batches_idempotency ON batches (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE generations ADD COLUMN batch_ref text;
ALTER TABLE generations ADD COLUMN batch_item integer;
ALTER TABLE generations ADD COLUMN custom_id text;
CREATE INDEX generations_batch_items ON generations (batch_ref, batch_item)
    WHERE batch_ref IS NOT NULL;

CREATE FUNCTION editserve_count_batch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    b batches%ROWTYPE;
BEGIN
    UPDATE batches
    SET processing = processing + (NEW.status = 'processing')::int
                                - (OLD.status = 'processing')::int,
        succeeded = succeeded + (NEW.status = 'succeeded')::int,
        failed = failed + (NEW.status = 'failed')::int,
        cancelled = cancelled + (NEW.status = 'cancelled')::int
    WHERE id = NEW.batch_ref
    RETURNING * INTO b;
    IF FOUND AND b.status = 'running' AND b.succeeded + b.failed + b.cancelled >= b.total THEN
        UPDATE batches
        SET status = CASE WHEN b.cancel_requested THEN 'cancelled' ELSE 'completed' END,
            finished_at = date_part('epoch', now())
        WHERE id = b.id;
        PERFORM pg_advisory_xact_lock_shared(111481940344834);  -- EVENTS_LOCK, as events do
        INSERT INTO events (owner, generation_id, type, data, created_at)
        VALUES (b.owner, b.id, 'batch.completed',
                json_build_object(
                    'batch_id', b.id,
                    'status', CASE WHEN b.cancel_requested THEN 'cancelled' ELSE 'completed' END,
                    'total', b.total, 'succeeded', b.succeeded, 'failed', b.failed,
                    'cancelled', b.cancelled)::text,
                date_part('epoch', clock_timestamp()));
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER generations_batch_count AFTER UPDATE OF status ON generations
    FOR EACH ROW
    WHEN (NEW.batch_ref IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION editserve_count_batch();

-- batch.completed goes to the batch's webhook, as a generation's events go to its own.
CREATE FUNCTION editserve_batch_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (id, owner, generation_id, event_type, url, status,
                                    attempts, next_attempt_at, created_at)
    SELECT 'msg_' || NEW.id, NEW.owner, NEW.generation_id, 'batch.completed', b.webhook,
           'pending', 0, NEW.created_at, NEW.created_at
    FROM batches AS b
    WHERE b.id = NEW.generation_id AND b.webhook IS NOT NULL;
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_batch_webhooks AFTER INSERT ON events
    FOR EACH ROW
    WHEN (NEW.type = 'batch.completed')
    EXECUTE FUNCTION editserve_batch_webhook();
