-- editserve schema v6 (SQLite): one server, several models. A worker serves a list of
-- models and holds one in memory at a time (workers.model), swapping on demand.
-- models: JSON list of the model ids the worker serves (its EDITSERVE_MODELS).
-- swaps: how many times the worker unloaded one model to load another (for /metrics).

ALTER TABLE workers ADD COLUMN models TEXT;
ALTER TABLE workers ADD COLUMN swaps INTEGER NOT NULL DEFAULT 0;
