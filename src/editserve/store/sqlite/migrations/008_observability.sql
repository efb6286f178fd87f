-- editserve schema v8 (SQLite): observability and faults (issue 12).
-- restarts: 1 once the supervisor saw this worker process exit unexpectedly (a crash, or
-- its watchdog: no step progress for EDITSERVE_STEP_TIMEOUT_SECONDS) and started another
-- in its place; /metrics sums them (editserve_worker_restarts_total).
-- stage_latency: histograms of the stage timings of succeeded generations.

ALTER TABLE workers ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;

-- Stage latency histograms (migration 008): one row per model, stage (a key of a
-- generation's timings: queue_wait, input_decode, denoise, ..., total) and bucket (its
-- upper bound, the Prometheus `le`); each succeeded generation adds 1 to one bucket per
-- stage. /metrics makes the buckets cumulative.
CREATE TABLE stage_latency (
    model         TEXT NOT NULL,
    stage         TEXT NOT NULL,
    le            TEXT NOT NULL,
    observations  BIGINT NOT NULL DEFAULT 0,
    seconds       REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (model, stage, le)
);
