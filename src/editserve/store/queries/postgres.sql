-- The PostgreSQL store's statements, one per "-- name:" block (run by store/postgres.py).
--
-- The same names as queries/sqlite.sql, with the same parameters; tests/contract checks
-- the two files define the same set. Parameters are psycopg's %(name)s placeholders; lists
-- (models, ids, statuses) arrive as text[] arrays. Every time the store stamps itself
-- ("now") comes from the database clock, date_part('epoch', now()), so leases and
-- heartbeats written on one host compare correctly on another (the :now SQLite gets is not
-- used here). Times a caller passes in (enqueued_at, created_at, a worker's started_at)
-- are stored as given. Statuses and stages are parameters too: the state machine lives in
-- store/core.py, not here.

-- name: create_schema_migrations
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at DOUBLE PRECISION NOT NULL
);

-- name: applied_migrations
SELECT version FROM schema_migrations ORDER BY version;

-- name: record_migration
INSERT INTO schema_migrations (version, applied_at)
VALUES (%(version)s, date_part('epoch', now()));

-- name: insert_key
INSERT INTO api_keys (id, name, prefix, key_hash, created_at)
VALUES (%(id)s, %(name)s, %(prefix)s, %(key_hash)s, %(created_at)s);

-- name: key_by_hash
SELECT * FROM api_keys WHERE key_hash = %(key_hash)s AND revoked_at IS NULL;

-- name: list_keys
SELECT * FROM api_keys ORDER BY created_at, id;

-- name: revoke_key
UPDATE api_keys SET revoked_at = date_part('epoch', now())
WHERE id = %(id)s AND revoked_at IS NULL;

-- name: count_active_keys
SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL;

-- name: insert_upload
INSERT INTO uploads (id, owner, key, sha256, content_type, format, width, height, size,
                     created_at)
VALUES (%(id)s, %(owner)s, %(key)s, %(sha256)s, %(content_type)s, %(format)s, %(width)s,
        %(height)s, %(size)s, %(created_at)s);

-- name: get_upload
SELECT * FROM uploads WHERE id = %(id)s AND owner = %(owner)s;

-- name: insert_generation
INSERT INTO generations (id, owner, model, status, params, inputs, batch_id, batch_index,
                         priority, seed, width, height, area, target_namespace,
                         idempotency_key, request_hash, enqueued_at)
VALUES (%(id)s, %(owner)s, %(model)s, %(status)s, %(params)s, %(inputs)s, %(batch_id)s,
        %(batch_index)s, %(priority)s, %(seed)s, %(width)s, %(height)s, %(area)s,
        %(target_namespace)s, %(idempotency_key)s, %(request_hash)s, %(enqueued_at)s);

-- name: get_generation
SELECT * FROM generations
WHERE id = %(id)s AND (%(owner)s::text IS NULL OR owner = %(owner)s);

-- name: get_generation_for_update
SELECT * FROM generations WHERE id = %(id)s AND owner = %(owner)s FOR UPDATE;

-- name: count_generations
SELECT COUNT(*) AS n FROM generations
WHERE owner = %(owner)s
  AND (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s::text[]))
  AND (%(model)s::text IS NULL OR model = %(model)s);

-- name: list_generations_newest
SELECT * FROM generations
WHERE owner = %(owner)s
  AND (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s::text[]))
  AND (%(model)s::text IS NULL OR model = %(model)s)
ORDER BY seq DESC LIMIT %(limit)s OFFSET %(offset)s;

-- name: list_generations_oldest
SELECT * FROM generations
WHERE owner = %(owner)s
  AND (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s::text[]))
  AND (%(model)s::text IS NULL OR model = %(model)s)
ORDER BY seq ASC LIMIT %(limit)s OFFSET %(offset)s;

-- name: by_idempotency_key
SELECT * FROM generations
WHERE owner = %(owner)s AND idempotency_key = %(key)s ORDER BY seq;

-- name: queue_position
SELECT COUNT(*) AS n FROM generations
WHERE status = %(queued)s
  AND (priority > %(priority)s
       OR (priority = %(priority)s
           AND seq < (SELECT seq FROM generations WHERE id = %(id)s)));

-- name: recent_run_seconds
SELECT AVG(completed_at - started_at) AS seconds FROM (
    SELECT completed_at, started_at FROM generations
    WHERE model = %(model)s AND status = %(succeeded)s AND started_at IS NOT NULL
    ORDER BY seq DESC LIMIT %(limit)s
) AS recent;

-- name: status_counts
SELECT model, status, COUNT(*) AS n FROM generations GROUP BY model, status;

-- name: flag_cancel
UPDATE generations SET cancel_requested = TRUE WHERE id = %(id)s;

-- name: is_cancel_requested
SELECT cancel_requested FROM generations WHERE id = %(id)s;

-- name: end_unheld
-- A generation no live worker holds reaches a terminal status (a queued cancel, a reap).
UPDATE generations
SET status = %(status)s, completed_at = date_part('epoch', now()),
    error_message = %(error_message)s, cancel_requested = %(cancel_requested)s,
    worker_id = NULL, lease_expires_at = NULL
WHERE id = %(id)s;

-- name: expired_to_reap
-- Expired leases that must not run again: a cancel was asked, or no attempts are left.
-- SKIP LOCKED: a row another transaction holds is that transaction's business.
SELECT * FROM generations
WHERE status = %(held)s AND lease_expires_at < date_part('epoch', now())
  AND (cancel_requested OR attempts >= %(max_attempts)s)
ORDER BY seq
FOR UPDATE SKIP LOCKED;

-- name: claim_next
-- The claim: one statement. The inner SELECT locks the first free row in queue order and
-- skips rows other claimers hold; a row that changed under us is re-checked and passed
-- over. MATERIALIZED keeps the locking SELECT evaluated exactly once.
WITH next AS MATERIALIZED (
    SELECT id FROM generations
    WHERE model = ANY(%(models)s::text[])
      AND (status = %(queued)s
           OR (status = %(held)s AND lease_expires_at < date_part('epoch', now())))
    ORDER BY priority DESC, seq
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE generations AS g
SET status = %(held)s, worker_id = %(worker_id)s,
    lease_expires_at = date_part('epoch', now()) + %(lease_seconds)s,
    attempts = g.attempts + 1, started_at = COALESCE(g.started_at, date_part('epoch', now())),
    progress_step = NULL, progress_total = NULL, stage = %(stage)s
FROM next
WHERE g.id = next.id
RETURNING g.*;

-- name: claim_siblings
-- Queued siblings of a claimed job's enqueue request, to run in the same pipeline call.
WITH siblings AS MATERIALIZED (
    SELECT id FROM generations
    WHERE batch_id = %(batch_id)s AND status = %(queued)s AND id <> %(id)s
    ORDER BY seq
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE generations AS g
SET status = %(held)s, worker_id = %(worker_id)s,
    lease_expires_at = date_part('epoch', now()) + %(lease_seconds)s,
    attempts = g.attempts + 1, started_at = COALESCE(g.started_at, date_part('epoch', now())),
    progress_step = NULL, progress_total = NULL, stage = %(stage)s
FROM siblings
WHERE g.id = siblings.id
RETURNING g.*;

-- name: renew_lease
UPDATE generations SET lease_expires_at = date_part('epoch', now()) + %(lease_seconds)s
WHERE id = %(id)s AND worker_id = %(worker_id)s AND status = %(held)s;

-- name: report_progress
-- One statement for a whole batch; the ids missing from the result lost their lease.
UPDATE generations SET progress_step = %(step)s, progress_total = %(total)s, stage = %(stage)s
WHERE id = ANY(%(ids)s::text[]) AND worker_id = %(worker_id)s AND status = %(held)s
RETURNING id, cancel_requested;

-- name: finish
UPDATE generations
SET status = %(status)s, completed_at = date_part('epoch', now()), result_key = %(result_key)s,
    error_message = %(error_message)s, timings = %(timings)s, receipt = %(receipt)s,
    worker_id = NULL, lease_expires_at = NULL, stage = %(status)s
WHERE id = %(id)s AND worker_id = %(worker_id)s AND status = %(held)s;

-- name: requeue
-- The worker is shutting down: the attempt does not count.
UPDATE generations
SET status = %(queued)s, worker_id = NULL, lease_expires_at = NULL,
    attempts = GREATEST(attempts - 1, 0), progress_step = NULL, progress_total = NULL,
    stage = NULL
WHERE id = %(id)s AND worker_id = %(worker_id)s AND status = %(held)s;

-- name: release_worker_leases
UPDATE generations SET lease_expires_at = 0
WHERE worker_id = %(worker_id)s AND status = %(held)s;

-- name: upsert_worker
INSERT INTO workers (id, host, pid, device, state, model, weights, error, started_at,
                     heartbeat_at)
VALUES (%(id)s, %(host)s, %(pid)s, %(device)s, %(state)s, %(model)s, %(weights)s, %(error)s,
        %(started_at)s, %(heartbeat_at)s)
ON CONFLICT (id) DO UPDATE
SET state = excluded.state, model = excluded.model, weights = excluded.weights,
    error = excluded.error, heartbeat_at = excluded.heartbeat_at, pid = excluded.pid,
    device = excluded.device;

-- name: worker_heartbeat
UPDATE workers
SET heartbeat_at = date_part('epoch', now()), state = COALESCE(%(state)s::text, state)
WHERE id = %(id)s;

-- name: list_workers
SELECT * FROM workers
WHERE %(fresh_within)s::float8 IS NULL
   OR heartbeat_at >= date_part('epoch', now()) - %(fresh_within)s::float8
ORDER BY started_at, id;

-- name: insert_event
-- Run only as a transaction's last step, under pg_advisory_xact_lock (see postgres.py), so
-- event ids become visible in id order.
INSERT INTO events (owner, generation_id, type, data, created_at)
VALUES (%(owner)s, %(generation_id)s, %(type)s, %(data)s, date_part('epoch', clock_timestamp()));

-- name: events_after
SELECT * FROM events WHERE owner = %(owner)s AND id > %(after_id)s ORDER BY id LIMIT %(limit)s;

-- name: last_event_id
SELECT COALESCE(MAX(id), 0) AS n FROM events WHERE owner = %(owner)s;
