-- editserve schema v3 (PostgreSQL): a worker reports where its start-up is, with figures, so
-- /readyz, the model cards, `editserve status` and the workbench can show it on any node.
-- stage: starting | downloading | loading | applying_options | warming_up | ready | failed
-- stage_detail: JSON figures of the stage (bytes done/total, component k of n, the reason).

ALTER TABLE workers ADD COLUMN stage TEXT;
ALTER TABLE workers ADD COLUMN stage_detail TEXT;
