-- editserve schema v9 (PostgreSQL): the cluster record (issue 10, `editserve migrate`).
-- One row per fact every node of the cluster shares, written once (insert-if-absent, so
-- the first node or `editserve migrate` wins) and read at each node's start:
--   cluster_id         the cluster's id; its recorded_at is when the cluster was created
--   signing_secret     the URL-signing secret (when EDITSERVE_SIGNING_SECRET is not set)
--   first_key          the id of the first API key and, in recorded_by, the node holding it
--   setting.<name>     a setting every node must agree on (output area, preview area, ...)
CREATE TABLE cluster (
    name         TEXT PRIMARY KEY,
    value        TEXT NOT NULL,
    recorded_at  DOUBLE PRECISION NOT NULL,
    recorded_by  TEXT NOT NULL              -- the node: host:data_dir
);
