-- editserve schema v2 (SQLite): the indexes the queue core's statements use, as on
-- PostgreSQL. Partial indexes (status literals are allowed here: an index's WHERE cannot
-- take parameters) keep each one as small as the rows it serves.

-- The claim: the oldest queued job of the highest priority, per model (was: all statuses).
DROP INDEX generations_claim;
CREATE INDEX generations_claim ON generations (model, priority DESC, seq)
    WHERE status = 'queued';
-- The whole queue in claim order: queue positions and claims over several models.
CREATE INDEX generations_queue ON generations (priority DESC, seq) WHERE status = 'queued';
-- Expired leases (reaped or reclaimed by the claim) and a worker's jobs.
CREATE INDEX generations_leased ON generations (lease_expires_at) WHERE status = 'processing';
CREATE INDEX generations_worker ON generations (worker_id) WHERE status = 'processing';
-- Siblings of one enqueue request (batch claims).
CREATE INDEX generations_batch ON generations (batch_id, seq) WHERE status = 'queued';
-- Per-owner counts by status (active counts, filtered lists).
CREATE INDEX generations_owner_status ON generations (owner, status);
-- Idempotency lookups: only rows that have a key.
DROP INDEX generations_idempotency;
CREATE INDEX generations_idempotency ON generations (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- ETAs: the last succeeded runs of a model.
CREATE INDEX generations_model_done ON generations (model, seq) WHERE status = 'succeeded';
