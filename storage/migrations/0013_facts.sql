-- The facts analytics reads (package stats): one row per task and one per
-- document, written in the transaction of the change from the document
-- the engine saved, so the figures agree with the sheets. Times are Unix
-- nanoseconds, as everywhere; work_min, approved_min and done_min are
-- working minutes of the company calendar, measured when written, so that
-- a year of figures is aggregated in SQL (DB.Facts). Rows of documents
-- made before this migration are written by DB.BackfillFacts.
CREATE TABLE task_facts (
    id        INTEGER PRIMARY KEY,
    doc_id    INTEGER NOT NULL,
    type      TEXT    NOT NULL,
    stage     INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    holder    TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    round     INTEGER NOT NULL,
    opened_at INTEGER NOT NULL,
    due_at    INTEGER,
    closed_at INTEGER,
    state     TEXT    NOT NULL,
    reason    TEXT    NOT NULL DEFAULT '',
    work_min  INTEGER,
    late      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX task_facts_closed ON task_facts(closed_at);
CREATE INDEX task_facts_open ON task_facts(opened_at) WHERE state = 'open';
CREATE TABLE doc_facts (
    doc_id      INTEGER PRIMARY KEY,
    type        TEXT    NOT NULL,
    initiator   TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    approved_at INTEGER,
    done_at     INTEGER,
    rounds      INTEGER NOT NULL,
    rejected    INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    approved_min INTEGER,
    done_min    INTEGER
);
CREATE INDEX doc_facts_started ON doc_facts(started_at);
