-- editserve schema v2 (PostgreSQL): the whole queue in claim order, for queue positions
-- (counted over every model) and for claims over several models, which the per-model
-- generations_claim index cannot serve in one ordered scan. A partial index: its WHERE
-- holds a status literal (an index definition cannot take parameters).

CREATE INDEX generations_queue ON generations (priority DESC, seq) WHERE status = 'queued';
