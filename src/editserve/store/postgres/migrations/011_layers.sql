-- editserve schema v11 (PostgreSQL): several outputs per generation (a layered model).
-- layer_keys: a JSON array of the generation's output blob keys, in order (result_key is
-- the first of them); NULL for a generation with one output. Signed links and prunes read
-- it as they read result_key.

ALTER TABLE generations ADD COLUMN layer_keys TEXT;
