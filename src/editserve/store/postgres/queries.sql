-- The PostgreSQL store's statements, one per "-- name:" block (run by store/postgres/store.py).
--
-- The same names as sqlite/queries.sql, with the same parameters; tests/contract checks
-- the two files define the same set, but for the hot path: claim_started and
-- finish_ended are one statement each that writes its events too (one round trip;
-- SQLite runs claim_next, claim_siblings and finish in a transaction instead).
-- Parameters are psycopg's %(name)s placeholders; lists
-- (models, ids, statuses) arrive as text[] arrays. Every time the store stamps itself
-- ("now") comes from the database clock, date_part('epoch', now()), so leases and
-- heartbeats written on one host compare correctly on another (the :now SQLite gets is not
-- used here). Times a caller passes in (enqueued_at, created_at, a worker's started_at)
-- are stored as given. Statuses and stages are parameters too: the state machine lives in
-- store/core.py, not here; %(queued)s and %(held)s become literals when the file is read
-- (store/dialect.py FIXED_STATUSES). Blocks marked `-- fragment: x` are CTEs that the
-- statements using {{x}} share.

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
INSERT INTO api_keys (id, name, prefix, key_hash, created_at, webhook_secret, webhook_url,
                      scopes, weight, max_running, gpu_seconds_per_day)
VALUES (%(id)s, %(name)s, %(prefix)s, %(key_hash)s, %(created_at)s, %(webhook_secret)s,
        %(webhook_url)s, %(scopes)s, %(weight)s, %(max_running)s, %(gpu_seconds_per_day)s);

-- name: get_key
SELECT * FROM api_keys WHERE id = %(id)s;

-- name: update_key
-- An admin's change (store/keys.py): each field is set only when its set_* flag is.
UPDATE api_keys
SET name = CASE WHEN %(set_name)s THEN %(name)s ELSE name END,
    scopes = CASE WHEN %(set_scopes)s THEN %(scopes)s ELSE scopes END,
    weight = CASE WHEN %(set_weight)s THEN %(weight)s ELSE weight END,
    max_running = CASE WHEN %(set_max_running)s THEN %(max_running)s ELSE max_running END,
    gpu_seconds_per_day = CASE WHEN %(set_gpu_seconds_per_day)s THEN %(gpu_seconds_per_day)s
                               ELSE gpu_seconds_per_day END,
    webhook_url = CASE WHEN %(set_webhook_url)s THEN %(webhook_url)s ELSE webhook_url END
WHERE id = %(id)s AND revoked_at IS NULL
RETURNING *;

-- name: lock_keys
-- Key changes that must see every active key (the last admin is never removed) take turns.
SELECT pg_advisory_xact_lock(1701079413, 0);  -- "edit"+1: not an owner lock

-- name: count_active_admins
SELECT COUNT(*) AS n FROM api_keys
WHERE revoked_at IS NULL AND position('admin' IN scopes) > 0 AND id <> %(id)s;

-- name: insert_audit
INSERT INTO key_audit (at, actor, action, key_id, detail)
VALUES (date_part('epoch', now()), %(actor)s, %(action)s, %(key_id)s, %(detail)s);

-- name: audit_log
SELECT * FROM key_audit
WHERE (%(key_id)s::text IS NULL OR key_id = %(key_id)s) AND seq < %(before)s
ORDER BY seq DESC
LIMIT %(limit)s;

-- name: usage_hours
-- Usage of one key (NULL: every key) in [from_hour, to_hour), by key, model and hour.
SELECT owner, model, hour, SUM(generations) AS generations, SUM(succeeded) AS succeeded,
       SUM(gpu_seconds) AS gpu_seconds, SUM(output_megapixels) AS output_megapixels
FROM usage_hours
WHERE (%(owner)s::text IS NULL OR owner = %(owner)s)
  AND hour >= %(from_hour)s AND hour < %(to_hour)s
GROUP BY owner, model, hour
ORDER BY hour, owner, model;

-- name: usage_totals
-- Every key's usage so far, by model (the /metrics counters).
SELECT owner, model, SUM(generations) AS generations, SUM(succeeded) AS succeeded,
       SUM(gpu_seconds) AS gpu_seconds, SUM(output_megapixels) AS output_megapixels
FROM usage_hours
GROUP BY owner, model
ORDER BY owner, model;

-- name: fair_terms
-- What an enqueue's start tags are made from (store/fairness.py), at one priority: the
-- fair clock (the lowest tag waiting; with none waiting the highest running, else the
-- newest given), the owner's last finish tag among its waiting and running generations
-- (NULL: none) and its weight. Each part is one index step.
SELECT COALESCE(
           (SELECT vtag FROM generations
            WHERE status = %(queued)s AND priority = %(priority)s
            ORDER BY vtag LIMIT 1),
           (SELECT MAX(vtag) FROM generations
            WHERE status = %(held)s AND priority = %(priority)s),
           (SELECT vtag FROM generations ORDER BY seq DESC LIMIT 1),
           0) AS clock,
       (SELECT vtag + fair_cost FROM generations
        WHERE owner = %(owner)s AND priority = %(priority)s
          AND status IN (%(queued)s, %(held)s)
        ORDER BY seq DESC LIMIT 1) AS owner_finish,
       (SELECT weight FROM api_keys WHERE id = %(owner)s) AS weight;

-- name: key_by_hash
SELECT * FROM api_keys WHERE key_hash = %(key_hash)s AND revoked_at IS NULL;

-- name: list_keys
SELECT * FROM api_keys ORDER BY created_at, id;

-- name: revoke_key
UPDATE api_keys SET revoked_at = date_part('epoch', now())
WHERE id = %(id)s AND revoked_at IS NULL;

-- name: count_active_keys
SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL;

-- name: cluster_facts
-- The cluster record (migration 009, store/cluster.py).
SELECT name, value, recorded_at, recorded_by FROM cluster ORDER BY name;

-- name: insert_cluster_fact
-- Insert-if-absent: the first value written stays.
INSERT INTO cluster (name, value, recorded_at, recorded_by)
VALUES (%(name)s, %(value)s, date_part('epoch', now()), %(by)s)
ON CONFLICT (name) DO NOTHING;

-- name: set_cluster_fact
INSERT INTO cluster (name, value, recorded_at, recorded_by)
VALUES (%(name)s, %(value)s, date_part('epoch', now()), %(by)s)
ON CONFLICT (name) DO UPDATE SET value = excluded.value, recorded_at = excluded.recorded_at,
                                 recorded_by = excluded.recorded_by;

-- name: lock_cluster
-- Held until the transaction ends: nodes recording the cluster record go one at a time.
SELECT pg_advisory_xact_lock(%(lock)s::bigint)::text AS locked;

-- name: insert_upload
INSERT INTO uploads (id, owner, key, sha256, content_type, format, width, height, size,
                     created_at)
VALUES (%(id)s, %(owner)s, %(key)s, %(sha256)s, %(content_type)s, %(format)s, %(width)s,
        %(height)s, %(size)s, %(created_at)s);

-- name: get_upload
SELECT * FROM uploads WHERE id = %(id)s AND owner = %(owner)s;

-- name: upload_owner
SELECT owner FROM uploads WHERE id = %(id)s;

-- name: owner_output
-- Blob ownership (store/links.py): an output by its generation id (the id index): its
-- result, or one of its layers (migration 011).
SELECT 1 AS found FROM generations
WHERE id = %(id)s AND owner = %(owner)s
  AND (result_key = %(key)s OR COALESCE(layer_keys::jsonb ? %(key)s, false));

-- name: owner_input
-- An input the owner uploaded, or that one of the owner's generations was edited with
-- (input_refs, kept by a trigger, makes both halves index lookups).
SELECT (EXISTS (SELECT 1 FROM uploads WHERE owner = %(owner)s AND key = %(key)s)
        OR EXISTS (SELECT 1 FROM input_refs AS r JOIN generations AS g ON g.id = r.generation_id
                   WHERE r.key = %(key)s AND g.owner = %(owner)s)) AS found;

-- name: output_owner_revoked
-- Signed links die with their key (store/links.py): an output whose generation's key is
-- revoked (the id index, then the key's primary key).
SELECT 1 AS found FROM generations AS g JOIN api_keys AS k ON k.id = g.owner
WHERE g.id = %(id)s AND k.revoked_at IS NOT NULL
  AND (g.result_key = %(key)s OR COALESCE(g.layer_keys::jsonb ? %(key)s, false));

-- name: input_owners_revoked
-- An input whose every owner (who uploaded it, or edited with it) is a revoked key. An
-- input whose owners are unknown is not revoked (it goes when a prune deletes it).
SELECT ((EXISTS (SELECT 1 FROM uploads AS u JOIN api_keys AS k ON k.id = u.owner
                 WHERE u.key = %(key)s AND k.revoked_at IS NOT NULL)
         OR EXISTS (SELECT 1 FROM input_refs AS r JOIN generations AS g ON g.id = r.generation_id
                    JOIN api_keys AS k ON k.id = g.owner
                    WHERE r.key = %(key)s AND k.revoked_at IS NOT NULL))
        AND NOT EXISTS (SELECT 1 FROM uploads AS u LEFT JOIN api_keys AS k ON k.id = u.owner
                        WHERE u.key = %(key)s AND k.revoked_at IS NULL)
        AND NOT EXISTS (SELECT 1 FROM input_refs AS r
                        JOIN generations AS g ON g.id = r.generation_id
                        LEFT JOIN api_keys AS k ON k.id = g.owner
                        WHERE r.key = %(key)s AND k.revoked_at IS NULL)) AS revoked;

-- name: insert_generation
-- owner_seq NULL: the numbering trigger gives the key's next number; a batch gives its
-- items' numbers itself (store/core.py insert_batch, under the same per-key lock).
INSERT INTO generations (id, owner, model, status, params, inputs, batch_id, batch_index,
                         priority, seed, width, height, area, target_namespace,
                         idempotency_key, request_hash, enqueued_at, webhook,
                         webhook_events, vtag, fair_cost, batch_ref,
                         batch_item, custom_id, owner_seq)
VALUES (%(id)s, %(owner)s, %(model)s, %(status)s, %(params)s, %(inputs)s, %(batch_id)s,
        %(batch_index)s, %(priority)s, %(seed)s, %(width)s, %(height)s, %(area)s,
        %(target_namespace)s, %(idempotency_key)s, %(request_hash)s, %(enqueued_at)s,
        %(webhook)s, %(webhook_events)s, %(vtag)s, %(fair_cost)s, %(batch_ref)s,
        %(batch_item)s, %(custom_id)s, %(owner_seq)s);

-- name: lock_owner_enqueue
-- An enqueue under the per-key queue limit: one owner's enqueues wait for each other here
-- (released at commit), so the count below and the insert after it are atomic per owner.
-- The two-int key space (1701079412 = "edit") never meets the bigint locks of store.py.
SELECT pg_advisory_xact_lock(1701079412, hashtext(%(owner)s));

-- name: count_owner_active
-- A key's queued and processing generations, read after lock_owner_enqueue (a statement of
-- its own: READ COMMITTED takes its snapshot after the lock is held).
SELECT COUNT(*) AS n FROM generations
WHERE owner = %(owner)s AND status IN (%(queued)s, %(held)s) AND batch_ref IS NULL;

-- name: get_generation
SELECT * FROM generations
WHERE id = %(id)s AND (%(owner)s::text IS NULL OR owner = %(owner)s);

-- name: get_generation_for_update
SELECT * FROM generations WHERE id = %(id)s AND owner = %(owner)s FOR UPDATE;

-- name: count_status
-- A key's generations of one active status (few: the per-key queue limit bounds them).
SELECT COUNT(*) AS n FROM generations
WHERE owner = %(owner)s AND status = %(status)s
  AND (%(model)s::text IS NULL OR model = %(model)s);

-- name: count_ended
-- A key's ended generations of the given statuses, from the counters (no scan).
SELECT COALESCE(SUM(n), 0) AS n FROM generation_counts
WHERE owner = %(owner)s AND status = ANY(%(statuses)s::text[])
  AND (%(model)s::text IS NULL OR model = %(model)s);
-- name: last_owner_seq
-- The number of a key's newest generation (1, 2, 3... per key: see migration 004).
SELECT COALESCE(MAX(owner_seq), 0) AS n FROM generations WHERE owner = %(owner)s;

-- name: list_owner_range
-- One history page by number: a range of owner_seq, newest first.
SELECT * FROM generations
WHERE owner = %(owner)s AND owner_seq > %(low)s AND owner_seq <= %(high)s
ORDER BY owner_seq DESC;

-- name: list_model_newest
SELECT * FROM generations WHERE owner = %(owner)s AND model = %(model)s
ORDER BY owner_seq DESC LIMIT %(limit)s OFFSET %(offset)s;

-- name: list_model_oldest
SELECT * FROM generations WHERE owner = %(owner)s AND model = %(model)s
ORDER BY owner_seq ASC LIMIT %(limit)s OFFSET %(offset)s;

-- name: list_status_newest
-- A key's generations of one status, by queue order (generations_owner_status).
SELECT * FROM generations
WHERE owner = %(owner)s AND status = %(status)s
  AND (%(model)s::text IS NULL OR model = %(model)s)
ORDER BY seq DESC LIMIT %(limit)s OFFSET %(offset)s;
-- name: list_status_oldest
SELECT * FROM generations
WHERE owner = %(owner)s AND status = %(status)s
  AND (%(model)s::text IS NULL OR model = %(model)s)
ORDER BY seq ASC LIMIT %(limit)s OFFSET %(offset)s;
-- name: by_idempotency_key
SELECT * FROM generations
WHERE owner = %(owner)s AND idempotency_key = %(key)s ORDER BY seq;

-- name: queue_position
SELECT COUNT(*) AS n FROM generations
WHERE status = %(queued)s
  AND (priority, -vtag, -seq) > (SELECT %(priority)s, -vtag, -seq FROM generations
                                 WHERE id = %(id)s);

-- name: recent_run_seconds
SELECT AVG(completed_at - started_at) AS seconds FROM (
    SELECT completed_at, started_at FROM generations
    WHERE model = %(model)s AND status = %(succeeded)s AND started_at IS NOT NULL
    ORDER BY seq DESC LIMIT %(limit)s
) AS recent;

-- name: recent_step_seconds
-- Wall seconds per denoising step of one output megapixel, over the last succeeded runs of
-- a model that reported their steps (progress_total): ETAs that follow a request's work.
SELECT SUM(completed_at - started_at)
       / NULLIF(SUM(progress_total::float8 * width * height / 1000000.0::float8), 0)
       AS seconds FROM (
    SELECT completed_at, started_at, progress_total, width, height FROM generations
    WHERE model = %(model)s AND status = %(succeeded)s AND started_at IS NOT NULL
      AND progress_total > 0
    ORDER BY seq DESC LIMIT %(limit)s
) AS recent;

-- name: ended_counts
-- Ended generations per (model, status) over every key, from the counters (for /metrics).
SELECT model, status, SUM(n) AS n FROM generation_counts GROUP BY model, status;

-- name: status_counts_by_model
-- Generations of one active status per model (the partial index of that status).
SELECT model, COUNT(*) AS n FROM generations WHERE status = %(status)s GROUP BY model;
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

-- fragment: claim
-- The claim, its batch siblings and their started events (the CTEs of claim_started and
-- finish_claim; its result is `claimed` joined to `started`).
-- `queued` and `expired` each lock the first free row of their kind in queue order (an
-- ordered index step; rows other claimers hold are skipped); the earlier of the two is
-- claimed. `queued` takes the head of each served model's queue (generations_claim, one
-- ordered step per model; `model = ANY(...)` instead would read and sort every queued row
-- of those models on each claim: a deep backlog made each claim slower); the other heads
-- it locked are free again when the statement ends. An expired lease is claimed again only
-- with attempts left and no cancel asked (the reaper ends the others), and never the one
-- %(finishing)s (finish_claim's own job; NULL: none). MATERIALIZED keeps each locking
-- SELECT evaluated once. The events are inserted under the events lock in shared mode
-- (taken once the rows are ours, released at commit; event readers take it exclusively:
-- see store/postgres/store.py). Their JSON is the store's own (core.started_template): the
-- statement fills in id, model and attempt.
-- Candidates of the %(loaded)s model (NULL: none; `loaded` is then empty, so a plan kept
-- for all values reads nothing for it) join them: the highest priority wins; at
-- equal priority the loaded model's job, unless another model's job was enqueued at or
-- before %(starved_before)s (NULL: none starves); then the earlier (see sqlite/queries.sql).
queued AS MATERIALIZED (
    SELECT head.* FROM unnest(%(models)s::text[]) AS served(model)
    CROSS JOIN LATERAL (
        SELECT id, batch_id, priority, vtag, seq, model, enqueued_at FROM generations
        WHERE status = %(queued)s AND model = served.model
        ORDER BY priority DESC, vtag, seq
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ) AS head
    ORDER BY head.priority DESC, head.vtag, head.seq
    LIMIT 1
), expired AS MATERIALIZED (
    SELECT id, batch_id, priority, vtag, seq, model, enqueued_at FROM generations
    WHERE status = %(held)s AND lease_expires_at < date_part('epoch', now())
      AND model = ANY(%(models)s::text[])
      AND attempts < %(max_attempts)s AND NOT cancel_requested
      AND id IS DISTINCT FROM %(finishing)s::text
    ORDER BY priority DESC, seq
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), loaded AS (
    SELECT %(loaded)s::text AS model WHERE %(loaded)s::text = ANY(%(models)s::text[])
), loaded_queued AS MATERIALIZED (
    SELECT head.* FROM loaded CROSS JOIN LATERAL (
        SELECT id, batch_id, priority, vtag, seq, model, enqueued_at FROM generations
        WHERE status = %(queued)s AND model = loaded.model
        ORDER BY priority DESC, vtag, seq
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ) AS head
), loaded_expired AS MATERIALIZED (
    SELECT head.* FROM loaded CROSS JOIN LATERAL (
        SELECT id, batch_id, priority, vtag, seq, model, enqueued_at FROM generations
        WHERE status = %(held)s AND lease_expires_at < date_part('epoch', now())
          AND model = loaded.model
          AND attempts < %(max_attempts)s AND NOT cancel_requested
          AND id IS DISTINCT FROM %(finishing)s::text
        ORDER BY priority DESC, seq
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ) AS head
), first AS MATERIALIZED (
    SELECT * FROM (
        SELECT * FROM queued UNION ALL SELECT * FROM expired
        UNION ALL SELECT * FROM loaded_queued UNION ALL SELECT * FROM loaded_expired
    ) AS candidates
    ORDER BY priority DESC,
             CASE WHEN model = %(loaded)s::text THEN 1
                  WHEN enqueued_at <= %(starved_before)s::float8 THEN 0 ELSE 2 END,
             vtag, seq
    LIMIT 1
), siblings AS MATERIALIZED (
    SELECT g.id FROM generations AS g, first
    WHERE g.batch_id = first.batch_id AND g.status = %(queued)s AND g.id <> first.id
    ORDER BY g.seq
    LIMIT %(siblings)s
    FOR UPDATE OF g SKIP LOCKED
), claimed AS (
    UPDATE generations AS g
    SET status = %(held)s, worker_id = %(worker_id)s,
        lease_expires_at = date_part('epoch', now()) + %(lease_seconds)s,
        attempts = g.attempts + 1,
        started_at = COALESCE(g.started_at, date_part('epoch', now())),
        progress_step = NULL, progress_total = NULL, stage = %(stage)s
    WHERE g.id IN (SELECT id FROM first UNION ALL SELECT id FROM siblings)
    RETURNING g.*, g.id = (SELECT id FROM first) AS is_first
), events_lock AS MATERIALIZED (
    SELECT pg_advisory_xact_lock_shared(%(events_lock)s) FROM (SELECT 1 FROM claimed LIMIT 1) AS one
), started AS (
    INSERT INTO events (owner, generation_id, type, data, created_at)
    SELECT c.owner, c.id, %(event_type)s,
           replace(replace(replace(%(event_data)s,
                                   %(attempt_mark)s, c.attempts::text),
                           %(model_mark)s, to_json(c.model)::text),
                   %(id_mark)s, to_json(c.id)::text),
           date_part('epoch', clock_timestamp())
    FROM claimed AS c, events_lock
    ORDER BY c.is_first DESC, c.batch_index
    RETURNING id, generation_id
)

-- name: claim_started
-- The claim, its batch siblings and their started events: one statement, one round trip.
WITH {{claim}}
SELECT claimed.*, claimed.owner AS event_owner, started.id AS event_id
FROM claimed JOIN started ON started.generation_id = claimed.id
ORDER BY is_first DESC, batch_index;

-- name: finish_claim
-- A worker's finish and its next claim: one statement, one commit (store/core.py
-- finish_and_claim). The finish is finish_ended's; one row comes back even when nothing
-- was claimed: `finished` (1 if the job was still ours), the finish's event, and the
-- claimed rows as claim_started returns them (NULLs when none).
WITH {{finish}}, {{claim}}
SELECT finish.finished, finish.finish_event_id, finish.finish_owner, next.*
FROM (SELECT count(*) AS finished, max(id) AS finish_event_id, max(owner) AS finish_owner
      FROM ended) AS finish
LEFT JOIN (SELECT claimed.*, claimed.owner AS event_owner, started.id AS event_id
           FROM claimed JOIN started ON started.generation_id = claimed.id) AS next ON true
ORDER BY next.is_first DESC, next.batch_index;

-- name: renew_lease
UPDATE generations SET lease_expires_at = date_part('epoch', now()) + %(lease_seconds)s
WHERE id = %(id)s AND worker_id = %(worker_id)s AND status = %(held)s;

-- name: report_progress
-- One statement for a whole batch; the ids missing from the result lost their lease.
UPDATE generations SET progress_step = %(step)s, progress_total = %(total)s, stage = %(stage)s
WHERE id = ANY(%(ids)s::text[]) AND worker_id = %(worker_id)s AND status = %(held)s
RETURNING id, cancel_requested;

-- fragment: finish
-- Finish a held job (%(finishing)s) and insert its ended event (the CTEs of finish_ended
-- and finish_claim; `ended` holds the event, none if the job was not ours). The event is
-- inserted only if the row was ours, under the events lock, shared (see the claim).
done AS (
    UPDATE generations
    SET status = %(finish_status)s, completed_at = date_part('epoch', now()),
        result_key = %(result_key)s, error_message = %(error_message)s,
        timings = %(timings)s, receipt = %(receipt)s, layer_keys = %(layer_keys)s,
        gpu_seconds = %(gpu_seconds)s, output_megapixels = %(output_megapixels)s,
        worker_id = NULL, lease_expires_at = NULL, stage = %(finish_status)s
    WHERE id = %(finishing)s AND worker_id = %(worker_id)s AND status = %(held)s
    RETURNING id, owner
), finish_lock AS MATERIALIZED (
    SELECT pg_advisory_xact_lock_shared(%(events_lock)s) FROM done
), ended AS (
    INSERT INTO events (owner, generation_id, type, data, created_at)
    SELECT done.owner, done.id, %(ended_type)s, %(ended_data)s,
           date_part('epoch', clock_timestamp())
    FROM done, finish_lock
    RETURNING id, owner
)

-- name: finish_ended
-- Finish a held job and insert its event: one statement, one round trip (no row: the job
-- was not ours).
WITH {{finish}}
SELECT id AS event_id, owner AS event_owner, 1 AS n FROM ended;

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
                     heartbeat_at, stage, stage_detail, models, swaps)
VALUES (%(id)s, %(host)s, %(pid)s, %(device)s, %(state)s, %(model)s, %(weights)s, %(error)s,
        %(started_at)s, %(heartbeat_at)s, %(stage)s, %(stage_detail)s, %(models)s, %(swaps)s)
ON CONFLICT (id) DO UPDATE
SET state = excluded.state, model = excluded.model, weights = excluded.weights,
    error = excluded.error, heartbeat_at = excluded.heartbeat_at, pid = excluded.pid,
    device = excluded.device, stage = excluded.stage, stage_detail = excluded.stage_detail,
    models = excluded.models, swaps = excluded.swaps;

-- name: record_worker_restart
-- The supervisor saw this worker process exit unexpectedly and starts another in its place.
UPDATE workers SET state = %(state)s, restarts = restarts + 1 WHERE id = %(id)s;

-- name: worker_restarts
SELECT host, SUM(restarts) AS n FROM workers GROUP BY host;

-- name: record_stage_latency
INSERT INTO stage_latency (model, stage, le, observations, seconds)
VALUES (%(model)s, %(stage)s, %(le)s, 1, %(seconds)s)
ON CONFLICT (model, stage, le) DO UPDATE
SET observations = stage_latency.observations + 1,
    seconds = stage_latency.seconds + excluded.seconds;

-- name: stage_latency
SELECT model, stage, le, observations, seconds FROM stage_latency ORDER BY model, stage;

-- name: worker_heartbeat
UPDATE workers
SET heartbeat_at = date_part('epoch', now()), state = COALESCE(%(state)s::text, state)
WHERE id = %(id)s;

-- name: report_worker_stage
-- A start-up stage with its figures (JSON); it stamps the heartbeat too.
UPDATE workers
SET stage = %(stage)s, stage_detail = %(stage_detail)s, heartbeat_at = date_part('epoch', now())
WHERE id = %(id)s;

-- name: list_workers
SELECT * FROM workers
WHERE %(fresh_within)s::float8 IS NULL
   OR heartbeat_at >= date_part('epoch', now()) - %(fresh_within)s::float8
ORDER BY started_at, id;

-- name: insert_event
-- Run only as a transaction's last step, under the events lock (shared: see postgres.py).
INSERT INTO events (owner, generation_id, type, data, created_at)
VALUES (%(owner)s, %(generation_id)s, %(type)s, %(data)s, date_part('epoch', clock_timestamp()))
RETURNING id AS event_id, owner AS event_owner;

-- name: any_queued
-- Whether a job waits (an idle worker's look after a wake-up hint; the queue index).
SELECT id FROM generations WHERE status = %(queued)s ORDER BY priority DESC, seq LIMIT 1;

-- name: notify_work
-- Idle workers on every host: an enqueue committed (sent after the commit, like the
-- event hints below).
SELECT pg_notify('editserve_work', '');

-- name: notify_events
-- Wake-up hints for event readers on any node, sent after the writes committed, in a
-- statement of their own (a NOTIFY inside a writing transaction would serialise every
-- commit on the notification queue's lock, WAL flush included).
SELECT pg_notify('editserve_events', hint) FROM unnest(%(hints)s::text[]) AS hint;

-- name: events_after
SELECT * FROM events WHERE owner = %(owner)s AND id > %(after_id)s ORDER BY id LIMIT %(limit)s;

-- name: last_event_id
SELECT COALESCE(MAX(id), 0) AS n FROM events WHERE owner = %(owner)s;

-- name: events_after_any
-- Every key's events after an id: what the API process's event hub reads (one reader).
SELECT * FROM events WHERE id > %(after_id)s ORDER BY id LIMIT %(limit)s;

-- name: last_event_id_any
SELECT COALESCE(MAX(id), 0) AS n FROM events;

-- name: claim_deliveries
-- Webhook deliveries that are due and that nobody is sending (or whose sender's lease ran
-- out), leased to this sender. SKIP LOCKED: API nodes never take each other's rows. Left
-- out: what this sender cannot start now (keys and generations it is sending to already
-- at their cap, URLs that start with a busy host's prefix: services/webhooks/pool.py).
UPDATE webhook_deliveries
SET lease_expires_at = date_part('epoch', now()) + %(lease_seconds)s
WHERE id IN (
    SELECT id FROM webhook_deliveries
    WHERE status = %(pending)s AND next_attempt_at <= date_part('epoch', now())
      AND (lease_expires_at IS NULL OR lease_expires_at < date_part('epoch', now()))
      AND owner <> ALL(%(busy_owners)s::text[])
      AND generation_id <> ALL(%(busy_generations)s::text[])
      AND NOT EXISTS (SELECT 1 FROM unnest(%(busy_prefixes)s::text[]) AS busy(prefix)
                      WHERE left(lower(url) || '/', length(busy.prefix)) = busy.prefix)
    ORDER BY next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: finish_delivery
UPDATE webhook_deliveries
SET status = %(status)s, attempts = attempts + 1, lease_expires_at = NULL,
    last_error = %(error)s, last_status_code = %(status_code)s,
    next_attempt_at = COALESCE(%(retry_at)s::float8, next_attempt_at),
    delivered_at = CASE WHEN %(delivered)s THEN date_part('epoch', now()) END
WHERE id = %(id)s;

-- name: release_deliveries
-- Claimed deliveries this sender did not send after all: due again at once, to anyone.
UPDATE webhook_deliveries SET lease_expires_at = NULL
WHERE id = ANY(%(ids)s::text[]) AND status = %(pending)s;

-- name: deliveries_of
SELECT * FROM webhook_deliveries
WHERE generation_id = ANY(%(ids)s::text[])
ORDER BY seq;

-- name: key_webhook
SELECT webhook_url, webhook_secret FROM api_keys WHERE id = %(id)s;

-- name: ensure_webhook_secret
UPDATE api_keys SET webhook_secret = %(secret)s WHERE id = %(id)s AND webhook_secret IS NULL;

-- name: set_webhook_secret
UPDATE api_keys SET webhook_secret = %(secret)s WHERE id = %(id)s;

-- name: set_key_webhook
UPDATE api_keys SET webhook_url = %(url)s WHERE id = %(id)s;

-- --- retention (store/retention.py, migration 010) ---------------------------------------

-- name: first_owner_seq
-- The number of a key's oldest generation still kept (a prune removes a key's oldest).
SELECT COALESCE(MIN(owner_seq), 1) AS n FROM generations WHERE owner = %(owner)s;

-- name: prune_lease_take
-- Take the lease, or renew it if ours; refused (no row changed) while another holds it.
INSERT INTO maintenance_leases AS l (name, holder, expires_at)
VALUES (%(name)s, %(holder)s, date_part('epoch', now()) + %(ttl)s)
ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
WHERE l.holder = EXCLUDED.holder OR l.expires_at <= date_part('epoch', now());

-- name: prune_lease_release
UPDATE maintenance_leases
SET expires_at = 0,
    last_finished_at = CASE WHEN %(finished)s::boolean THEN date_part('epoch', now())
                            ELSE last_finished_at END
WHERE name = %(name)s AND holder = %(holder)s;

-- name: prune_lease_read
SELECT holder, expires_at, last_finished_at, date_part('epoch', now()) AS now
FROM maintenance_leases WHERE name = %(name)s;

-- name: prune_owners
-- Every key that has generations: one index probe per key (generations_owner_seq).
WITH RECURSIVE keys(owner) AS (
    SELECT MIN(owner) FROM generations
    UNION ALL
    SELECT (SELECT MIN(owner) FROM generations WHERE owner > keys.owner)
    FROM keys WHERE keys.owner IS NOT NULL
)
SELECT owner FROM keys WHERE owner IS NOT NULL;

-- name: prune_owner_walk
-- A key's generations after owner_seq :after, oldest first (generations_owner_seq).
SELECT id, owner_seq, status, completed_at, enqueued_at, result_key, layer_keys, inputs
FROM generations WHERE owner = %(owner)s AND owner_seq > %(after)s
ORDER BY owner_seq LIMIT %(limit)s;

-- name: prune_delete_deliveries
DELETE FROM webhook_deliveries WHERE generation_id = ANY(%(ids)s::text[]);

-- name: prune_delete_generations
-- Only ended ones, ended before the cutoff (checked again here, in the transaction).
DELETE FROM generations
WHERE id = ANY(%(ids)s::text[])
  AND status = ANY(%(ended)s::text[])
  AND COALESCE(completed_at, enqueued_at) < %(cutoff)s
RETURNING id, result_key, layer_keys, inputs;

-- name: prune_note_blob
INSERT INTO prune_blobs (key, kind) VALUES (%(key)s, %(kind)s) ON CONFLICT (key) DO NOTHING;

-- name: prune_count
INSERT INTO pruned_totals (kind, n) VALUES (%(kind)s, %(n)s)
ON CONFLICT (kind) DO UPDATE SET n = pruned_totals.n + EXCLUDED.n;

-- name: prune_old_uploads
-- Uploads made before the cutoff, oldest first, after (:after_at, :after_id).
SELECT id, key, created_at FROM uploads
WHERE created_at < %(cutoff)s
  AND (created_at > %(after_at)s OR (created_at = %(after_at)s AND id > %(after_id)s))
ORDER BY created_at, id LIMIT %(limit)s;

-- name: prune_delete_uploads
DELETE FROM uploads
WHERE id = ANY(%(ids)s::text[]) AND created_at < %(cutoff)s
RETURNING id, key;

-- name: prune_event_walk
-- Events after id :after, oldest first, with their generation's status (NULL: none).
SELECT e.id, e.created_at, g.status
FROM events AS e LEFT JOIN generations AS g ON g.id = e.generation_id
WHERE e.id > %(after)s ORDER BY e.id LIMIT %(limit)s;

-- name: prune_delete_events
DELETE FROM events WHERE id = ANY(%(ids)s::bigint[]) AND created_at < %(cutoff)s;

-- name: prune_pending_blobs
SELECT key, kind FROM prune_blobs ORDER BY key LIMIT %(limit)s;

-- name: prune_blob_in_use
-- A blob some kept generation takes as an input, or some kept upload holds.
SELECT (EXISTS (SELECT 1 FROM input_refs WHERE key = %(key)s)
        OR EXISTS (SELECT 1 FROM uploads WHERE key = %(key)s))::int AS n;

-- name: prune_forget_blob
DELETE FROM prune_blobs WHERE key = %(key)s;

-- name: prune_key_users
-- Who uses these blobs (a dry run: what would still use them after the prune).
SELECT key, generation_id AS used_by FROM input_refs WHERE key = ANY(%(keys)s::text[])
UNION ALL
SELECT key, id AS used_by FROM uploads WHERE key = ANY(%(keys)s::text[]);

-- name: pruned_totals
SELECT kind, n FROM pruned_totals ORDER BY kind;

-- name: insert_parent
-- An edge of the lineage (migration 013): child was made from parent's result.
INSERT INTO generation_parents (child, parent, owner) VALUES (%(child)s, %(parent)s, %(owner)s)
ON CONFLICT (child, parent) DO NOTHING;

-- name: lineage_up
-- The ancestors' edges of a generation, nearest first (at most 64 generations back).
WITH RECURSIVE up (child, parent, depth) AS (
    SELECT child, parent, 1 FROM generation_parents
    WHERE child = %(id)s AND owner = %(owner)s
    UNION
    SELECT e.child, e.parent, up.depth + 1 FROM generation_parents AS e
    JOIN up ON e.child = up.parent
    WHERE up.depth < 64 AND e.owner = %(owner)s
)
SELECT child, parent, MIN(depth) AS depth FROM up GROUP BY child, parent
ORDER BY depth, parent LIMIT %(limit)s;

-- name: lineage_down
-- The descendants' edges of a generation, nearest first (at most 64 generations down).
WITH RECURSIVE down (child, parent, depth) AS (
    SELECT child, parent, 1 FROM generation_parents
    WHERE parent = %(id)s AND owner = %(owner)s
    UNION
    SELECT e.child, e.parent, down.depth + 1 FROM generation_parents AS e
    JOIN down ON e.parent = down.child
    WHERE down.depth < 64 AND e.owner = %(owner)s
)
SELECT child, parent, MIN(depth) AS depth FROM down GROUP BY child, parent
ORDER BY depth, child LIMIT %(limit)s;

-- name: generations_by_ids
SELECT * FROM generations WHERE owner = %(owner)s AND id = ANY(%(ids)s::text[]);

-- name: insert_batch
INSERT INTO batches (id, owner, status, total, priority, webhook, metadata, request_hash,
                     idempotency_key, created_at)
VALUES (%(id)s, %(owner)s, 'running', %(total)s, %(priority)s, %(webhook)s, %(metadata)s,
        %(request_hash)s, %(idempotency_key)s, %(created_at)s);

-- name: get_batch
SELECT * FROM batches WHERE id = %(id)s AND owner = %(owner)s;

-- name: batch_by_id
SELECT * FROM batches WHERE id = %(id)s;

-- name: batch_by_idempotency_key
SELECT * FROM batches WHERE owner = %(owner)s AND idempotency_key = %(key)s;

-- name: list_batches
-- A key's batches, newest first, before the (created_at, id) given (keyset pages).
SELECT * FROM batches
WHERE owner = %(owner)s
  AND (created_at < %(before_at)s OR (created_at = %(before_at)s AND id < %(before_id)s))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- name: batch_items
-- A page of a batch's items in order, after the item given (the manifest, the zip).
SELECT * FROM generations
WHERE batch_ref = %(batch_ref)s AND batch_item > %(after)s
ORDER BY batch_item
LIMIT %(limit)s;

-- name: owner_batch_backlog
-- A key's batch items not ended yet, over its running batches (their counters: no scan).
SELECT COALESCE(SUM(total - succeeded - failed - cancelled), 0) AS n FROM batches
WHERE owner = %(owner)s AND status = 'running';

-- name: flag_batch_cancel
UPDATE batches SET cancel_requested = true
WHERE id = %(id)s AND owner = %(owner)s AND status = 'running';

-- name: cancel_batch_queued
-- Cancel what of a batch has not started (no event per item: the batch's own event says it).
UPDATE generations
SET status = %(cancelled)s, completed_at = date_part('epoch', now()),
    cancel_requested = true, stage = %(cancelled)s
WHERE batch_ref = %(id)s AND status = %(queued)s;
