-- The first outcome of each inbound key, in columns instead of JSON: the
-- rows are less than half as long, so the table's pages fill — and split,
-- rewriting three or four pages at once — half as often. Every command with
-- a key adds a row here.
CREATE TABLE inbound_keys (
    key     TEXT    PRIMARY KEY,
    doc_id  INTEGER NOT NULL DEFAULT 0,
    number  TEXT    NOT NULL DEFAULT '',
    state   TEXT    NOT NULL DEFAULT '',
    task_id INTEGER NOT NULL DEFAULT 0,
    round   INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 0,
    at      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO inbound_keys(key, doc_id, number, state, task_id, round, version, at)
    SELECT key,
        COALESCE(json_extract(outcome, '$.doc_id'), 0),
        COALESCE(json_extract(outcome, '$.number'), ''),
        COALESCE(json_extract(outcome, '$.state'), ''),
        COALESCE(json_extract(outcome, '$.task_id'), 0),
        COALESCE(json_extract(outcome, '$.round'), 0),
        COALESCE(json_extract(outcome, '$.version'), 0),
        at
    FROM inbound;
DROP TABLE inbound;
ALTER TABLE inbound_keys RENAME TO inbound;
