-- The SQLite store's statements, one per "-- name:" block (run by store/sqlite/store.py).
--
-- The same names as postgres/queries.sql, with the same parameters; tests/contract checks
-- the two files define the same set, but for the hot path: here claim_next, claim_siblings
-- and finish run in one BEGIN IMMEDIATE transaction with the events core writes; on
-- PostgreSQL claim_started and finish_ended are one statement each, events included.
-- Parameters are sqlite3's :name placeholders. Lists
-- (models, ids, statuses) arrive as JSON arrays, read with json_each. :now is supplied by
-- the dialect to every statement (unix seconds, this host's clock: one machine). Statuses
-- and stages are parameters too: the state machine lives in store/core.py, not here;
-- :queued and :held become literals when the file is read (store/dialect.py).

-- name: create_schema_migrations
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at REAL NOT NULL
);

-- name: applied_migrations
SELECT version FROM schema_migrations ORDER BY version;

-- name: record_migration
INSERT INTO schema_migrations (version, applied_at) VALUES (:version, :now);

-- name: insert_key
INSERT INTO api_keys (id, name, prefix, key_hash, created_at, webhook_secret, webhook_url,
                      scopes, weight, max_running, gpu_seconds_per_day)
VALUES (:id, :name, :prefix, :key_hash, :created_at, :webhook_secret, :webhook_url,
        :scopes, :weight, :max_running, :gpu_seconds_per_day);

-- name: get_key
SELECT * FROM api_keys WHERE id = :id;

-- name: update_key
UPDATE api_keys
SET name = CASE WHEN :set_name THEN :name ELSE name END,
    scopes = CASE WHEN :set_scopes THEN :scopes ELSE scopes END,
    weight = CASE WHEN :set_weight THEN :weight ELSE weight END,
    max_running = CASE WHEN :set_max_running THEN :max_running ELSE max_running END,
    gpu_seconds_per_day = CASE WHEN :set_gpu_seconds_per_day THEN :gpu_seconds_per_day
                               ELSE gpu_seconds_per_day END,
    webhook_url = CASE WHEN :set_webhook_url THEN :webhook_url ELSE webhook_url END
WHERE id = :id AND revoked_at IS NULL
RETURNING *;

-- name: lock_keys
-- Nothing to take: BEGIN IMMEDIATE already holds the one write lock.
SELECT 1 AS locked;

-- name: count_active_admins
SELECT COUNT(*) AS n FROM api_keys
WHERE revoked_at IS NULL AND instr(scopes, 'admin') > 0 AND id <> :id;

-- name: insert_audit
INSERT INTO key_audit (at, actor, action, key_id, detail)
VALUES (:now, :actor, :action, :key_id, :detail);

-- name: audit_log
SELECT * FROM key_audit
WHERE (:key_id IS NULL OR key_id = :key_id) AND seq < :before
ORDER BY seq DESC
LIMIT :limit;

-- name: usage_hours
SELECT owner, model, hour, SUM(generations) AS generations, SUM(succeeded) AS succeeded,
       SUM(gpu_seconds) AS gpu_seconds, SUM(output_megapixels) AS output_megapixels
FROM usage_hours
WHERE (:owner IS NULL OR owner = :owner) AND hour >= :from_hour AND hour < :to_hour
GROUP BY owner, model, hour
ORDER BY hour, owner, model;

-- name: usage_totals
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
            WHERE status = :queued AND priority = :priority
            ORDER BY vtag LIMIT 1),
           (SELECT MAX(vtag) FROM generations
            WHERE status = :held AND priority = :priority),
           (SELECT vtag FROM generations ORDER BY seq DESC LIMIT 1),
           0) AS clock,
       (SELECT vtag + fair_cost FROM generations
        WHERE owner = :owner AND priority = :priority
          AND status IN (:queued, :held)
        ORDER BY seq DESC LIMIT 1) AS owner_finish,
       (SELECT weight FROM api_keys WHERE id = :owner) AS weight;

-- name: key_by_hash
SELECT * FROM api_keys WHERE key_hash = :key_hash AND revoked_at IS NULL;

-- name: list_keys
SELECT * FROM api_keys ORDER BY created_at, id;

-- name: revoke_key
UPDATE api_keys SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL;

-- name: count_active_keys
SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL;

-- name: cluster_facts
-- The cluster record (migration 009, store/cluster.py).
SELECT name, value, recorded_at, recorded_by FROM cluster ORDER BY name;

-- name: insert_cluster_fact
-- Insert-if-absent: the first value written stays.
INSERT INTO cluster (name, value, recorded_at, recorded_by) VALUES (:name, :value, :now, :by)
ON CONFLICT (name) DO NOTHING;

-- name: set_cluster_fact
INSERT INTO cluster (name, value, recorded_at, recorded_by) VALUES (:name, :value, :now, :by)
ON CONFLICT (name) DO UPDATE SET value = excluded.value, recorded_at = excluded.recorded_at,
                                 recorded_by = excluded.recorded_by;

-- name: lock_cluster
-- Nothing to take: the caller's BEGIN IMMEDIATE already excludes every other writer.
SELECT :lock AS locked;

-- name: insert_upload
INSERT INTO uploads (id, owner, key, sha256, content_type, format, width, height, size,
                     created_at)
VALUES (:id, :owner, :key, :sha256, :content_type, :format, :width, :height, :size,
        :created_at);

-- name: get_upload
SELECT * FROM uploads WHERE id = :id AND owner = :owner;

-- name: upload_owner
SELECT owner FROM uploads WHERE id = :id;

-- name: owner_output
-- Blob ownership (store/links.py): an output by its generation id (the id index): its
-- result, or one of its layers (migration 011).
SELECT 1 AS found FROM generations
WHERE id = :id AND owner = :owner
  AND (result_key = :key OR EXISTS (SELECT 1 FROM json_each(layer_keys) WHERE value = :key));

-- name: owner_input
-- An input the owner uploaded, or that one of the owner's generations was edited with
-- (input_refs, kept by a trigger, makes both halves index lookups).
SELECT (EXISTS (SELECT 1 FROM uploads WHERE owner = :owner AND key = :key)
        OR EXISTS (SELECT 1 FROM input_refs AS r JOIN generations AS g ON g.id = r.generation_id
                   WHERE r.key = :key AND g.owner = :owner)) AS found;

-- name: output_owner_revoked
-- Signed links die with their key (store/links.py): an output whose generation's key is
-- revoked (the id index, then the key's primary key).
SELECT 1 AS found FROM generations AS g JOIN api_keys AS k ON k.id = g.owner
WHERE g.id = :id AND k.revoked_at IS NOT NULL
  AND (g.result_key = :key
       OR EXISTS (SELECT 1 FROM json_each(g.layer_keys) WHERE value = :key));

-- name: input_owners_revoked
-- An input whose every owner (who uploaded it, or edited with it) is a revoked key. An
-- input whose owners are unknown is not revoked (it goes when a prune deletes it).
SELECT ((EXISTS (SELECT 1 FROM uploads AS u JOIN api_keys AS k ON k.id = u.owner
                 WHERE u.key = :key AND k.revoked_at IS NOT NULL)
         OR EXISTS (SELECT 1 FROM input_refs AS r JOIN generations AS g ON g.id = r.generation_id
                    JOIN api_keys AS k ON k.id = g.owner
                    WHERE r.key = :key AND k.revoked_at IS NOT NULL))
        AND NOT EXISTS (SELECT 1 FROM uploads AS u LEFT JOIN api_keys AS k ON k.id = u.owner
                        WHERE u.key = :key AND k.revoked_at IS NULL)
        AND NOT EXISTS (SELECT 1 FROM input_refs AS r
                        JOIN generations AS g ON g.id = r.generation_id
                        LEFT JOIN api_keys AS k ON k.id = g.owner
                        WHERE r.key = :key AND k.revoked_at IS NULL)) AS revoked;

-- name: insert_generation
-- owner_seq NULL: the numbering trigger gives the key's next number; a batch gives its
-- items' numbers itself (store/core.py insert_batch, under the same per-key lock).
INSERT INTO generations (id, owner, model, status, params, inputs, batch_id, batch_index,
                         priority, seed, width, height, area, target_namespace,
                         idempotency_key, request_hash, enqueued_at, webhook,
                         webhook_events, vtag, fair_cost, batch_ref,
                         batch_item, custom_id, owner_seq)
VALUES (:id, :owner, :model, :status, :params, :inputs, :batch_id, :batch_index, :priority,
        :seed, :width, :height, :area, :target_namespace, :idempotency_key, :request_hash,
        :enqueued_at, :webhook, :webhook_events, :vtag, :fair_cost, :batch_ref,
        :batch_item, :custom_id, :owner_seq);

-- name: lock_owner_enqueue
-- Nothing to take: the enqueue runs in BEGIN IMMEDIATE, which already holds the database's
-- one write lock, so the count below and the insert after it are atomic.
SELECT :owner AS owner;

-- name: count_owner_active
SELECT COUNT(*) AS n FROM generations
WHERE owner = :owner AND status IN (:queued, :held) AND batch_ref IS NULL;

-- name: get_generation
SELECT * FROM generations WHERE id = :id AND (:owner IS NULL OR owner = :owner);

-- name: get_generation_for_update
-- No row locks on SQLite: the caller's BEGIN IMMEDIATE already excludes other writers.
SELECT * FROM generations WHERE id = :id AND owner = :owner;

-- name: count_status
-- A key's generations of one active status (few: the per-key queue limit bounds them).
SELECT COUNT(*) AS n FROM generations
WHERE owner = :owner AND status = :status AND (:model IS NULL OR model = :model);

-- name: count_ended
-- A key's ended generations of the given statuses, from the counters (no scan).
SELECT COALESCE(SUM(n), 0) AS n FROM generation_counts
WHERE owner = :owner AND status IN (SELECT value FROM json_each(:statuses))
  AND (:model IS NULL OR model = :model);
-- name: last_owner_seq
-- The number of a key's newest generation (1, 2, 3... per key: see migration 004).
SELECT COALESCE(MAX(owner_seq), 0) AS n FROM generations WHERE owner = :owner;

-- name: list_owner_range
-- One history page by number: a range of owner_seq, newest first.
SELECT * FROM generations
WHERE owner = :owner AND owner_seq > :low AND owner_seq <= :high
ORDER BY owner_seq DESC;

-- name: list_model_newest
SELECT * FROM generations WHERE owner = :owner AND model = :model
ORDER BY owner_seq DESC LIMIT :limit OFFSET :offset;

-- name: list_model_oldest
SELECT * FROM generations WHERE owner = :owner AND model = :model
ORDER BY owner_seq ASC LIMIT :limit OFFSET :offset;

-- name: list_status_newest
-- A key's generations of one status, by queue order (generations_owner_status).
SELECT * FROM generations
WHERE owner = :owner AND status = :status AND (:model IS NULL OR model = :model)
ORDER BY seq DESC LIMIT :limit OFFSET :offset;
-- name: list_status_oldest
SELECT * FROM generations
WHERE owner = :owner AND status = :status AND (:model IS NULL OR model = :model)
ORDER BY seq ASC LIMIT :limit OFFSET :offset;
-- name: by_idempotency_key
SELECT * FROM generations WHERE owner = :owner AND idempotency_key = :key ORDER BY seq;

-- name: queue_position
SELECT COUNT(*) AS n FROM generations
WHERE status = :queued
  AND (priority, -vtag, -seq) > (SELECT :priority, -vtag, -seq FROM generations
                                 WHERE id = :id);

-- name: recent_run_seconds
SELECT AVG(completed_at - started_at) AS seconds FROM (
    SELECT completed_at, started_at FROM generations
    WHERE model = :model AND status = :succeeded AND started_at IS NOT NULL
    ORDER BY seq DESC LIMIT :limit
);

-- name: recent_step_seconds
-- Wall seconds per denoising step of one output megapixel, over the last succeeded runs of
-- a model that reported their steps (progress_total): ETAs that follow a request's work.
SELECT SUM(completed_at - started_at)
       / SUM(progress_total * width * height / 1000000.0) AS seconds FROM (
    SELECT completed_at, started_at, progress_total, width, height FROM generations
    WHERE model = :model AND status = :succeeded AND started_at IS NOT NULL
      AND progress_total > 0
    ORDER BY seq DESC LIMIT :limit
);

-- name: ended_counts
-- Ended generations per (model, status) over every key, from the counters (for /metrics).
SELECT model, status, SUM(n) AS n FROM generation_counts GROUP BY model, status;

-- name: status_counts_by_model
-- Generations of one active status per model (the partial index of that status).
SELECT model, COUNT(*) AS n FROM generations WHERE status = :status GROUP BY model;
-- name: flag_cancel
UPDATE generations SET cancel_requested = 1 WHERE id = :id;

-- name: is_cancel_requested
SELECT cancel_requested FROM generations WHERE id = :id;

-- name: end_unheld
-- A generation no live worker holds reaches a terminal status (a queued cancel, a reap).
UPDATE generations
SET status = :status, completed_at = :now, error_message = :error_message,
    cancel_requested = :cancel_requested, worker_id = NULL, lease_expires_at = NULL
WHERE id = :id;

-- name: expired_to_reap
-- Expired leases that must not run again: a cancel was asked, or no attempts are left.
SELECT * FROM generations
WHERE status = :held AND lease_expires_at < :now
  AND (cancel_requested = 1 OR attempts >= :max_attempts)
ORDER BY seq;

-- name: any_queued
-- Whether a job waits (an idle worker's look after a wake-up hint; the queue index).
SELECT id FROM generations WHERE status = :queued ORDER BY priority DESC, seq LIMIT 1;

-- name: claim_next
-- The claim: one UPDATE … RETURNING, serialised with every other writer by BEGIN IMMEDIATE.
-- The first queued job and the first expired lease that may run again (attempts left, no
-- cancel asked: the reaper ends the others), of any of :models and of the :loaded model
-- (NULL: none), each one ordered index step. The highest priority wins; at equal priority
-- the loaded model's job, unless another model's job was enqueued at or before
-- :starved_before (NULL: none starves); then the earlier.
UPDATE generations
SET status = :held, worker_id = :worker_id, lease_expires_at = :now + :lease_seconds,
    attempts = attempts + 1, started_at = COALESCE(started_at, :now),
    progress_step = NULL, progress_total = NULL, stage = :stage
WHERE id = (
    SELECT id FROM (
        SELECT * FROM (
            SELECT id, priority, vtag, seq, model, enqueued_at FROM generations
            WHERE status = :queued AND model IN (SELECT value FROM json_each(:models))
            ORDER BY priority DESC, vtag, seq LIMIT 1
        )
        UNION ALL
        SELECT * FROM (
            SELECT id, priority, vtag, seq, model, enqueued_at FROM generations
            WHERE status = :held AND lease_expires_at < :now
              AND model IN (SELECT value FROM json_each(:models))
              AND attempts < :max_attempts AND cancel_requested = 0
            ORDER BY priority DESC, seq LIMIT 1
        )
        UNION ALL
        SELECT * FROM (
            SELECT id, priority, vtag, seq, model, enqueued_at FROM generations
            WHERE status = :queued AND model = :loaded
              AND model IN (SELECT value FROM json_each(:models))
            ORDER BY priority DESC, vtag, seq LIMIT 1
        )
        UNION ALL
        SELECT * FROM (
            SELECT id, priority, vtag, seq, model, enqueued_at FROM generations
            WHERE status = :held AND lease_expires_at < :now AND model = :loaded
              AND model IN (SELECT value FROM json_each(:models))
              AND attempts < :max_attempts AND cancel_requested = 0
            ORDER BY priority DESC, seq LIMIT 1
        )
    )
    ORDER BY priority DESC,
             CASE WHEN model = :loaded THEN 1 WHEN enqueued_at <= :starved_before THEN 0
                  ELSE 2 END,
             vtag, seq
    LIMIT 1
)
RETURNING *;
-- name: claim_siblings
-- Queued siblings of a claimed job's enqueue request, to run in the same pipeline call.
UPDATE generations
SET status = :held, worker_id = :worker_id, lease_expires_at = :now + :lease_seconds,
    attempts = attempts + 1, started_at = COALESCE(started_at, :now),
    progress_step = NULL, progress_total = NULL, stage = :stage
WHERE id IN (
    SELECT id FROM generations
    WHERE batch_id = :batch_id AND status = :queued AND id <> :id
    ORDER BY seq
    LIMIT :limit
)
RETURNING *;

-- name: renew_lease
UPDATE generations SET lease_expires_at = :now + :lease_seconds
WHERE id = :id AND worker_id = :worker_id AND status = :held;

-- name: report_progress
-- One statement for a whole batch; the ids missing from the result lost their lease.
UPDATE generations SET progress_step = :step, progress_total = :total, stage = :stage
WHERE id IN (SELECT value FROM json_each(:ids))
  AND worker_id = :worker_id AND status = :held
RETURNING id, cancel_requested;

-- name: finish
UPDATE generations
SET status = :status, completed_at = :now, result_key = :result_key,
    error_message = :error_message, timings = :timings, receipt = :receipt,
    layer_keys = :layer_keys, gpu_seconds = :gpu_seconds,
    output_megapixels = :output_megapixels, worker_id = NULL, lease_expires_at = NULL, stage = :status
WHERE id = :id AND worker_id = :worker_id AND status = :held;

-- name: requeue
-- The worker is shutting down: the attempt does not count.
UPDATE generations
SET status = :queued, worker_id = NULL, lease_expires_at = NULL,
    attempts = MAX(attempts - 1, 0), progress_step = NULL, progress_total = NULL,
    stage = NULL
WHERE id = :id AND worker_id = :worker_id AND status = :held;

-- name: release_worker_leases
UPDATE generations SET lease_expires_at = 0 WHERE worker_id = :worker_id AND status = :held;

-- name: upsert_worker
INSERT INTO workers (id, host, pid, device, state, model, weights, error, started_at,
                     heartbeat_at, stage, stage_detail, models, swaps)
VALUES (:id, :host, :pid, :device, :state, :model, :weights, :error, :started_at,
        :heartbeat_at, :stage, :stage_detail, :models, :swaps)
ON CONFLICT (id) DO UPDATE
SET state = excluded.state, model = excluded.model, weights = excluded.weights,
    error = excluded.error, heartbeat_at = excluded.heartbeat_at, pid = excluded.pid,
    device = excluded.device, stage = excluded.stage, stage_detail = excluded.stage_detail,
    models = excluded.models, swaps = excluded.swaps;

-- name: record_worker_restart
-- The supervisor saw this worker process exit unexpectedly and starts another in its place.
UPDATE workers SET state = :state, restarts = restarts + 1 WHERE id = :id;

-- name: worker_restarts
SELECT host, SUM(restarts) AS n FROM workers GROUP BY host;

-- name: record_stage_latency
INSERT INTO stage_latency (model, stage, le, observations, seconds)
VALUES (:model, :stage, :le, 1, :seconds)
ON CONFLICT (model, stage, le) DO UPDATE
SET observations = stage_latency.observations + 1,
    seconds = stage_latency.seconds + excluded.seconds;

-- name: stage_latency
SELECT model, stage, le, observations, seconds FROM stage_latency ORDER BY model, stage;

-- name: worker_heartbeat
UPDATE workers SET heartbeat_at = :now, state = COALESCE(:state, state) WHERE id = :id;

-- name: report_worker_stage
-- A start-up stage with its figures (JSON); it stamps the heartbeat too.
UPDATE workers SET stage = :stage, stage_detail = :stage_detail, heartbeat_at = :now
WHERE id = :id;

-- name: list_workers
SELECT * FROM workers
WHERE :fresh_within IS NULL OR heartbeat_at >= :now - :fresh_within
ORDER BY started_at, id;

-- name: insert_event
-- Writers are serialised by BEGIN IMMEDIATE, so ids become visible in id order.
INSERT INTO events (owner, generation_id, type, data, created_at)
VALUES (:owner, :generation_id, :type, :data, :now);

-- name: events_after
SELECT * FROM events WHERE owner = :owner AND id > :after_id ORDER BY id LIMIT :limit;

-- name: last_event_id
SELECT COALESCE(MAX(id), 0) AS n FROM events WHERE owner = :owner;

-- name: events_after_any
-- Every key's events after an id: what the API process's event hub reads (one reader).
SELECT * FROM events WHERE id > :after_id ORDER BY id LIMIT :limit;

-- name: last_event_id_any
SELECT COALESCE(MAX(id), 0) AS n FROM events;

-- name: claim_deliveries
-- Webhook deliveries that are due and that nobody is sending (or whose sender's lease ran
-- out), leased to this sender (one writer at a time on SQLite). Left out: what this sender
-- cannot start now (see postgres/queries.sql).
UPDATE webhook_deliveries
SET lease_expires_at = :now + :lease_seconds
WHERE id IN (
    SELECT id FROM webhook_deliveries
    WHERE status = :pending AND next_attempt_at <= :now
      AND (lease_expires_at IS NULL OR lease_expires_at < :now)
      AND owner NOT IN (SELECT value FROM json_each(:busy_owners))
      AND generation_id NOT IN (SELECT value FROM json_each(:busy_generations))
      AND NOT EXISTS (SELECT 1 FROM json_each(:busy_prefixes) AS busy
                      WHERE substr(lower(url) || '/', 1, length(busy.value)) = busy.value)
    ORDER BY next_attempt_at
    LIMIT :limit
)
RETURNING *;

-- name: finish_delivery
UPDATE webhook_deliveries
SET status = :status, attempts = attempts + 1, lease_expires_at = NULL,
    last_error = :error, last_status_code = :status_code,
    next_attempt_at = COALESCE(:retry_at, next_attempt_at),
    delivered_at = CASE WHEN :delivered THEN :now END
WHERE id = :id;

-- name: release_deliveries
-- Claimed deliveries this sender did not send after all: due again at once, to anyone.
UPDATE webhook_deliveries SET lease_expires_at = NULL
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = :pending;

-- name: deliveries_of
SELECT * FROM webhook_deliveries
WHERE generation_id IN (SELECT value FROM json_each(:ids))
ORDER BY seq;

-- name: key_webhook
SELECT webhook_url, webhook_secret FROM api_keys WHERE id = :id;

-- name: ensure_webhook_secret
UPDATE api_keys SET webhook_secret = :secret WHERE id = :id AND webhook_secret IS NULL;

-- name: set_webhook_secret
UPDATE api_keys SET webhook_secret = :secret WHERE id = :id;

-- name: set_key_webhook
UPDATE api_keys SET webhook_url = :url WHERE id = :id;

-- --- retention (store/retention.py, migration 010) ---------------------------------------

-- name: first_owner_seq
-- The number of a key's oldest generation still kept (a prune removes a key's oldest).
SELECT COALESCE(MIN(owner_seq), 1) AS n FROM generations WHERE owner = :owner;

-- name: prune_lease_take
-- Take the lease, or renew it if ours; refused (no row changed) while another holds it.
INSERT INTO maintenance_leases (name, holder, expires_at) VALUES (:name, :holder, :now + :ttl)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE maintenance_leases.holder = excluded.holder OR maintenance_leases.expires_at <= :now;

-- name: prune_lease_release
UPDATE maintenance_leases
SET expires_at = 0,
    last_finished_at = CASE WHEN :finished THEN :now ELSE last_finished_at END
WHERE name = :name AND holder = :holder;

-- name: prune_lease_read
SELECT holder, expires_at, last_finished_at, :now AS now FROM maintenance_leases
WHERE name = :name;

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
FROM generations WHERE owner = :owner AND owner_seq > :after
ORDER BY owner_seq LIMIT :limit;

-- name: prune_delete_deliveries
DELETE FROM webhook_deliveries WHERE generation_id IN (SELECT value FROM json_each(:ids));

-- name: prune_delete_generations
-- Only ended ones, ended before the cutoff (checked again here, in the transaction).
DELETE FROM generations
WHERE id IN (SELECT value FROM json_each(:ids))
  AND status IN (SELECT value FROM json_each(:ended))
  AND COALESCE(completed_at, enqueued_at) < :cutoff
RETURNING id, result_key, layer_keys, inputs;

-- name: prune_note_blob
INSERT INTO prune_blobs (key, kind) VALUES (:key, :kind) ON CONFLICT (key) DO NOTHING;

-- name: prune_count
INSERT INTO pruned_totals (kind, n) VALUES (:kind, :n)
ON CONFLICT (kind) DO UPDATE SET n = pruned_totals.n + excluded.n;

-- name: prune_old_uploads
-- Uploads made before the cutoff, oldest first, after (:after_at, :after_id).
SELECT id, key, created_at FROM uploads
WHERE created_at < :cutoff
  AND (created_at > :after_at OR (created_at = :after_at AND id > :after_id))
ORDER BY created_at, id LIMIT :limit;

-- name: prune_delete_uploads
DELETE FROM uploads
WHERE id IN (SELECT value FROM json_each(:ids)) AND created_at < :cutoff
RETURNING id, key;

-- name: prune_event_walk
-- Events after id :after, oldest first, with their generation's status (NULL: none).
SELECT e.id, e.created_at, g.status
FROM events AS e LEFT JOIN generations AS g ON g.id = e.generation_id
WHERE e.id > :after ORDER BY e.id LIMIT :limit;

-- name: prune_delete_events
DELETE FROM events WHERE id IN (SELECT value FROM json_each(:ids)) AND created_at < :cutoff;

-- name: prune_pending_blobs
SELECT key, kind FROM prune_blobs ORDER BY key LIMIT :limit;

-- name: prune_blob_in_use
-- A blob some kept generation takes as an input, or some kept upload holds.
SELECT (EXISTS (SELECT 1 FROM input_refs WHERE key = :key)
        OR EXISTS (SELECT 1 FROM uploads WHERE key = :key)) AS n;

-- name: prune_forget_blob
DELETE FROM prune_blobs WHERE key = :key;

-- name: prune_key_users
-- Who uses these blobs (a dry run: what would still use them after the prune).
SELECT key, generation_id AS used_by FROM input_refs
WHERE key IN (SELECT value FROM json_each(:keys))
UNION ALL
SELECT key, id AS used_by FROM uploads WHERE key IN (SELECT value FROM json_each(:keys));

-- name: pruned_totals
SELECT kind, n FROM pruned_totals ORDER BY kind;

-- name: insert_parent
-- An edge of the lineage (migration 013): child was made from parent's result.
INSERT INTO generation_parents (child, parent, owner) VALUES (:child, :parent, :owner)
ON CONFLICT (child, parent) DO NOTHING;

-- name: lineage_up
-- The ancestors' edges of a generation, nearest first (at most 64 generations back).
WITH RECURSIVE up (child, parent, depth) AS (
    SELECT child, parent, 1 FROM generation_parents
    WHERE child = :id AND owner = :owner
    UNION
    SELECT e.child, e.parent, up.depth + 1 FROM generation_parents AS e
    JOIN up ON e.child = up.parent
    WHERE up.depth < 64 AND e.owner = :owner
)
SELECT child, parent, MIN(depth) AS depth FROM up GROUP BY child, parent
ORDER BY depth, parent LIMIT :limit;

-- name: lineage_down
-- The descendants' edges of a generation, nearest first (at most 64 generations down).
WITH RECURSIVE down (child, parent, depth) AS (
    SELECT child, parent, 1 FROM generation_parents
    WHERE parent = :id AND owner = :owner
    UNION
    SELECT e.child, e.parent, down.depth + 1 FROM generation_parents AS e
    JOIN down ON e.parent = down.child
    WHERE down.depth < 64 AND e.owner = :owner
)
SELECT child, parent, MIN(depth) AS depth FROM down GROUP BY child, parent
ORDER BY depth, child LIMIT :limit;

-- name: generations_by_ids
SELECT * FROM generations WHERE owner = :owner AND id IN (SELECT value FROM json_each(:ids));

-- name: insert_batch
INSERT INTO batches (id, owner, status, total, priority, webhook, metadata, request_hash,
                     idempotency_key, created_at)
VALUES (:id, :owner, 'running', :total, :priority, :webhook, :metadata,
        :request_hash, :idempotency_key, :created_at);

-- name: get_batch
SELECT * FROM batches WHERE id = :id AND owner = :owner;

-- name: batch_by_id
SELECT * FROM batches WHERE id = :id;

-- name: batch_by_idempotency_key
SELECT * FROM batches WHERE owner = :owner AND idempotency_key = :key;

-- name: list_batches
-- A key's batches, newest first, before the (created_at, id) given (keyset pages).
SELECT * FROM batches
WHERE owner = :owner
  AND (created_at < :before_at OR (created_at = :before_at AND id < :before_id))
ORDER BY created_at DESC, id DESC
LIMIT :limit;

-- name: batch_items
-- A page of a batch's items in order, after the item given (the manifest, the zip).
SELECT * FROM generations
WHERE batch_ref = :batch_ref AND batch_item > :after
ORDER BY batch_item
LIMIT :limit;

-- name: owner_batch_backlog
-- A key's batch items not ended yet, over its running batches (their counters: no scan).
SELECT COALESCE(SUM(total - succeeded - failed - cancelled), 0) AS n FROM batches
WHERE owner = :owner AND status = 'running';

-- name: flag_batch_cancel
UPDATE batches SET cancel_requested = 1
WHERE id = :id AND owner = :owner AND status = 'running';

-- name: cancel_batch_queued
-- Cancel what of a batch has not started (no event per item: the batch's own event says it).
UPDATE generations
SET status = :cancelled, completed_at = :now,
    cancel_requested = 1, stage = :cancelled
WHERE batch_ref = :id AND status = :queued;
