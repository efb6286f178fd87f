-- editserve schema v13: edit lineage (issue 22). A generation whose input is one of our own
-- result links (its stored input names the output blob it came from: inputs[].source)
-- has that result's generation as a parent. One row per edge, written with the child's
-- insert; kept when retention prunes either end, so a pruned middle shows as "pruned".
CREATE TABLE generation_parents (
    child   TEXT NOT NULL,
    parent  TEXT NOT NULL,
    owner   TEXT NOT NULL,
    PRIMARY KEY (child, parent)
);
CREATE INDEX generation_parents_parent ON generation_parents (parent, child);
