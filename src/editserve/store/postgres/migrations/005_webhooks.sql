-- editserve schema v5 (PostgreSQL): webhooks. A generation may name a webhook and the events
-- it wants; a key may have a default webhook and has the secret its deliveries are signed
-- with; deliveries wait in a durable outbox, written in the transaction of their event.

ALTER TABLE generations ADD COLUMN webhook TEXT;
ALTER TABLE generations ADD COLUMN webhook_events TEXT;       -- JSON list: start, completed
ALTER TABLE api_keys ADD COLUMN webhook_url TEXT;              -- the key's default webhook
ALTER TABLE api_keys ADD COLUMN webhook_secret TEXT;           -- whsec_… (Standard Webhooks)

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
